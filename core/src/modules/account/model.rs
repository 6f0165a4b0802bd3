//! The account module's domain types: what its commands take and the
//! values it stores.
#![allow(unused_imports)]
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::{Patch, Role};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Default)]
pub struct SignUpInput {
    pub tenant_name: String,
    /// Defaults to one derived from the tenant name.
    pub tenant_slug: Option<String>,
    /// ISO 4217 reporting currency.
    pub currency: Option<String>,
    /// IANA time zone of the tenant.
    pub timezone: Option<String>,
    pub name: String,
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct LoginInput {
    pub tenant_slug: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// 8 to 128 characters.
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct UpdateUserInput {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct UpdateTenantInput {
    pub name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
}

/// A signed-in session: the access token, the refresh token that renews it,
/// and who it is for.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: entity::user::Model,
    pub tenant: entity::tenant::Model,
}
