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

fn bad_credentials() -> AppError {
    AppError::UnauthenticatedWith("invalid tenant, email or password")
}

fn invalid_refresh() -> AppError {
    AppError::UnauthenticatedWith("refresh token is invalid, expired or already used")
}

/// Inserts a refresh token (in `family`, or a new family) and issues an
/// access token for it.
pub async fn issue_session<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    tenant: tenant::Model,
    user: user::Model,
    family: Option<Uuid>,
) -> AppResult<Session> {
    let role = Role::from_db(&user.role)?;
    let family = family.unwrap_or_else(Uuid::new_v4);
    let (access_token, expires_at) =
        state
            .jwt
            .issue(UserId(user.id), TenantId(tenant.id), family, role)?;
    let refresh_token = random_token(32);
    let ts = now();
    let ttl = Duration::from_std(state.refresh_ttl).map_err(AppError::internal)?;
    let scope = TenantScope(TenantId(tenant.id));
    scope
        .stamp(refresh_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user.id),
            family_id: Set(family),
            token_hash: Set(sha256_hex(&refresh_token)),
            expires_at: Set(ts + ttl),
            used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(ts),
            ..Default::default()
        })
        .insert(conn)
        .await?;
    Ok(Session {
        access_token,
        refresh_token,
        expires_at,
        user,
        tenant,
    })
}

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

/// Logs in. Every attempt is counted before the password is checked
/// (see `throttle`): per account from this address, per address, and on
/// the whole instance. A success gives its attempt back.
pub async fn login(
    state: &AppState,
    input: LoginInput,
    address: Option<std::net::IpAddr>,
) -> AppResult<Session> {
    let pw = Password::parse("password", &input.password)?;
    let slug = input.tenant_slug.trim().to_lowercase();
    let email = input.email.trim().to_lowercase();
    let address = address.map_or_else(|| "unknown".to_string(), |a| a.to_string());
    let account = format!("{slug}\n{email}\n{address}");
    let db = &state.db;
    throttle::take(db, &throttle::GLOBAL, "").await?;
    throttle::take(db, &throttle::ADDRESS, &address).await?;
    throttle::take(db, &throttle::ACCOUNT_FROM_ADDRESS, &account).await?;

    let tenant = tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug))
        .one(db)
        .await?;
    let found = match &tenant {
        Some(t) => {
            TenantScope(TenantId(t.id))
                .find::<user::Entity>()
                .filter(user::Column::Email.eq(email))
                .one(db)
                .await?
        }
        None => None,
    };
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let ok = state.passwords.verify(pw.as_str(), stored).await?;
    match (ok, tenant, found) {
        (true, Some(t), Some(u)) if u.active => {
            throttle::clear(db, &throttle::ACCOUNT_FROM_ADDRESS, &account).await?;
            throttle::give_back(db, &throttle::ADDRESS, &address).await?;
            throttle::give_back(db, &throttle::GLOBAL, "").await?;
            issue_session(db, state, t, u, None).await
        }
        _ => {
            throttle::prune(db).await?;
            Err(bad_credentials())
        }
    }
}

/// Rotates a refresh token. The conditional UPDATE is what makes a token
/// single-use: of two concurrent refreshes only one sees a row affected.
/// A token presented again after use revokes its whole family, since one
/// of the two presenters must be a thief.
pub async fn refresh(state: &AppState, token: &str) -> AppResult<Session> {
    let hash = sha256_hex(token);
    let ts = now();
    let txn = crate::db::begin_write(&state.db).await?;
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(ts))
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .filter(refresh_token::Column::ExpiresAt.gt(ts))
        .exec(&txn)
        .await?;
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .one(&txn)
        .await?;
    let Some(row) = row else {
        return Err(invalid_refresh());
    };
    let scope = TenantScope(TenantId(row.tenant_id));
    if claimed.rows_affected != 1 {
        if row.used_at.is_some() && row.revoked_at.is_none() {
            revoke_family(&txn, scope, row.family_id).await?;
            txn.commit().await?;
            tracing::warn!(family = %row.family_id, "refresh token reused: session family revoked");
            return Err(AppError::UnauthenticatedWith(
                "refresh token was already used: the session has been revoked",
            ));
        }
        return Err(invalid_refresh());
    }
    let user = scope
        .find_id::<user::Entity>(row.user_id)
        .one(&txn)
        .await?
        .filter(|u| u.active);
    let tenant = tenant::Entity::find_by_id(row.tenant_id).one(&txn).await?;
    let (Some(user), Some(tenant)) = (user, tenant) else {
        revoke_family(&txn, scope, row.family_id).await?;
        txn.commit().await?;
        return Err(invalid_refresh());
    };
    let payload = issue_session(&txn, state, tenant, user, Some(row.family_id)).await?;
    txn.commit().await?;
    Ok(payload)
}

