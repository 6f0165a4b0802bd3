//! Account queries and commands. All tenant-owned access goes through
//! `TenantScope`; the only unscoped lookups are the ones that establish
//! which tenant a caller belongs to (login by slug, refresh by token hash).
use chrono::Duration;
use entity::{refresh_token, tenant, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::{
    CreateUserInput, LoginInput, Session, SignUpInput, UpdateTenantInput, UpdateUserInput,
};
use crate::auth::{AuthContext, random_token, sha256_hex, throttle};
use crate::domain::{CurrencyCode, Email, Name, Password, Role, Slug, TenantId, Timezone, UserId};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

mod sessions;
mod users;
pub use sessions::*;
pub use users::*;

/// A sign-up whose fields are checked, whose password is hashed and whose
/// slug is chosen: what `open_tenant_in` writes.
pub struct SignUp {
    tenant_name: Name,
    slug: Slug,
    currency: CurrencyCode,
    timezone: Timezone,
    name: Name,
    email: Email,
    password_hash: String,
}

/// Checks a sign-up and does its slow work (the password hash, the free
/// slug) before any transaction opens.
pub async fn prepare_sign_up(state: &AppState, input: SignUpInput) -> AppResult<SignUp> {
    let tenant_name = Name::parse("tenantName", &input.tenant_name)?;
    let explicit_slug = input
        .tenant_slug
        .as_deref()
        .map(|s| Slug::parse("tenantSlug", s))
        .transpose()?;
    let currency = CurrencyCode::parse("currency", input.currency.as_deref().unwrap_or("EUR"))?;
    let timezone = Timezone::parse("timezone", input.timezone.as_deref().unwrap_or("UTC"))?;
    let name = Name::parse("name", &input.name)?;
    let email = Email::parse("email", &input.email)?;
    let pw = Password::parse("password", &input.password)?;
    let password_hash = state.passwords.hash(&pw).await?;
    let slug = match explicit_slug {
        Some(s) => s,
        None => free_slug(state, Slug::derive_from(tenant_name.as_ref())).await?,
    };
    Ok(SignUp {
        tenant_name,
        slug,
        currency,
        timezone,
        name,
        email,
        password_hash,
    })
}

/// Creates the tenant and its first ADMIN in the caller's transaction. A
/// slug taken meanwhile is BAD_USER_INPUT on `tenantSlug`.
pub async fn open_tenant_in<C: ConnectionTrait>(
    conn: &C,
    new: SignUp,
) -> AppResult<(tenant::Model, user::Model)> {
    let ts = now();
    let tenant = tenant::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(new.tenant_name.into_inner()),
        slug: Set(new.slug.as_str().to_string()),
        currency: Set(new.currency.as_str().to_string()),
        timezone: Set(new.timezone.name().to_string()),
        opportunity_seq: Set(0),
        created_at: Set(ts),
        updated_at: Set(ts),
    }
    .insert(conn)
    .await
    .map_err(|e| {
        AppError::from_unique(e, || {
            AppError::bad_input("tenantSlug", "this tenant slug is already taken")
        })
    })?;
    let admin = TenantScope(TenantId(tenant.id))
        .stamp(user::ActiveModel {
            id: Set(Uuid::new_v4()),
            email: Set(new.email.as_str().to_string()),
            name: Set(new.name.into_inner()),
            role: Set(Role::Admin.as_str().to_string()),
            active: Set(true),
            password_hash: Set(new.password_hash),
            calendar_token_hash: Set(None),
            calendar_version: Set(0),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(conn)
        .await?;
    Ok((tenant, admin))
}

/// The derived slug, or the first free one of "slug-2", "slug-3", ... A race
/// with another sign-up still ends in the unique index, not a duplicate.
async fn free_slug(state: &AppState, base: Slug) -> AppResult<Slug> {
    let taken: Vec<String> = tenant::Entity::find()
        .filter(tenant::Column::Slug.starts_with(base.as_str()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|t| t.slug)
        .collect();
    if !taken.iter().any(|s| s == base.as_str()) {
        return Ok(base);
    }
    let mut n = 2u32;
    loop {
        let candidate = format!("{}-{n}", base.as_str());
        if !taken.contains(&candidate) {
            return Slug::parse("tenantSlug", &candidate);
        }
        n += 1;
    }
}
