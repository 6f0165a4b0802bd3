//! GraphQL types of pipelines, stages, sources and exchange rates.
use crate::scalars::Decimal;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::ContextAuth;
use crate::error::GqlResult;
use crate::loaders::{PipelineKey, load_one};
use crate::modules::opportunity::types::{
    OpportunityConnection, OpportunityOrder, OpportunityStatus, status_mask,
};
use crate::modules::opportunity::{self, Totals};
use crate::money::{Money, rate_to_decimal};
use crate::pagination::{connection_complexity, count_i32};

/// An ordered sequence of stages that opportunities move through.
pub struct Pipeline(pub entity::pipeline::Model);

#[Object]
impl Pipeline {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Order among the tenant's pipelines, from 0.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// Archived pipelines are hidden from `pipelines` unless asked for.
    async fn archived(&self) -> bool {
        self.0.archived
    }
    /// The stages in order.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 10)")]
    async fn stages(&self, ctx: &Context<'_>) -> GqlResult<Vec<Stage>> {
        let stages = load_one(ctx, super::service::PipelineStagesKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(stages.into_iter().map(Stage).collect())
    }
    /// One stage of this pipeline, to load one board column on its own (its
    /// `opportunities(after:)` pages further). NOT_FOUND (and null) when
    /// the id is not a stage of this pipeline.
    async fn stage(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Stage>> {
        let id = crate::domain::StageId::parse(&id)?.0;
        let stages = load_one(ctx, super::service::PipelineStagesKey(self.0.id))
            .await?
            .unwrap_or_default();
        let stage = stages
            .into_iter()
            .find(|s| s.id == id)
            .ok_or(crate::error::AppError::NotFound("stage"))?;
        Ok(Some(Stage(stage)))
    }
    /// Open (OPEN + LATE) opportunities of this pipeline.
    async fn open_count(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        Ok(count_i32(self.open_totals(ctx).await?.count))
    }
    /// Their potential, in the tenant currency.
    async fn open_potential(&self, ctx: &Context<'_>) -> GqlResult<Money> {
        let t = self.open_totals(ctx).await?;
        Ok(Money::from_cents(
            t.potential_cents,
            ctx.tenant_settings()?.currency.as_str(),
        ))
    }
    /// Their weighted potential, in the tenant currency.
    async fn open_weighted_potential(&self, ctx: &Context<'_>) -> GqlResult<Money> {
        let t = self.open_totals(ctx).await?;
        Ok(Money::from_cents(
            t.weighted_cents,
            ctx.tenant_settings()?.currency.as_str(),
        ))
    }
}

impl Pipeline {
    async fn open_totals(&self, ctx: &Context<'_>) -> GqlResult<Totals> {
        Ok(load_one(ctx, opportunity::PipelineTotalsKey(self.0.id))
            .await?
            .unwrap_or_default())
    }
}

/// A step of a pipeline. Its probability is the default probability of the
/// opportunities in it.
pub struct Stage(pub entity::stage::Model);

fn default_statuses() -> Option<Vec<OpportunityStatus>> {
    Some(vec![OpportunityStatus::Open, OpportunityStatus::Late])
}

#[Object]
impl Stage {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Order within the pipeline, from 0.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// 0..100.
    async fn probability(&self) -> i32 {
        self.0.probability
    }
    /// An open opportunity with no stage change or activity for this many
    /// days is rotting.
    async fn rotten_after_days(&self) -> Option<i32> {
        self.0.rotten_after_days
    }
    async fn pipeline(&self, ctx: &Context<'_>) -> GqlResult<Pipeline> {
        let p = load_one(ctx, PipelineKey(self.0.pipeline_id)).await?;
        Ok(Pipeline(
            p.ok_or(crate::error::AppError::NotFound("pipeline"))?,
        ))
    }
    /// The board column: by default the opportunities still in play,
    /// newest first; `orderBy` sorts the column as the opportunities list
    /// does. Its cursors belong to this column, statuses and order: a
    /// cursor from another column is BAD_USER_INPUT.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn opportunities(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "default_statuses()")] statuses: Option<Vec<OpportunityStatus>>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        order_by: Option<OpportunityOrder>,
    ) -> GqlResult<OpportunityConnection> {
        Ok(opportunity::resolvers::stage_column(
            ctx,
            self.0.id,
            status_mask(statuses.as_deref()),
            order_by.map(Into::into),
            first,
            after,
        )
        .await?)
    }
    async fn count(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "default_statuses()")] statuses: Option<Vec<OpportunityStatus>>,
    ) -> GqlResult<i32> {
        Ok(count_i32(self.totals(ctx, statuses).await?.count))
    }
    /// In the tenant currency.
    async fn total_potential(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "default_statuses()")] statuses: Option<Vec<OpportunityStatus>>,
    ) -> GqlResult<Money> {
        let t = self.totals(ctx, statuses).await?;
        Ok(Money::from_cents(
            t.potential_cents,
            ctx.tenant_settings()?.currency.as_str(),
        ))
    }
    /// In the tenant currency.
    async fn weighted_potential(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "default_statuses()")] statuses: Option<Vec<OpportunityStatus>>,
    ) -> GqlResult<Money> {
        let t = self.totals(ctx, statuses).await?;
        Ok(Money::from_cents(
            t.weighted_cents,
            ctx.tenant_settings()?.currency.as_str(),
        ))
    }
}

