//! argon2id password hashing, off the async executor.
use std::sync::LazyLock;

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

pub async fn hash(password: &Password) -> AppResult<String> {
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

/// Verifies `password` against `stored`, or against a dummy hash when there
/// is no stored hash, so that timing does not reveal which accounts exist.
pub async fn verify(password: &str, stored: Option<String>) -> AppResult<bool> {
    let pw = password.to_owned();
    let had_user = stored.is_some();
    tokio::task::spawn_blocking(move || {
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
    .map_err(AppError::internal)?
}

/// Computes the dummy hash before the first login needs it.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(|| LazyLock::force(&DUMMY_HASH).is_some()).await;
}