async fn revoke_family<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    family: Uuid,
) -> AppResult<()> {
    scope
        .update_many::<refresh_token::Entity>()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

async fn revoke_user_sessions<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    user: Uuid,
) -> AppResult<()> {
    scope
        .update_many::<refresh_token::Entity>()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now()))
        .filter(refresh_token::Column::UserId.eq(user))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends the session the refresh token belongs to. Answers false when the
/// token is unknown or not the caller's.
pub async fn logout(state: &AppState, auth: AuthContext, token: &str) -> AppResult<bool> {
    let scope = TenantScope(auth.tenant);
    let row = scope
        .find::<refresh_token::Entity>()
        .filter(refresh_token::Column::TokenHash.eq(sha256_hex(token)))
        .filter(refresh_token::Column::UserId.eq(auth.user.0))
        .one(&state.db)
        .await?;
    let Some(row) = row else { return Ok(false) };
    revoke_family(&state.db, scope, row.family_id).await?;
    Ok(true)
}

pub async fn change_password(
    state: &AppState,
    auth: AuthContext,
    current: &str,
    new: &str,
) -> AppResult<bool> {
    let new = Password::parse("newPassword", new)?;
    let scope = TenantScope(auth.tenant);
    let user = find_user(state, scope, auth.user.0).await?;
    // a stolen access token must not become unlimited password guesses
    let budget_key = auth.user.0.to_string();
    throttle::take(&state.db, &throttle::PASSWORD_CHANGE, &budget_key).await?;
    if current.chars().count() > 128
        || !state
            .passwords
            .verify(current, Some(user.password_hash.clone()))
            .await?
    {
        return Err(AppError::bad_input(
            "currentPassword",
            "current password is incorrect",
        ));
    }
    throttle::clear(&state.db, &throttle::PASSWORD_CHANGE, &budget_key).await?;
    let hash = state.passwords.hash(&new).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    scope
        .update_many::<user::Entity>()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .col_expr(user::Column::UpdatedAt, Expr::value(now()))
        .filter(user::Column::Id.eq(user.id))
        .exec(&txn)
        .await?;
    // a changed password signs out every other device
    revoke_user_sessions(&txn, scope, user.id).await?;
    txn.commit().await?;
    Ok(true)
}

async fn find_user(state: &AppState, scope: TenantScope, id: Uuid) -> AppResult<user::Model> {
    scope
        .find_id::<user::Entity>(id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// The caller's user row, if it still exists and is active and its
/// session has not been ended, with its tenant. Used by the transports to
/// turn a valid token into an `AuthContext`; one statement.
pub async fn active_user(
    state: &AppState,
    tenant: TenantId,
    user: UserId,
    session: Uuid,
) -> AppResult<Option<(user::Model, tenant::Model)>> {
    use sea_orm::sea_query::{ExprTrait, Query};
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(refresh_token::Entity)
        .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::TenantId)).eq(tenant.0))
        .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::FamilyId)).eq(session))
        .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::RevokedAt)).is_null())
        .to_owned();
    let found = TenantScope(tenant)
        .find_id::<user::Entity>(user.0)
        .filter(user::Column::Active.eq(true))
        .filter(Expr::exists(live_session))
        .find_also_related(tenant::Entity)
        .one(&state.db)
        .await?;
    Ok(found.and_then(|(u, t)| t.map(|t| (u, t))))
}

pub async fn user(state: &AppState, auth: AuthContext, id: UserId) -> AppResult<user::Model> {
    find_user(state, TenantScope(auth.tenant), id.0).await
}

pub async fn tenant(state: &AppState, auth: AuthContext) -> AppResult<tenant::Model> {
    tenant::Entity::find_by_id(auth.tenant.0)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("tenant"))
}

pub async fn users(
    state: &AppState,
    auth: AuthContext,
    include_inactive: bool,
) -> AppResult<Vec<user::Model>> {
    let mut q = TenantScope(auth.tenant).find::<user::Entity>();
    if !include_inactive {
        q = q.filter(user::Column::Active.eq(true));
    }
    Ok(q.order_by_asc(user::Column::Name)
        .order_by_asc(user::Column::Id)
        .all(&state.db)
        .await?)
}

