//! Saved views as GraphQL shows them, and how a view becomes a list.
use async_graphql::{Context, ID, InputObject, InputType, MaybeUndefined, Object};
use chrono::{DateTime, Utc};

use crate::auth::{AuthContext, ContextAuth, TenantSettings};
use crate::domain::SavedViewId;
use crate::error::{AppError, AppResult, GqlResult};
use crate::graphql::ContextState;
use crate::modules::opportunity::types::{OpportunityFilter, OpportunityOrder};
use crate::state::AppState;
use crm_core::modules::saved_view as service;

/// A named opportunities list: filter, order and the columns a table
/// shows. Private to its owner unless `shared` with the tenant. Use it as
/// `opportunities(view: id)` or in `GET /export/opportunities.csv?view=id`.
pub struct SavedView(pub entity::saved_view::Model);

#[Object]
impl SavedView {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The `OpportunityFilter` it was saved with, as JSON.
    async fn filter(&self) -> &str {
        &self.0.filter
    }
    /// The `OpportunityOrder` it was saved with, as JSON; null for the
    /// list's default order.
    async fn order_by(&self) -> Option<&str> {
        self.0.order_by.as_deref()
    }
    /// The columns a table shows, in order (the client's own names).
    async fn columns(&self) -> Vec<String> {
        service::columns_of(&self.0)
    }
    async fn shared(&self) -> bool {
        self.0.shared
    }
    /// Whether the caller owns it (others' shared views are read-only
    /// to SALES).
    async fn mine(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        Ok(self.0.owner_id == ctx.auth()?.user.0)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct CreateSavedViewInput {
    /// 1 to 100 characters, unique among your views.
    pub name: String,
    pub filter: Option<OpportunityFilter>,
    pub order_by: Option<OpportunityOrder>,
    /// At most 50 names of 1 to 64 of a-z, A-Z, 0-9, `_` and `.`.
    pub columns: Option<Vec<String>>,
    /// Shown to the whole tenant; ADMIN and MANAGER only.
    #[graphql(default)]
    pub shared: bool,
}

/// Fields left out stay as they are; `orderBy: null` goes back to the
/// default order.
#[derive(InputObject)]
pub struct UpdateSavedViewInput {
    pub name: Option<String>,
    pub filter: Option<OpportunityFilter>,
    pub order_by: MaybeUndefined<OpportunityOrder>,
    pub columns: Option<Vec<String>>,
    pub shared: Option<bool>,
}

fn to_json<T: InputType>(v: &T) -> AppResult<String> {
    serde_json::to_string(&v.to_value().into_json().map_err(AppError::internal)?)
        .map_err(AppError::internal)
}

fn from_json<T: InputType>(raw: &str) -> AppResult<T> {
    let json: serde_json::Value = serde_json::from_str(raw).map_err(AppError::internal)?;
    let value = async_graphql::Value::from_json(json).map_err(AppError::internal)?;
    T::parse(Some(value)).map_err(|e| {
        AppError::bad_input(
            "view",
            format!(
                "the view no longer reads as a filter ({}): save it again",
                e.into_server_error(async_graphql::Pos::default()).message
            ),
        )
    })
}

/// A filter is checked as a list would check it (its IDs must be the
/// tenant's) before it is saved.
async fn checked_filter(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    filter: &OpportunityFilter,
) -> AppResult<String> {
    crm_core::modules::opportunity::service::list_query(
        &state.db,
        auth,
        settings,
        &filter.clone().into(),
        None,
    )
    .await?;
    to_json(filter)
}

/// The filter and order of a list with `view`: the view's, each replaced
/// by the one given explicitly.
pub async fn resolve(
    state: &AppState,
    auth: AuthContext,
    view: Option<&ID>,
    filter: Option<OpportunityFilter>,
    order_by: Option<OpportunityOrder>,
) -> AppResult<(Option<OpportunityFilter>, Option<OpportunityOrder>)> {
    let Some(view) = view else {
        return Ok((filter, order_by));
    };
    let v = service::find_visible(&state.db, auth, SavedViewId::parse(view)?).await?;
    let filter = match filter {
        Some(f) => Some(f),
        None => Some(from_json(&v.filter)?),
    };
    let order_by = match (order_by, &v.order_by) {
        (Some(o), _) => Some(o),
        (None, Some(raw)) => Some(from_json(raw)?),
        (None, None) => None,
    };
    Ok((filter, order_by))
}

#[derive(Default)]
pub struct SavedViewQuery;

#[Object]
impl SavedViewQuery {
    /// Your views and the tenant's shared ones, by name.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 20)")]
    async fn saved_views(&self, ctx: &Context<'_>) -> GqlResult<Vec<SavedView>> {
        let rows = service::list(&ctx.state()?.db, ctx.auth()?).await?;
        Ok(rows.into_iter().map(SavedView).collect())
    }
}

#[derive(Default)]
pub struct SavedViewMutation;

#[Object]
impl SavedViewMutation {
    async fn create_saved_view(
        &self,
        ctx: &Context<'_>,
        input: CreateSavedViewInput,
    ) -> GqlResult<SavedView> {
        let state = ctx.state()?;
        let auth = ctx.auth()?;
        let filter = input.filter.unwrap_or_default();
        let new = service::NewView {
            name: service::name(&input.name)?,
            filter: checked_filter(state, auth, ctx.tenant_settings()?, &filter).await?,
            order_by: input.order_by.as_ref().map(to_json).transpose()?,
            columns: service::columns(input.columns.unwrap_or_default())?,
            shared: input.shared,
        };
        Ok(SavedView(service::create(state, auth, new).await?))
    }

    /// Your own views; shared ones too for ADMIN and MANAGER.
    async fn update_saved_view(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateSavedViewInput,
    ) -> GqlResult<SavedView> {
        let state = ctx.state()?;
        let auth = ctx.auth()?;
        let id = SavedViewId::parse(&id)?;
        let filter = match &input.filter {
            Some(f) => Some(checked_filter(state, auth, ctx.tenant_settings()?, f).await?),
            None => None,
        };
        let order_by = match &input.order_by {
            MaybeUndefined::Value(o) => Some(Some(to_json(o)?)),
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Undefined => None,
        };
        let patch = service::ViewPatch {
            name: input.name.as_deref().map(service::name).transpose()?,
            filter,
            order_by,
            columns: input.columns.map(service::columns).transpose()?,
            shared: input.shared,
        };
        Ok(SavedView(service::update(state, auth, id, patch).await?))
    }

    /// Your own views; shared ones too for ADMIN and MANAGER.
    async fn delete_saved_view(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let id = SavedViewId::parse(&id)?;
        Ok(service::delete(ctx.state()?, ctx.auth()?, id).await?)
    }
}
