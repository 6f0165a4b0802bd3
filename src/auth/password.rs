//! argon2id password hashing on a small pool of its own threads.
//!
//! Each hash takes 19 MiB and tens of milliseconds of one core. Left on
//! tokio's blocking pool (up to 512 threads), 100 anonymous logins at once
//! took the process to 5.7 GiB. Here at most `threads` hashes run at once,
//! at most `queue` more wait, and anything beyond is answered RATE_LIMITED
//! at once: memory stays at `threads` × 19 MiB whatever the load, and the
//! same long-lived threads reuse the same allocator arenas.
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::Password;
use crate::error::{AppError, AppResult};

fn hasher() -> AppResult<Argon2<'static>> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| AppError::Internal(e.to_string().into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A real hash of a random password, verified against when the email is
/// unknown so that a miss costs the same time as a hit.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let pw = crate::auth::random_token(16);
    hasher()
        .ok()?
        .hash_password(pw.as_bytes())
        .ok()
        .map(|h| h.to_string())
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
        self.run(move || {
            hasher()?
                .hash_password(pw.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(e.to_string().into()))
        })
        .await
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
            let parsed =
                PasswordHash::new(&phc).map_err(|e| AppError::Internal(e.to_string().into()))?;
            let ok = hasher()?.verify_password(pw.as_bytes(), &parsed).is_ok();
            Ok(ok && had_user)
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
    tokio::task::spawn_blocking(move || {
        hasher()?
            .hash_password(pw.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(e.to_string().into()))
    })
    .await
    .map_err(AppError::internal)?
}
