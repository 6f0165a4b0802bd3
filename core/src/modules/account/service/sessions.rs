//! Sessions: login, refresh-token rotation, logout, password change.
use super::*;

pub(super) fn bad_credentials() -> AppError {
    AppError::UnauthenticatedWith("invalid tenant, email or password")
}

pub(super) fn invalid_refresh() -> AppError {
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
/// A token presented again within `refresh_reuse_grace` of its first use
/// (two browser tabs refreshing at the same moment) gets a new pair in the
/// same family; presented again later, it revokes its whole family, since
/// one of the two presenters must be a thief.
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
        let grace = Duration::from_std(state.refresh_reuse_grace).map_err(AppError::internal)?;
        // `ts` may precede `used` (the other presenter claimed first while
        // this one was under way): that is the two-tab case too. A zero
        // grace turns the window off altogether.
        let in_grace = !grace.is_zero()
            && row
                .used_at
                .is_some_and(|used| ts < used + grace && ts < row.expires_at);
        if in_grace && row.revoked_at.is_none() {
            // the same holder again, within seconds: a second pair in the
            // same family, which logout and a later reuse still revoke
            return issue_in_family(state, txn, scope, &row).await;
        }
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
    issue_in_family(state, txn, scope, &row).await
}

/// Issues a new pair in the family of `row` for its user, if the user and
/// tenant are still active; otherwise revokes the family.
async fn issue_in_family(
    state: &AppState,
    txn: sea_orm::DatabaseTransaction,
    scope: TenantScope,
    row: &refresh_token::Model,
) -> AppResult<Session> {
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

pub(super) async fn revoke_family<C: ConnectionTrait>(
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

pub(super) async fn revoke_user_sessions<C: ConnectionTrait>(
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
/// token is unknown or, for a signed-in caller, not the caller's. Without
/// an access token the refresh token alone proves the session, as it does
/// for `refresh`.
pub async fn logout(state: &AppState, auth: Option<AuthContext>, token: &str) -> AppResult<bool> {
    let hash = sha256_hex(token);
    let row = match auth {
        Some(auth) => {
            TenantScope(auth.tenant)
                .find::<refresh_token::Entity>()
                .filter(refresh_token::Column::TokenHash.eq(hash))
                .filter(refresh_token::Column::UserId.eq(auth.user.0))
                .one(&state.db)
                .await?
        }
        // the token's hash is the lookup key, as in `refresh`: its tenant
        // comes from the row
        None => {
            refresh_token::Entity::find()
                .filter(refresh_token::Column::TokenHash.eq(hash))
                .one(&state.db)
                .await?
        }
    };
    let Some(row) = row else { return Ok(false) };
    revoke_family(
        &state.db,
        TenantScope(TenantId(row.tenant_id)),
        row.family_id,
    )
    .await?;
    Ok(true)
}

/// Changes the caller's password after checking the current one, and signs out
/// every refresh session: a leaked password must not outlive its change.
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