impl Stage {
    async fn totals(
        &self,
        ctx: &Context<'_>,
        statuses: Option<Vec<OpportunityStatus>>,
    ) -> GqlResult<Totals> {
        let key = opportunity::StageTotalsKey(self.0.id, status_mask(statuses.as_deref()));
        Ok(load_one(ctx, key).await?.unwrap_or_default())
    }
}

/// A marketing channel opportunities and contacts come from.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Source")]
pub struct SourceGql {
    pub id: ID,
    pub name: String,
    pub archived: bool,
}

impl From<entity::source::Model> for SourceGql {
    fn from(m: entity::source::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name,
            archived: m.archived,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "ExchangeRate")]
pub struct ExchangeRateGql {
    pub currency: String,
    /// Units of the tenant currency for one unit of `currency`.
    pub rate: Decimal,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::exchange_rate::Model> for ExchangeRateGql {
    fn from(m: entity::exchange_rate::Model) -> Self {
        Self {
            currency: m.currency,
            rate: Decimal(rate_to_decimal(m.rate_nanos)),
            updated_at: m.updated_at,
        }
    }
}

#[derive(InputObject)]
pub struct StageInput {
    /// 1 to 100 characters, unique in the pipeline.
    pub name: String,
    /// 0..100.
    pub probability: i32,
    /// At least 1.
    pub rotten_after_days: Option<i32>,
}

#[derive(InputObject)]
pub struct CreatePipelineInput {
    /// 1 to 100 characters, unique in the tenant.
    pub name: String,
    /// At least one, in order.
    pub stages: Vec<StageInput>,
}

#[derive(InputObject)]
pub struct UpdatePipelineInput {
    pub name: Option<String>,
    /// Moves the pipeline to this place (from 0) among the tenant's pipelines.
    pub position: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateStageInput {
    pub name: Option<String>,
    pub probability: Option<i32>,
    pub rotten_after_days: Option<i32>,
}

// The GraphQL inputs and enums convert into the domain's at this boundary.

impl From<StageInput> for crm_core::modules::pipeline::model::StageInput {
    fn from(i: StageInput) -> Self {
        Self {
            name: i.name,
            probability: i.probability,
            rotten_after_days: i.rotten_after_days,
        }
    }
}

impl From<CreatePipelineInput> for crm_core::modules::pipeline::model::CreatePipelineInput {
    fn from(i: CreatePipelineInput) -> Self {
        Self {
            name: i.name,
            stages: i.stages.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<UpdatePipelineInput> for crm_core::modules::pipeline::model::UpdatePipelineInput {
    fn from(i: UpdatePipelineInput) -> Self {
        Self {
            name: i.name,
            position: i.position,
        }
    }
}

impl From<UpdateStageInput> for crm_core::modules::pipeline::model::UpdateStageInput {
    fn from(i: UpdateStageInput) -> Self {
        Self {
            name: i.name,
            probability: i.probability,
            rotten_after_days: i.rotten_after_days,
        }
    }
}
