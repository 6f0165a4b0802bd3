//! Saved views: a rep's "my late deals over 10k", reopened every morning.
//! A view is private to its owner unless shared with the tenant (ADMIN
//! or MANAGER share). The only module that writes `saved_views`. The
//! filter and order are kept as the API's own input JSON, so a view
//! reads back exactly as it was written.
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use entity::saved_view;

use crate::auth::AuthContext;
use crate::domain::{Role, SavedViewId};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

/// A view as written: name, the filter and order inputs as JSON, columns.
pub struct NewView {
    pub name: String,
    pub filter: String,
    pub order_by: Option<String>,
    pub columns: Vec<String>,
    pub shared: bool,
}

/// What an update changes; None leaves it.
#[derive(Default)]
pub struct ViewPatch {
    pub name: Option<String>,
    pub filter: Option<String>,
    pub order_by: Option<Option<String>>,
    pub columns: Option<Vec<String>>,
    pub shared: Option<bool>,
}

/// 1 to 100 characters, no control characters.
pub fn name(raw: &str) -> AppResult<String> {
    let n = crate::domain::required_text("name", raw, 100)?;
    if n.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "name",
            "name must not contain control characters",
        ));
    }
    Ok(n)
}

/// At most 50 column names of 1 to 64 of a-z, A-Z, 0-9, `_` and `.`
/// (`custom.<key>` names a custom field).
pub fn columns(raw: Vec<String>) -> AppResult<Vec<String>> {
    if raw.len() > 50 {
        return Err(AppError::bad_input("columns", "at most 50 columns"));
    }
    for c in &raw {
        let ok = (1..=64).contains(&c.len())
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.');
        if !ok {
            return Err(AppError::bad_input(
                "columns",
                format!("{c:?} is not a column name"),
            ));
        }
    }
    Ok(raw)
}

fn may_share(auth: AuthContext) -> AppResult<()> {
    match auth.role {
        Role::Admin | Role::Manager => Ok(()),
        Role::Sales => Err(AppError::Forbidden),
    }
}

/// The caller's views and the tenant's shared ones, by name.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
) -> AppResult<Vec<saved_view::Model>> {
    Ok(TenantScope(auth.tenant)
        .find::<saved_view::Entity>()
        .filter(
            Condition::any()
                .add(saved_view::Column::OwnerId.eq(auth.user.0))
                .add(saved_view::Column::Shared.eq(true)),
        )
        .order_by_asc(saved_view::Column::Name)
        .order_by_asc(saved_view::Column::Id)
        .all(conn)
        .await?)
}

/// A view the caller may use: its own or a shared one (NOT_FOUND for
/// another user's private view, as for any foreign id).
pub async fn find_visible<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
    id: SavedViewId,
) -> AppResult<saved_view::Model> {
    let v = TenantScope(auth.tenant)
        .get::<saved_view::Entity, _>(conn, id.0, "saved view")
        .await?;
    if v.owner_id != auth.user.0 && !v.shared {
        return Err(AppError::NotFound("saved view"));
    }
    Ok(v)
}

/// A view the caller may change: its own, or a shared one for ADMIN and
/// MANAGER.
async fn find_editable<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
    id: SavedViewId,
) -> AppResult<saved_view::Model> {
    let v = find_visible(conn, auth, id).await?;
    if v.owner_id != auth.user.0 {
        may_share(auth)?;
    }
    Ok(v)
}

fn json_columns(c: &[String]) -> AppResult<String> {
    serde_json::to_string(c).map_err(AppError::internal)
}

/// The columns of a stored view.
pub fn columns_of(v: &saved_view::Model) -> Vec<String> {
    serde_json::from_str(&v.columns).unwrap_or_default()
}

pub async fn create(
    state: &AppState,
    auth: AuthContext,
    new: NewView,
) -> AppResult<saved_view::Model> {
    if new.shared {
        may_share(auth)?;
    }
    let ts = now();
    Ok(TenantScope(auth.tenant)
        .stamp(saved_view::ActiveModel {
            id: Set(Uuid::new_v4()),
            owner_id: Set(auth.user.0),
            name: Set(new.name),
            filter: Set(new.filter),
            order_by: Set(new.order_by),
            columns: Set(json_columns(&new.columns)?),
            shared: Set(new.shared),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(&state.db)
        .await?)
}

pub async fn update(
    state: &AppState,
    auth: AuthContext,
    id: SavedViewId,
    patch: ViewPatch,
) -> AppResult<saved_view::Model> {
    let cur = find_editable(&state.db, auth, id).await?;
    if patch.shared.is_some() {
        may_share(auth)?;
    }
    let mut m: saved_view::ActiveModel = cur.into();
    if let Some(n) = patch.name {
        m.name = Set(n);
    }
    if let Some(f) = patch.filter {
        m.filter = Set(f);
    }
    if let Some(o) = patch.order_by {
        m.order_by = Set(o);
    }
    if let Some(c) = patch.columns {
        m.columns = Set(json_columns(&c)?);
    }
    if let Some(s) = patch.shared {
        m.shared = Set(s);
    }
    m.updated_at = Set(now());
    Ok(m.update(&state.db).await?)
}

pub async fn delete(state: &AppState, auth: AuthContext, id: SavedViewId) -> AppResult<bool> {
    let v = find_editable(&state.db, auth, id).await?;
    TenantScope(auth.tenant)
        .delete_many::<saved_view::Entity>()
        .filter(saved_view::Column::Id.eq(v.id))
        .exec(&state.db)
        .await?;
    Ok(true)
}
