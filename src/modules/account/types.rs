//! GraphQL types of the account module. They are built from storage models
//! field by field, so nothing the client should not see can slip through.
use async_graphql::{Enum, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::AppResult;

/// What a user may do in their tenant.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::Role")]
pub enum Role {
    /// Sets up the tenant: users, pipelines, sources, exchange rates.
    Admin,
    /// Reads and changes every opportunity and contact of the tenant.
    Manager,
    /// Reads everything; changes what it owns or is on the team of.
    Sales,
}

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
            role: crate::domain::Role::from_db(&m.role)?.into(),
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
    /// Presenting a used one again more than 30 seconds (the server's
    /// `REFRESH_REUSE_GRACE_SECS`) after its first use revokes the whole
    /// session; within that window (two tabs refreshing at once) it is
    /// exchanged again.
    pub refresh_token: String,
    /// When the access token expires. The server accepts it up to 5 seconds
    /// later (clock skew between instances), never more: refresh before.
    pub expires_at: DateTime<Utc>,
    pub user: UserGql,
    pub tenant: TenantGql,
}

impl TryFrom<crm_core::modules::account::model::Session> for AuthPayload {
    type Error = crate::error::AppError;
    fn try_from(s: crm_core::modules::account::model::Session) -> AppResult<Self> {
        Ok(Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: s.expires_at,
            user: UserGql::from_model(s.user)?,
            tenant: s.tenant.into(),
        })
    }
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

// The GraphQL inputs and enums convert into the domain's at this boundary.

impl From<SignUpInput> for crm_core::modules::account::model::SignUpInput {
    fn from(i: SignUpInput) -> Self {
        Self {
            tenant_name: i.tenant_name,
            tenant_slug: i.tenant_slug,
            currency: i.currency,
            timezone: i.timezone,
            name: i.name,
            email: i.email,
            password: i.password,
        }
    }
}

impl From<LoginInput> for crm_core::modules::account::model::LoginInput {
    fn from(i: LoginInput) -> Self {
        Self {
            tenant_slug: i.tenant_slug,
            email: i.email,
            password: i.password,
        }
    }
}

impl From<CreateUserInput> for crm_core::modules::account::model::CreateUserInput {
    fn from(i: CreateUserInput) -> Self {
        Self {
            email: i.email,
            name: i.name,
            role: i.role.into(),
            password: i.password,
        }
    }
}

impl From<UpdateUserInput> for crm_core::modules::account::model::UpdateUserInput {
    fn from(i: UpdateUserInput) -> Self {
        Self {
            name: i.name,
            role: i.role.map(Into::into),
            active: i.active,
        }
    }
}

impl From<UpdateTenantInput> for crm_core::modules::account::model::UpdateTenantInput {
    fn from(i: UpdateTenantInput) -> Self {
        Self {
            name: i.name,
            currency: i.currency,
            timezone: i.timezone,
        }
    }
}
