//! The caller as GraphQL resolvers and guards read it; the tokens,
//! passwords and throttles themselves are the kernel's.
use async_graphql::{Context, Guard};

pub use crm_core::auth::*;

use crate::domain::Role;
use crate::error::{AppError, AppResult, ToGraphql};

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
