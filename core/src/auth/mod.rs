//! Authentication: tokens, passwords, and the per-request `AuthContext`.
pub mod jwt;
pub mod password;
pub mod throttle;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::{CurrencyCode, Role, TenantId, Timezone, UserId};

/// Who is calling. Built once per HTTP request (or WebSocket connection)
/// from the access token and the user's current row.
#[derive(Clone, Copy, Debug)]
pub struct AuthContext {
    pub user: UserId,
    pub tenant: TenantId,
    pub role: Role,
}

/// What the transport learned about the caller; absent when no valid
/// token was presented.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestAuth(pub Option<AuthContext>);

/// The client's address, as the transport saw it (the TCP peer; behind a
/// proxy, the proxy's): what the login throttles key an address on.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

/// The caller's tenant settings, loaded with the caller.
#[derive(Clone, Debug)]
pub struct TenantSettings {
    pub currency: CurrencyCode,
    pub timezone: Timezone,
}

impl TenantSettings {
    /// Today's date in the tenant's time zone: the day on which a due date
    /// is still OPEN.
    pub fn today(&self) -> chrono::NaiveDate {
        self.timezone.today_at(crate::clock::now())
    }
}

/// A URL-safe random token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // getrandom only fails when the OS has no entropy source at all; a
    // zeroed buffer would be a catastrophic fallback, so abort instead.
    if let Err(e) = getrandom::fill(&mut buf) {
        tracing::error!(error = %e, "no OS randomness");
        std::process::abort();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256, used to store tokens that are already high-entropy secrets.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// SHA-256 of `s`, as a 32-byte key.
pub fn sha256_bytes(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}
