use async_graphql::{Context, ID, Object};

use super::service::{self, ForecastParams, FunnelParams};
use super::types::{
    Forecast, ForecastBucket, ForecastGroupBy, ForecastInput, FunnelStage, SourcePerformance,
};
use crate::auth::ContextAuth;
use crate::domain::{PipelineId, SourceId, UserId};
use crate::error::GqlResult;
use crate::graphql::ContextState;
use crate::scalars::Date;

#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// Open business due in a period and business won in it, grouped by
    /// month (default), stage, owner, pipeline or source. A period longer
    /// than 5 years, or ending before it starts, is BAD_USER_INPUT.
    async fn forecast(&self, ctx: &Context<'_>, input: ForecastInput) -> GqlResult<Forecast> {
        let settings = ctx.tenant_settings()?;
        let params = ForecastParams {
            from: input.from.0,
            to: input.to.0,
            group_by: input.group_by.unwrap_or(ForecastGroupBy::Month).into(),
            pipeline_id: input
                .pipeline_id
                .as_ref()
                .map(|id| PipelineId::parse(id).map(|i| i.0))
                .transpose()?,
            owner_id: input
                .owner_id
                .as_ref()
                .map(|id| UserId::parse(id).map(|i| i.0))
                .transpose()?,
        };
        let data = service::forecast(&ctx.state()?.db, ctx.auth()?, settings, params).await?;
        let currency = settings.currency.as_str();
        Ok(Forecast {
            currency: currency.to_string(),
            total: ForecastBucket::new("total".into(), "Total".into(), &data.total, currency),
            buckets: data
                .buckets
                .into_iter()
                .map(|b| ForecastBucket::from_data(b, currency))
                .collect(),
        })
    }

    /// Per marketing source, what the opportunities created in the period
    /// (by `createdAt`, in the tenant's time zone; all of them without
    /// `from` and `to`) have become. Sources come by name, archived ones
    /// only when they have opportunities; the last row, with a null
    /// `source`, counts the opportunities without one.
    async fn source_performance(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
        pipeline_id: Option<ID>,
    ) -> GqlResult<Vec<SourcePerformance>> {
        let settings = ctx.tenant_settings()?;
        let pipeline = pipeline_id
            .as_ref()
            .map(|id| PipelineId::parse(id).map(|i| i.0))
            .transpose()?;
        let rows = service::source_performance(
            &ctx.state()?.db,
            ctx.auth()?,
            settings,
            from.map(|d| d.0),
            to.map(|d| d.0),
            pipeline,
        )
        .await?;
        let currency = settings.currency.as_str();
        Ok(rows
            .into_iter()
            .map(|s| SourcePerformance::new(s, currency))
            .collect())
    }

    /// How opportunities moved through the pipeline's stages, from the stage
    /// history: one row per stage, in board order. `from` and `to` select
    /// the stage entries (by when they happened, in the tenant's time zone);
    /// `sourceId` and `ownerId` the opportunities.
    async fn funnel(
        &self,
        ctx: &Context<'_>,
        pipeline_id: ID,
        from: Option<Date>,
        to: Option<Date>,
        source_id: Option<ID>,
        owner_id: Option<ID>,
    ) -> GqlResult<Vec<FunnelStage>> {
        let params = FunnelParams {
            pipeline_id: PipelineId::parse(&pipeline_id)?.0,
            from: from.map(|d| d.0),
            to: to.map(|d| d.0),
            source_id: source_id
                .as_ref()
                .map(|id| SourceId::parse(id).map(|i| i.0))
                .transpose()?,
            owner_id: owner_id
                .as_ref()
                .map(|id| UserId::parse(id).map(|i| i.0))
                .transpose()?,
        };
        let rows = service::funnel(
            &ctx.state()?.db,
            ctx.auth()?,
            ctx.tenant_settings()?,
            params,
        )
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
