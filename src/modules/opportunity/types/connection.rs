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

/// Loads, for a page of opportunities, every relation the client selected
/// on them, one statement per relation and all before any row resolves:
/// the rows then find their stage, owner, contacts... at once, with no
/// batching window to wait for. `node` is the selection of one row.
pub async fn prime_page(
    ctx: &Context<'_>,
    node: async_graphql::Lookahead<'_>,
    rows: &[entity::opportunity::Model],
) -> AppResult<()> {
    use crate::loaders::{ContactKey, found_only, or_default, prime};
    // a page inside a list (a board column among the stages) leaves its
    // relations to the loader, which batches them across its siblings:
    // priming each column on its own would cost a statement per column
    let mut at = ctx.path_node.as_ref();
    while let Some(p) = at {
        if matches!(p.segment, async_graphql::QueryPathSegment::Index(_)) {
            return Ok(());
        }
        at = p.parent;
    }
    if rows.is_empty() {
        return Ok(());
    }
    let wants = |f: &str| node.field(f).exists();
    let ids = || rows.iter().map(|r| r.id);
    let mut work: Vec<futures_util::future::BoxFuture<'_, AppResult<()>>> = Vec::new();
    if [
        "stage",
        "probability",
        "probabilitySource",
        "weightedPotential",
    ]
    .iter()
    .any(|f| wants(f))
    {
        work.push(Box::pin(prime(
            ctx,
            rows.iter().map(|r| StageKey(r.stage_id)),
            found_only,
        )));
    }
    if wants("pipeline") {
        work.push(Box::pin(prime(
            ctx,
            rows.iter().map(|r| PipelineKey(r.pipeline_id)),
            found_only,
        )));
    }
    if wants("owner") {
        work.push(Box::pin(prime(
            ctx,
            rows.iter().map(|r| UserKey(r.owner_id)),
            found_only,
        )));
    }
    if wants("source") {
        work.push(Box::pin(prime(
            ctx,
            rows.iter().filter_map(|r| r.source_id.map(SourceKey)),
            found_only,
        )));
    }
    if wants("team") {
        work.push(Box::pin(prime(
            ctx,
            ids().map(super::super::query::TeamKey),
            or_default,
        )));
    }
    if wants("contacts") {
        work.push(Box::pin(prime(
            ctx,
            ids().map(super::super::query::OpportunityContactsKey),
            or_default,
        )));
    }
    if wants("nextActivity") {
        work.push(Box::pin(prime(
            ctx,
            ids().map(activities::NextActivityKey),
            or_default,
        )));
    }
    if wants("tags") {
        work.push(Box::pin(prime(
            ctx,
            ids().map(crm_core::modules::tag::OpportunityTagsKey),
            or_default,
        )));
    }
    if wants("customFields") {
        work.push(Box::pin(prime(
            ctx,
            ids().map(crm_core::modules::custom_field::value::OpportunityValuesKey),
            or_default,
        )));
    }
    if wants("documents") {
        work.push(Box::pin(prime(
            ctx,
            ids().map(crate::modules::activity::documents::DocumentsKey),
            or_default,
        )));
    }
    let primary = node.field("primaryContact");
    let with_company = primary.field("company").exists();
    if primary.exists() {
        // the company comes after its contact: one more statement
        work.push(Box::pin(async move {
            prime(
                ctx,
                ids().map(super::super::query::PrimaryContactKey),
                or_default,
            )
            .await?;
            if with_company {
                let mut companies = Vec::new();
                for id in ids() {
                    if let Some(Some(c)) =
                        load_one(ctx, super::super::query::PrimaryContactKey(id)).await?
                        && let Some(company) = c.company_id
                    {
                        companies.push(ContactKey(company));
                    }
                }
                prime(ctx, companies, found_only).await?;
            }
            Ok(())
        }));
    }
    futures_util::future::try_join_all(work).await?;
    Ok(())
}

#[Object]
impl OpportunityConnection {
    async fn edges(&self, ctx: &Context<'_>) -> GqlResult<Vec<OpportunityEdge>> {
        let rows: Vec<_> = self.rows.iter().map(|(_, m)| m.clone()).collect();
        prime_page(ctx, ctx.look_ahead().field("node"), &rows).await?;
        Ok(self
            .rows
            .iter()
            .map(|(c, m)| OpportunityEdge {
                cursor: c.clone(),
                node: Opportunity(m.clone()),
            })
            .collect())
    }
    async fn nodes(&self, ctx: &Context<'_>) -> GqlResult<Vec<Opportunity>> {
        let rows: Vec<_> = self.rows.iter().map(|(_, m)| m.clone()).collect();
        prime_page(ctx, ctx.look_ahead(), &rows).await?;
        Ok(rows.into_iter().map(Opportunity).collect())
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
