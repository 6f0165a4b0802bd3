//! Marketing sources.
use super::*;

/// The tenant's marketing sources.
pub async fn sources(
    state: &AppState,
    auth: AuthContext,
    include_archived: bool,
) -> AppResult<Vec<source::Model>> {
    let mut q = TenantScope(auth.tenant).find::<source::Entity>();
    if !include_archived {
        q = q.filter(source::Column::Archived.eq(false));
    }
    Ok(q.order_by_asc(source::Column::Name).all(&state.db).await?)
}

/// A source of the tenant (NOT_FOUND for any other).
pub async fn find_source<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<source::Model> {
    scope.get::<source::Entity, _>(conn, id, "source").await
}

pub(super) fn duplicate_source() -> AppError {
    AppError::bad_input("name", "a source with this name already exists")
}

/// Adds a marketing source; names are unique in the tenant.
pub async fn create_source(
    state: &AppState,
    auth: AuthContext,
    name: &str,
) -> AppResult<source::Model> {
    let name = short_name("name", name)?;
    TenantScope(auth.tenant)
        .stamp(source::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name),
            archived: Set(false),
            created_at: Set(now()),
            ..Default::default()
        })
        .insert(&state.db)
        .await
        .map_err(|e| AppError::from_unique(e, duplicate_source))
}

/// Renames or archives a source; its opportunities keep it.
pub async fn update_source(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::SourceId,
    name: Option<String>,
    archived: Option<bool>,
) -> AppResult<source::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let name = name.as_deref().map(|n| short_name("name", n)).transpose()?;
    let s = find_source(&state.db, scope, id).await?;
    let mut update = scope
        .update_many::<source::Entity>()
        .filter(source::Column::Id.eq(s.id));
    let mut changed = false;
    if let Some(n) = name {
        update = update.col_expr(source::Column::Name, Expr::value(n));
        changed = true;
    }
    if let Some(a) = archived {
        update = update.col_expr(source::Column::Archived, Expr::value(a));
        changed = true;
    }
    if changed {
        update
            .exec(&state.db)
            .await
            .map_err(|e| AppError::from_unique(e, duplicate_source))?;
    }
    find_source(&state.db, scope, id).await
}
