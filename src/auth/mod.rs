//! Authentication: tokens, passwords, and the per-request `AuthContext`
//! that resolvers and guards read.
pub mod jwt;
pub mod password;
pub mod throttle;

use async_graphql::{Context, ErrorExtensions, Guard};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::{CurrencyCode, Role, TenantId, Timezone, UserId};
use crate::error::{AppError, AppResult};

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

pub trait ContextAuth {
    /// The caller, or UNAUTHENTICATED.
    fn auth(&self) -> AppResult<AuthContext>;
    /// The caller's tenant settings, or UNAUTHENTICATED.
    fn tenant_settings(&self) -> AppResult<&TenantSettings>;
}

impl ContextAuth for Context<'_> {
    fn auth(&self) -> AppResult<AuthContext> {
        self.data_opt::<RequestAuth>()
            .and_then(|a| a.0)
            .ok_or(AppError::Unauthenticated)
    }

    fn tenant_settings(&self) -> AppResult<&TenantSettings> {
        self.data_opt::<TenantSettings>()
            .ok_or(AppError::Unauthenticated)
    }
}

/// Lets only the listed roles through: UNAUTHENTICATED without a user,
/// FORBIDDEN for any other role.
pub struct RoleGuard(&'static [Role]);

impl RoleGuard {
    pub const ADMIN: RoleGuard = RoleGuard(&[Role::Admin]);
    pub const MANAGERS: RoleGuard = RoleGuard(&[Role::Admin, Role::Manager]);
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let auth = ctx.auth().map_err(|e| e.extend())?;
        if self.0.contains(&auth.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden.extend())
        }
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
