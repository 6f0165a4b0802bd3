//! argon2id password hashing on a small pool of its own threads.
//!
//! Each hash takes 19 MiB and tens of milliseconds of one core. Left on
//! tokio's blocking pool (up to 512 threads), 100 anonymous logins at once
//! took the process to 5.7 GiB. Here at most `threads` hashes run at once,
//! at most `queue` more wait, and anything beyond is answered RATE_LIMITED
//! at once: memory stays at `threads` × 19 MiB whatever the load, and the
//! same long-lived threads reuse one working buffer each.
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};

use std::cell::RefCell;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::domain::Password;
use crate::error::{AppError, AppResult};

fn failed(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("password hashing: {e}").into())
}

fn params() -> AppResult<Params> {
    Params::new(19_456, 2, 1, None).map_err(failed)
}

thread_local! {
    /// The 19 MiB of argon2 working memory, allocated once per hashing
    /// thread and reused: allocating it per hash left glibc holding
    /// hundreds of MiB of freed blocks after a burst of logins.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` with this thread's reusable working memory.
fn argon2_into(
    argon: &Argon2<'_>,
    count: usize,
    pw: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> AppResult<()> {
    BLOCKS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut blocks) => {
            if blocks.len() < count {
                blocks.resize(count, Block::default());
            }
            let memory = blocks.get_mut(..count).ok_or_else(|| failed("no memory"))?;
            argon
                .hash_password_into_with_memory(pw, salt, out, memory)
                .map_err(failed)
        }
        // never re-entered; if it were, a one-off allocation still works
        Err(_) => argon.hash_password_into(pw, salt, out).map_err(failed),
    })
}

/// A new argon2id PHC string for `pw`, with a random salt.
fn hash_new(pw: &[u8]) -> AppResult<String> {
    let params = params()?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(failed)?;
    let mut out = [0u8; 32];
    argon2_into(&argon, params.block_count(), pw, &salt, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(Salt::new(&salt).map_err(failed)?),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `pw` matches the PHC string `stored` (compared in constant time).
fn matches(pw: &[u8], stored: &str) -> AppResult<bool> {
    let parsed = PasswordHash::new(stored).map_err(failed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(failed)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(failed)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(failed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, params.block_count(), pw, &salt, &mut out)?;
    Ok(Output::new(&out).map_err(failed)? == expected)
}

/// A real hash of a random password, verified against when the email is
/// unknown so that a miss costs the same time as a hit.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let pw = crate::auth::random_token(16);
    hash_new(pw.as_bytes()).ok()
});

type Job = Box<dyn FnOnce() + Send>;

/// The budgeted hashing pool of one server instance.
pub struct PasswordHashing {
    jobs: SyncSender<Job>,
}

/// How long a client should wait when the pool is full.
const BUSY_RETRY_SECS: i64 = 1;

impl PasswordHashing {
    /// Starts `threads` hashing threads with room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(&rx))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on the pool; RATE_LIMITED when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(AppError::RateLimited {
                    retry_after_secs: BUSY_RETRY_SECS,
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(AppError::Internal("the hashing pool has stopped".into()));
            }
        }
        rx.await
            .map_err(|_| AppError::Internal("a hashing job was lost".into()))?
    }

    pub async fn hash(&self, password: &Password) -> AppResult<String> {
        let pw = password.as_str().to_owned();
        self.run(move || hash_new(pw.as_bytes())).await
    }

    /// Verifies `password` against `stored`, or against a dummy hash when
    /// there is no stored hash, so that timing does not reveal which
    /// accounts exist.
    pub async fn verify(&self, password: &str, stored: Option<String>) -> AppResult<bool> {
        let pw = password.to_owned();
        let had_user = stored.is_some();
        self.run(move || {
            let phc = match stored.or_else(|| DUMMY_HASH.clone()) {
                Some(h) => h,
                None => return Ok(false),
            };
            Ok(matches(pw.as_bytes(), &phc)? && had_user)
        })
        .await
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        // the lock is held only to take the next job, never while hashing
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(job) => job(),
            // the instance is gone
            Err(_) => return,
        }
    }
}

/// Computes the dummy hash before the first login needs it.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(|| LazyLock::force(&DUMMY_HASH).is_some()).await;
}

/// One hash outside a server instance (the seed command).
pub async fn hash_standalone(password: &Password) -> AppResult<String> {
    let pw = password.as_str().to_owned();
    tokio::task::spawn_blocking(move || hash_new(pw.as_bytes()))
        .await
        .map_err(AppError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_match_the_argon2_crate() {
        use argon2::password_hash::PasswordVerifier;
        let phc = hash_new(b"correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(matches(b"correct horse battery", &phc).unwrap());
        assert!(!matches(b"wrong", &phc).unwrap());
        // hashes made before this change (by the crate itself) still verify
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        use argon2::password_hash::PasswordHasher;
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap())
            .hash_password(b"an older password")
            .unwrap()
            .to_string();
        assert!(matches(b"an older password", &old).unwrap());
    }
}
