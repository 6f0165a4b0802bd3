//! Source performance: what each marketing channel brought in and won.
use super::*;

/// Cents are in the tenant currency.
#[derive(Clone, Debug)]
pub struct SourceStats {
    pub source: Option<source::Model>,
    pub opportunities: i64,
    pub open: i64,
    pub won: i64,
    pub lost: i64,
    pub won_cents: i64,
    pub open_weighted_cents: i64,
}

/// One row per source of the tenant (archived ones only when they have
/// opportunities in the period), by name, then the row of opportunities
/// without a source.
pub async fn source_performance(
    db: &DatabaseConnection,
    auth: AuthContext,
    settings: &TenantSettings,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    pipeline_id: Option<Uuid>,
) -> AppResult<Vec<SourceStats>> {
    let scope = TenantScope(auth.tenant);
    check_order(from, to)?;
    let mut cond = instant_range(zone(settings)?, opportunity::Column::CreatedAt, from, to)?;
    if let Some(id) = pipeline_id {
        cond = cond.add(opportunity::Column::PipelineId.eq(find_pipeline(db, scope, id).await?.id));
    }
    let mut select = scope.find::<opportunity::Entity>().filter(cond);
    join_money(QueryTrait::query(&mut select));
    let select = select
        .select_only()
        .column_as(opportunity::Column::SourceId, "k")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(sum_if("opportunities.status = 'OPEN'", "1"), "open")
        .column_as(sum_if("opportunities.status = 'WON'", "1"), "won")
        .column_as(sum_if("opportunities.status = 'LOST'", "1"), "lost")
        .column_as(
            sum_if("opportunities.status = 'WON'", &potential_sql(settings)),
            "won_cents",
        )
        .column_as(
            sum_if("opportunities.status = 'OPEN'", &weighted_sql(settings)),
            "open_weighted",
        )
        .group_by(opportunity::Column::SourceId);
    let mut found: HashMap<Option<Uuid>, SourceStats> = HashMap::new();
    for r in db
        .query_all_raw(select.build(db.get_database_backend()))
        .await?
    {
        found.insert(
            r.try_get::<Option<Uuid>>("", "k")?,
            SourceStats {
                source: None,
                opportunities: int_col(&r, "n")?,
                open: int_col(&r, "open")?,
                won: int_col(&r, "won")?,
                lost: int_col(&r, "lost")?,
                won_cents: int_col(&r, "won_cents")?,
                open_weighted_cents: int_col(&r, "open_weighted")?,
            },
        );
    }
    let empty = || SourceStats {
        source: None,
        opportunities: 0,
        open: 0,
        won: 0,
        lost: 0,
        won_cents: 0,
        open_weighted_cents: 0,
    };
    let mut sources = scope.find::<source::Entity>().all(db).await?;
    // case-insensitive, and the same on both backends whatever the collation
    sources.sort_by_cached_key(|s| (s.name.to_lowercase(), s.id));
    let mut out = Vec::with_capacity(sources.len() + 1);
    for s in sources {
        let stats = found.remove(&Some(s.id));
        if s.archived && stats.is_none() {
            continue;
        }
        out.push(SourceStats {
            source: Some(s),
            ..stats.unwrap_or_else(empty)
        });
    }
    out.push(found.remove(&None).unwrap_or_else(empty));
    Ok(out)
}
