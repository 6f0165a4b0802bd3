//! Endpoint secrets: `whsec_` + base64 of 24 random bytes, shown once and
//! stored encrypted (XChaCha20-Poly1305 under the instance's webhook key):
//! signing needs the secret itself, so it cannot be stored hashed.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit};

use crate::error::{AppError, AppResult};

/// A fresh secret, as the client sees it once.
pub fn generate() -> AppResult<String> {
    let mut raw = [0u8; 24];
    getrandom::fill(&mut raw)
        .map_err(|e| AppError::internal(std::io::Error::other(e.to_string())))?;
    Ok(format!("whsec_{}", STANDARD.encode(raw)))
}

/// `secret` encrypted under `key`: base64 of nonce ‖ ciphertext.
pub fn seal(key: &[u8; 32], secret: &str) -> AppResult<String> {
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce)
        .map_err(|e| AppError::internal(std::io::Error::other(e.to_string())))?;
    let sealed = cipher
        .encrypt(&nonce.into(), secret.as_bytes())
        .map_err(|_| AppError::internal(std::io::Error::other("could not seal a secret")))?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Ok(STANDARD.encode(out))
}

/// The secret `seal` sealed.
pub fn open(key: &[u8; 32], sealed: &str) -> AppResult<String> {
    let broken = || {
        AppError::internal(std::io::Error::other(
            "a stored webhook secret does not open",
        ))
    };
    let raw = STANDARD.decode(sealed).map_err(|_| broken())?;
    let (nonce, body) = raw.split_at_checked(24).ok_or_else(broken)?;
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| broken())?;
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let plain = cipher.decrypt(&nonce.into(), body).map_err(|_| broken())?;
    String::from_utf8(plain).map_err(|_| broken())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let key = [7u8; 32];
        let s = generate().unwrap();
        assert!(s.starts_with("whsec_"));
        let sealed = seal(&key, &s).unwrap();
        assert!(!sealed.contains(&s[6..]));
        assert_eq!(open(&key, &sealed).unwrap(), s);
        assert!(open(&[8u8; 32], &sealed).is_err());
        assert!(open(&key, "garbage").is_err());
    }
}
