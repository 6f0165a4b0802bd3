//! Users and the tenant's own settings.
use super::*;

pub(super) async fn find_user(
    state: &AppState,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<user::Model> {
    scope
        .find_id::<user::Entity>(id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// What every request needs to know of its caller, and nothing more (no
/// password hash, no profile): read on every authenticated request.
#[derive(Clone, Debug, sea_orm::FromQueryResult)]
pub struct Caller {
    pub role: String,
    pub currency: String,
    pub timezone: String,
}

/// The caller's role and its tenant's settings, if the user still exists
/// and is active and its session has not been ended. Used by the
/// transports to turn a valid token into an `AuthContext`; one narrow
/// statement.
pub async fn caller(
    state: &AppState,
    tenant: TenantId,
    user: UserId,
    session: Uuid,
) -> AppResult<Option<Caller>> {
    use sea_orm::sea_query::{ExprTrait, Query};
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(refresh_token::Entity)
        .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::TenantId)).eq(tenant.0))
        .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::FamilyId)).eq(session))
        .and_where(Expr::col((refresh_token::Entity, refresh_token::Column::RevokedAt)).is_null())
        .to_owned();
    Ok(TenantScope(tenant)
        .find_id::<user::Entity>(user.0)
        .filter(user::Column::Active.eq(true))
        .filter(Expr::exists(live_session))
        .select_only()
        .column(user::Column::Role)
        .column_as(tenant::Column::Currency, "currency")
        .column_as(tenant::Column::Timezone, "timezone")
        .join(
            sea_orm::JoinType::InnerJoin,
            sea_orm::RelationTrait::def(&user::Relation::Tenant),
        )
        .into_model::<Caller>()
        .one(&state.db)
        .await?)
}

/// A user of the caller's tenant (NOT_FOUND for any other).
pub async fn user(state: &AppState, auth: AuthContext, id: UserId) -> AppResult<user::Model> {
    find_user(state, TenantScope(auth.tenant), id.0).await
}

/// The caller's tenant.
pub async fn tenant(state: &AppState, auth: AuthContext) -> AppResult<tenant::Model> {
    tenant::Entity::find_by_id(auth.tenant.0)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("tenant"))
}

/// The tenant's users by name; inactive ones only when asked for.
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

/// Adds a user to the caller's tenant (ADMIN only, checked by the caller's
/// guard). The password is hashed under the hashing budget before any
/// transaction opens; an email already in the tenant is BAD_USER_INPUT.
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

/// Renames, changes the role of, or (de)activates a user. Deactivation
/// revokes the user's sessions in the same transaction, and the last active
/// ADMIN cannot be demoted or deactivated: a tenant must never lock itself
/// out.
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

/// Renames the tenant or changes its currency or time zone (which moves
/// "today" and so which opportunities are LATE).
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
