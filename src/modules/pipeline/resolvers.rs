use crate::scalars::Decimal;
use async_graphql::{Context, ID, Object};

use super::service;
use super::types::{
    CreatePipelineInput, ExchangeRateGql, Pipeline, SourceGql, Stage, StageInput,
    UpdatePipelineInput, UpdateStageInput,
};
use crate::auth::{ContextAuth, RoleGuard};
use crate::domain::{PipelineId, SourceId, StageId};
use crate::error::{AppError, GqlResult};
use crate::graphql::ContextState;
use crate::tenancy::TenantScope;

#[derive(Default)]
pub struct PipelineQuery;

#[Object]
impl PipelineQuery {
    /// The tenant's pipelines in order; archived ones only when asked for.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 5)")]
    async fn pipelines(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] include_archived: Option<bool>,
    ) -> GqlResult<Vec<Pipeline>> {
        let rows = service::pipelines(ctx.state()?, ctx.auth()?, include_archived.unwrap_or(false))
            .await?;
        Ok(rows.into_iter().map(Pipeline).collect())
    }

    /// One pipeline: the board. NOT_FOUND (and null) when it does not
    /// exist in your tenant.
    async fn pipeline(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Pipeline>> {
        let auth = ctx.auth()?;
        let id = PipelineId::parse(&id)?.0;
        let p = service::find_pipeline(&ctx.state()?.db, TenantScope(auth.tenant), id).await?;
        Ok(Some(Pipeline(p)))
    }

    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 10)")]
    async fn sources(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] include_archived: Option<bool>,
    ) -> GqlResult<Vec<SourceGql>> {
        let rows =
            service::sources(ctx.state()?, ctx.auth()?, include_archived.unwrap_or(false)).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Rates into the tenant currency, by currency.
    async fn exchange_rates(&self, ctx: &Context<'_>) -> GqlResult<Vec<ExchangeRateGql>> {
        let rows = service::exchange_rates(ctx.state()?, ctx.auth()?).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct PipelineMutation;

#[Object]
impl PipelineMutation {
    /// Sets how many units of the tenant currency one unit of `currency` is
    /// worth (> 0, up to 9 decimals). Aggregates use it at once.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn set_exchange_rate(
        &self,
        ctx: &Context<'_>,
        currency: String,
        rate: Decimal,
    ) -> GqlResult<ExchangeRateGql> {
        let r = service::set_exchange_rate(
            ctx.state()?,
            ctx.auth()?,
            ctx.tenant_settings()?,
            &currency,
            rate.0,
        )
        .await?;
        Ok(r.into())
    }

    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn create_pipeline(
        &self,
        ctx: &Context<'_>,
        input: CreatePipelineInput,
    ) -> GqlResult<Pipeline> {
        Ok(Pipeline(
            service::create_pipeline(ctx.state()?, ctx.auth()?, input.into()).await?,
        ))
    }

    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_pipeline(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePipelineInput,
    ) -> GqlResult<Pipeline> {
        let id = PipelineId::parse(&id)?;
        Ok(Pipeline(
            service::update_pipeline(ctx.state()?, ctx.auth()?, id, input.into()).await?,
        ))
    }

    /// Hides the pipeline from listings; its opportunities stay. An
    /// archived pipeline's stages take no new opportunities (creating or
    /// moving one there is BAD_USER_INPUT) until it is unarchived.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn archive_pipeline(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Pipeline> {
        let id = PipelineId::parse(&id)?;
        Ok(Pipeline(
            service::set_pipeline_archived(ctx.state()?, ctx.auth()?, id, true).await?,
        ))
    }

    /// Brings an archived pipeline back to the board, with everything it
    /// held. Unarchiving a pipeline that is not archived changes nothing.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn unarchive_pipeline(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Pipeline> {
        let id = PipelineId::parse(&id)?;
        Ok(Pipeline(
            service::set_pipeline_archived(ctx.state()?, ctx.auth()?, id, false).await?,
        ))
    }

    /// Adds a stage at `position` (from 0; default: last).
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn add_stage(
        &self,
        ctx: &Context<'_>,
        pipeline_id: ID,
        input: StageInput,
        position: Option<i32>,
    ) -> GqlResult<Stage> {
        let id = PipelineId::parse(&pipeline_id)?;
        Ok(Stage(
            service::add_stage(ctx.state()?, ctx.auth()?, id, input.into(), position).await?,
        ))
    }

    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_stage(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateStageInput,
    ) -> GqlResult<Stage> {
        let id = StageId::parse(&id)?;
        Ok(Stage(
            service::update_stage(ctx.state()?, ctx.auth()?, id, input.into()).await?,
        ))
    }

    /// `stageIds` must name exactly the pipeline's stages, in the new order.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn reorder_stages(
        &self,
        ctx: &Context<'_>,
        pipeline_id: ID,
        stage_ids: Vec<ID>,
    ) -> GqlResult<Pipeline> {
        let id = PipelineId::parse(&pipeline_id)?;
        let ids = stage_ids
            .iter()
            .map(|s| StageId::parse(s).map(|i| i.0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pipeline(
            service::reorder_stages(ctx.state()?, ctx.auth()?, id, ids).await?,
        ))
    }

    /// Deletes a stage. When opportunities are in it, `moveOpportunitiesTo`
    /// (any stage of the tenant) is required and they move there, with
    /// history. The last stage of a pipeline cannot be deleted.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn delete_stage(
        &self,
        ctx: &Context<'_>,
        id: ID,
        move_opportunities_to: Option<ID>,
    ) -> GqlResult<bool> {
        let id = StageId::parse(&id)?;
        let to = move_opportunities_to
            .map(|t| StageId::parse(&t).map(|i| i.0))
            .transpose()?;
        let (state, auth) = (ctx.state()?, ctx.auth()?);
        let scope = TenantScope(auth.tenant);
        // one transaction across the two modules that own the rows
        let txn = crate::db::begin_write(&state.db)
            .await
            .map_err(AppError::from)?;
        let (stage, target) = service::stage_for_deletion_in(&txn, scope, id, to).await?;
        let events = crate::modules::opportunity::service::move_all_from_stage_in(
            &txn,
            scope,
            Some(auth.user.0),
            &stage,
            target.as_ref(),
        )
        .await?;
        service::delete_stage_in(&txn, scope, &stage).await?;
        crate::events::commit_with(&state.events, txn, events).await?;
        Ok(true)
    }

    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn create_source(&self, ctx: &Context<'_>, name: String) -> GqlResult<SourceGql> {
        Ok(service::create_source(ctx.state()?, ctx.auth()?, &name)
            .await?
            .into())
    }

    /// Renames or (un)archives a source.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_source(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        archived: Option<bool>,
    ) -> GqlResult<SourceGql> {
        let id = SourceId::parse(&id)?;
        Ok(
            service::update_source(ctx.state()?, ctx.auth()?, id, name, archived)
                .await?
                .into(),
        )
    }
}
