//! The opportunity list (a page with its totals).
use super::*;

#[derive(SimpleObject)]
pub struct OpportunityEdge {
    pub cursor: String,
    pub node: Opportunity,
}

/// A page of opportunities. The totals cover every match, not just the
/// page, and are computed by the database only when asked for.
pub struct OpportunityConnection {
    pub rows: Vec<(String, entity::opportunity::Model)>,
    pub page_info: crm_core::pagination::PageInfo,
    pub query: Arc<ListQuery>,
    pub totals: OnceCell<Totals>,
}

impl OpportunityConnection {
    pub(super) async fn totals(&self, ctx: &Context<'_>) -> AppResult<&Totals> {
        let state = ctx.state()?;
        let settings: &TenantSettings = ctx.tenant_settings()?;
        self.totals
            .get_or_try_init(|| async {
                super::super::query::totals(&state.db, &self.query, settings).await
            })
            .await
    }
}

#[Object]
impl OpportunityConnection {
    async fn edges(&self) -> Vec<OpportunityEdge> {
        self.rows
            .iter()
            .map(|(c, m)| OpportunityEdge {
                cursor: c.clone(),
                node: Opportunity(m.clone()),
            })
            .collect()
    }
    async fn nodes(&self) -> Vec<Opportunity> {
        self.rows
            .iter()
            .map(|(_, m)| Opportunity(m.clone()))
            .collect()
    }
    async fn page_info(&self) -> PageInfo {
        PageInfo::from(&self.page_info)
    }
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        Ok(count_i32(self.totals(ctx).await?.count))
    }
    /// Over every match, in the tenant currency.
    async fn total_potential(&self, ctx: &Context<'_>) -> GqlResult<Money> {
        let t = self.totals(ctx).await?;
        Ok(Money::from_cents(
            t.potential_cents,
            ctx.tenant_settings()?.currency.as_str(),
        ))
    }
    /// Over every match, in the tenant currency.
    async fn total_weighted_potential(&self, ctx: &Context<'_>) -> GqlResult<Money> {
        let t = self.totals(ctx).await?;
        Ok(Money::from_cents(
            t.weighted_cents,
            ctx.tenant_settings()?.currency.as_str(),
        ))
    }
}
