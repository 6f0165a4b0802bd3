use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::query::{self, ListQuery, StageColumnKey};
use super::service;
use super::types::{
    CreateOpportunityInput, Opportunity, OpportunityConnection, OpportunityContactInput,
    OpportunityFilter, OpportunityOrder, UpdateOpportunityInput,
};
use crate::auth::{ContextAuth, RoleGuard};
use crate::domain::{ContactId, OpportunityId, StageId};
use crate::error::{AppResult, GqlResult};
use crate::graphql::ContextState;
use crate::loaders::load_one;
use crate::pagination::{connection_complexity, page_size};
use crate::tenancy::TenantScope;
use crm_core::modules::opportunity::model::SortDirection;

async fn connection(
    ctx: &Context<'_>,
    q: ListQuery,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<OpportunityConnection> {
    let first = page_size(first)?;
    let page = query::page(
        &ctx.state()?.db,
        &q,
        ctx.tenant_settings()?,
        first,
        after.as_deref(),
    )
    .await?;
    Ok(OpportunityConnection {
        rows: page.rows,
        page_info: page.page_info,
        query: Arc::new(q),
        totals: OnceCell::new(),
    })
}

/// A board column. Its first page comes through a loader (one statement
/// for all the columns of a board); later pages are ordinary list pages.
pub async fn stage_column(
    ctx: &Context<'_>,
    stage: Uuid,
    mask: u8,
    order: Option<crm_core::modules::opportunity::model::OpportunityOrder>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<OpportunityConnection> {
    let scope = TenantScope(ctx.auth()?.tenant);
    let custom = service::custom_sort(&ctx.state()?.db, scope, order.as_ref()).await?;
    let order = order.map_or(query::COLUMN_ORDER, |o| {
        (o.field, o.direction.unwrap_or(SortDirection::Asc))
    });
    let mut q = query::stage_column(scope, stage, mask, ctx.tenant_settings()?.today(), order);
    if custom.is_some() {
        q.custom = custom;
        q.list = crate::pagination::ListKey::of(&("stage", stage, mask, order, custom));
    }
    // the board's first pages in its own order come from one batch for all
    // columns; a later page, or a column in another order, is its own query
    if after.is_some() || order != query::COLUMN_ORDER {
        return connection(ctx, q, first, after).await;
    }
    let first = page_size(first)?;
    let rows = load_one(ctx, StageColumnKey { stage, mask, first })
        .await?
        .unwrap_or_default();
    let page = query::column_page(&q, rows, first);
    Ok(OpportunityConnection {
        page_info: page.page_info,
        rows: page.rows,
        query: Arc::new(q),
        totals: OnceCell::new(),
    })
}

/// The opportunities a contact is on, newest first.
pub async fn contact_opportunities(
    ctx: &Context<'_>,
    contact: Uuid,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<OpportunityConnection> {
    let q = query::contact_opportunities(TenantScope(ctx.auth()?.tenant), contact);
    connection(ctx, q, first, after).await
}

#[derive(Default)]
pub struct OpportunityQuery;

#[Object]
impl OpportunityQuery {
    /// Filtered, sorted (default: newest first) and keyset-paginated.
    /// With `view`, the saved view's filter and order (an explicit
    /// `filter` or `orderBy` replaces the view's).
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn opportunities(
        &self,
        ctx: &Context<'_>,
        filter: Option<OpportunityFilter>,
        order_by: Option<OpportunityOrder>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        view: Option<ID>,
    ) -> GqlResult<OpportunityConnection> {
        let (filter, order_by) = crate::modules::saved_view::resolve(
            ctx.state()?,
            ctx.auth()?,
            view.as_ref(),
            filter,
            order_by,
        )
        .await?;
        let q = service::list_query(
            &ctx.state()?.db,
            ctx.auth()?,
            ctx.tenant_settings()?,
            &filter.unwrap_or_default().into(),
            order_by.map(Into::into),
        )
        .await?;
        Ok(connection(ctx, q, first, after).await?)
    }

    /// NOT_FOUND (and null) when it does not exist in your tenant.
    async fn opportunity(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Opportunity>> {
        let auth = ctx.auth()?;
        let o = service::find(
            &ctx.state()?.db,
            TenantScope(auth.tenant),
            OpportunityId::parse(&id)?.0,
        )
        .await?;
        Ok(Some(Opportunity(o)))
    }
}

#[derive(Default)]
pub struct OpportunityMutation;

#[Object]
impl OpportunityMutation {
    /// Creates an opportunity in a stage, with its next reference number.
    async fn create_opportunity(
        &self,
        ctx: &Context<'_>,
        input: CreateOpportunityInput,
    ) -> GqlResult<Opportunity> {
        Ok(Opportunity(
            service::create(
                ctx.state()?,
                ctx.auth()?,
                ctx.tenant_settings()?,
                input.into(),
            )
            .await?,
        ))
    }

    /// With `expectedVersion`, fails with CONFLICT (changing nothing) when
    /// someone else changed the opportunity first.
    async fn update_opportunity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateOpportunityInput,
        expected_version: Option<i32>,
    ) -> GqlResult<Opportunity> {
        let id = OpportunityId::parse(&id)?;
        Ok(Opportunity(
            service::update(
                ctx.state()?,
                ctx.auth()?,
                ctx.tenant_settings()?,
                id,
                input.into(),
                expected_version,
            )
            .await?,
        ))
    }

    /// Moves to any stage of any of the tenant's pipelines.
    async fn move_opportunity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        stage_id: ID,
        expected_version: Option<i32>,
    ) -> GqlResult<Opportunity> {
        let id = OpportunityId::parse(&id)?;
        let stage = StageId::parse(&stage_id)?;
        Ok(Opportunity(
            service::move_to(ctx.state()?, ctx.auth()?, id, stage, expected_version).await?,
        ))
    }

    /// Its contacts (and their companies) become clients.
    async fn mark_opportunity_won(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: Option<i32>,
    ) -> GqlResult<Opportunity> {
        let id = OpportunityId::parse(&id)?;
        Ok(Opportunity(
            service::mark_won(ctx.state()?, ctx.auth()?, id, expected_version).await?,
        ))
    }

    async fn mark_opportunity_lost(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
        expected_version: Option<i32>,
    ) -> GqlResult<Opportunity> {
        let id = OpportunityId::parse(&id)?;
        Ok(Opportunity(
            service::mark_lost(ctx.state()?, ctx.auth()?, id, &reason, expected_version).await?,
        ))
    }

    async fn reopen_opportunity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: Option<i32>,
    ) -> GqlResult<Opportunity> {
        let id = OpportunityId::parse(&id)?;
        Ok(Opportunity(
            service::reopen(ctx.state()?, ctx.auth()?, id, expected_version).await?,
        ))
    }

    /// ADMIN and MANAGER only.
    #[graphql(guard = "RoleGuard::MANAGERS")]
    async fn delete_opportunity(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let id = OpportunityId::parse(&id)?;
        Ok(service::delete(ctx.state()?, ctx.auth()?, id).await?)
    }

    async fn add_opportunity_contact(
        &self,
        ctx: &Context<'_>,
        opportunity_id: ID,
        input: OpportunityContactInput,
    ) -> GqlResult<Opportunity> {
        let id = OpportunityId::parse(&opportunity_id)?;
        Ok(Opportunity(
            service::add_contact(ctx.state()?, ctx.auth()?, id, input.into()).await?,
        ))
    }

    async fn remove_opportunity_contact(
        &self,
        ctx: &Context<'_>,
        opportunity_id: ID,
        contact_id: ID,
    ) -> GqlResult<Opportunity> {
        let id = OpportunityId::parse(&opportunity_id)?;
        let contact = ContactId::parse(&contact_id)?;
        Ok(Opportunity(
            service::remove_contact(ctx.state()?, ctx.auth()?, id, contact).await?,
        ))
    }
}
