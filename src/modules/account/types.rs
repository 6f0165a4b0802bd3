//! GraphQL types of the account module. They are built from storage models
//! field by field, so nothing the client should not see can slip through.
use async_graphql::{ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::Role;
use crate::error::AppResult;

/// A company account. Everything in the API belongs to exactly one tenant:
/// the caller's.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Tenant")]
pub struct TenantGql {
    pub id: ID,
    pub name: String,
    /// Short unique name, used to log in.
    pub slug: String,
    /// ISO 4217 code of the reporting currency: every aggregate amount is in it.
    pub currency: String,
    /// IANA time zone name; decides when a due date has passed.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

impl From<entity::tenant::Model> for TenantGql {
    fn from(m: entity::tenant::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name,
            slug: m.slug,
            currency: m.currency,
            timezone: m.timezone,
            created_at: m.created_at,
        }
    }
}

/// A person who signs in: an admin, manager or salesperson of the tenant.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "User")]
pub struct UserGql {
    pub id: ID,
    /// Lower-cased; unique within the tenant.
    pub email: String,
    pub name: String,
    pub role: Role,
    /// An inactive user cannot sign in, and its sessions are revoked.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl UserGql {
    pub fn from_model(m: entity::user::Model) -> AppResult<Self> {
        Ok(Self {
            id: ID(m.id.to_string()),
            role: Role::from_db(&m.role)?,
            email: m.email,
            name: m.name,
            active: m.active,
            created_at: m.created_at,
        })
    }
}

/// A new session.
#[derive(SimpleObject, Clone, Debug)]
pub struct AuthPayload {
    /// Short-lived JWT; send it as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Opaque and single-use: `refreshSession` returns a new one each time.
    /// Presenting a used one again revokes the whole session.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    pub user: UserGql,
    pub tenant: TenantGql,
}

#[derive(InputObject, Debug)]
pub struct SignUpInput {
    pub tenant_name: String,
    /// Defaults to one derived from the tenant name.
    pub tenant_slug: Option<String>,
    /// ISO 4217 reporting currency.
    #[graphql(default_with = "Some(String::from(\"EUR\"))")]
    pub currency: Option<String>,
    /// IANA time zone of the tenant.
    #[graphql(default_with = "Some(String::from(\"UTC\"))")]
    pub timezone: Option<String>,
    pub name: String,
    pub email: String,
    /// 8 to 128 characters.
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject, Debug)]
pub struct LoginInput {
    pub tenant_slug: String,
    pub email: String,
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject, Debug)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// 8 to 128 characters.
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject, Debug)]
pub struct UpdateUserInput {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

#[derive(InputObject, Debug)]
pub struct UpdateTenantInput {
    pub name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
}