pub async fn create_user(
    state: &AppState,
    auth: AuthContext,
    input: CreateUserInput,
) -> AppResult<user::Model> {
    let email = Email::parse("email", &input.email)?;
    let name = Name::parse("name", &input.name)?;
    let pw = Password::parse("password", &input.password)?;
    let hash = state.passwords.hash(&pw).await?;
    let ts = now();
    let model = TenantScope(auth.tenant)
        .stamp(user::ActiveModel {
            id: Set(Uuid::new_v4()),
            email: Set(email.as_str().to_string()),
            name: Set(name.into_inner()),
            role: Set(input.role.as_str().to_string()),
            active: Set(true),
            password_hash: Set(hash),
            calendar_token_hash: Set(None),
            calendar_version: Set(0),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(&state.db)
        .await
        .map_err(|e| {
            AppError::from_unique(e, || {
                AppError::bad_input("email", "a user with this email already exists")
            })
        })?;
    Ok(model)
}

pub async fn update_user(
    state: &AppState,
    auth: AuthContext,
    id: UserId,
    input: UpdateUserInput,
) -> AppResult<user::Model> {
    let scope = TenantScope(auth.tenant);
    let name = input
        .name
        .as_deref()
        .map(|n| Name::parse("name", n))
        .transpose()?;
    let txn = crate::db::begin_write(&state.db).await?;
    // Two admins demoting each other at once must not both see "another
    // admin remains": user changes of a tenant take turns on its row.
    tenant::Entity::find_by_id(auth.tenant.0)
        .lock_exclusive()
        .one(&txn)
        .await?;
    let current = scope
        .find_id::<user::Entity>(id.0)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let loses_admin = current.role == Role::Admin.as_str()
        && current.active
        && (input.role.is_some_and(|r| r != Role::Admin) || input.active == Some(false));
    if loses_admin {
        let admins = scope
            .find::<user::Entity>()
            .filter(user::Column::Role.eq(Role::Admin.as_str()))
            .filter(user::Column::Active.eq(true))
            .count(&txn)
            .await?;
        if admins <= 1 {
            let field = if input.active == Some(false) {
                "active"
            } else {
                "role"
            };
            return Err(AppError::bad_input(
                field,
                "the tenant must keep at least one active ADMIN",
            ));
        }
    }
    let mut update = scope
        .update_many::<user::Entity>()
        .col_expr(user::Column::UpdatedAt, Expr::value(now()))
        .filter(user::Column::Id.eq(id.0));
    if let Some(n) = name {
        update = update.col_expr(user::Column::Name, Expr::value(n.into_inner()));
    }
    if let Some(r) = input.role {
        update = update.col_expr(user::Column::Role, Expr::value(r.as_str()));
    }
    if let Some(a) = input.active {
        update = update.col_expr(user::Column::Active, Expr::value(a));
    }
    update.exec(&txn).await?;
    if input.active == Some(false) {
        revoke_user_sessions(&txn, scope, id.0).await?;
    }
    let updated = scope
        .find_id::<user::Entity>(id.0)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    txn.commit().await?;
    Ok(updated)
}

pub async fn update_tenant(
    state: &AppState,
    auth: AuthContext,
    input: UpdateTenantInput,
) -> AppResult<tenant::Model> {
    let name = input
        .name
        .as_deref()
        .map(|n| Name::parse("name", n))
        .transpose()?;
    let currency = input
        .currency
        .as_deref()
        .map(|c| CurrencyCode::parse("currency", c))
        .transpose()?;
    let timezone = input
        .timezone
        .as_deref()
        .map(|t| Timezone::parse("timezone", t))
        .transpose()?;
    let mut update = tenant::Entity::update_many()
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now()))
        .filter(tenant::Column::Id.eq(auth.tenant.0));
    if let Some(n) = name {
        update = update.col_expr(tenant::Column::Name, Expr::value(n.into_inner()));
    }
    if let Some(c) = currency {
        update = update.col_expr(tenant::Column::Currency, Expr::value(c.as_str()));
    }
    if let Some(t) = timezone {
        update = update.col_expr(tenant::Column::Timezone, Expr::value(t.name()));
    }
    update.exec(&state.db).await?;
    tenant(state, auth).await
}

/// Turns a user's calendar feed on with a new token (stored as its hash,
/// with the version that invalidates older URLs) or, with `None`, off.
pub async fn set_calendar_token<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    user: Uuid,
    token: Option<(i32, String)>,
) -> AppResult<()> {
    let mut update = scope.update_many::<user::Entity>();
    match token {
        Some((version, hash)) => {
            update = update
                .col_expr(user::Column::CalendarVersion, Expr::value(version))
                .col_expr(user::Column::CalendarTokenHash, Expr::value(Some(hash)));
        }
        None => {
            update = update.col_expr(
                user::Column::CalendarTokenHash,
                Expr::value(Option::<String>::None),
            );
        }
    }
    update.filter(user::Column::Id.eq(user)).exec(conn).await?;
    Ok(())
}

/// The tenant's next opportunity number ("OPP-42"), in the caller's
/// transaction: the tenant row's lock serialises concurrent creations, so
/// numbers never repeat.
pub async fn next_opportunity_number_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
) -> AppResult<i64> {
    use sea_orm::ExprTrait;
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::OpportunitySeq,
            Expr::col(tenant::Column::OpportunitySeq).add(1),
        )
        .filter(tenant::Column::Id.eq(scope.0.0))
        .exec(conn)
        .await?;
    Ok(tenant::Entity::find_by_id(scope.0.0)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("tenant"))?
        .opportunity_seq)
}
