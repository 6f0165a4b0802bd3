//! The stage funnel: how many reached each stage, advanced, and how long they stayed.
use super::*;

#[derive(Clone, Debug)]
pub struct FunnelStats {
    pub stage: stage::Model,
    pub entered: i64,
    pub advanced: i64,
    pub won: i64,
    pub lost: i64,
    pub average_days: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct FunnelParams {
    pub pipeline_id: Uuid,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub source_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
}

/// A later stage change of the same opportunity, into a stage placed after
/// this one in the same pipeline.
pub(super) const ADVANCED_SQL: &str = "opportunities.status = 'WON' OR EXISTS (SELECT 1 FROM stage_changes n INNER JOIN stages ns ON ns.id = n.to_stage_id AND ns.tenant_id = n.tenant_id WHERE n.tenant_id = stage_changes.tenant_id AND n.opportunity_id = stage_changes.opportunity_id AND n.changed_at > stage_changes.changed_at AND ns.pipeline_id = stages.pipeline_id AND ns.position > stages.position)";

/// The days a stay lasted: until the opportunity's next stage change, else
/// until it was closed (a stay that began after closing lasted nothing),
/// else until now. The date arithmetic is the one thing the backends spell
/// differently.
pub(super) fn stay_days_sql(backend: DbBackend) -> String {
    let next = "(SELECT MIN(n.changed_at) FROM stage_changes n WHERE n.tenant_id = stage_changes.tenant_id AND n.opportunity_id = stage_changes.opportunity_id AND n.changed_at > stage_changes.changed_at)";
    let closed = "(CASE WHEN opportunities.closed_at > stage_changes.changed_at THEN opportunities.closed_at WHEN opportunities.closed_at IS NOT NULL THEN stage_changes.changed_at END)";
    match backend {
        DbBackend::Postgres => format!(
            "EXTRACT(EPOCH FROM (COALESCE({next}, {closed}, CURRENT_TIMESTAMP) - stage_changes.changed_at)) / 86400"
        ),
        _ => format!(
            "(COALESCE(julianday({next}), julianday({closed}), julianday('now')) - julianday(stage_changes.changed_at))"
        ),
    }
}

/// One row per live stage of the pipeline, in board order, from the stage
/// history: one statement, grouped by stage.
pub async fn funnel(
    db: &DatabaseConnection,
    auth: AuthContext,
    settings: &TenantSettings,
    p: FunnelParams,
) -> AppResult<Vec<FunnelStats>> {
    let scope = TenantScope(auth.tenant);
    check_order(p.from, p.to)?;
    let pipeline = find_pipeline(db, scope, p.pipeline_id).await?;
    let mut cond = instant_range(
        zone(settings)?,
        stage_change::Column::ChangedAt,
        p.from,
        p.to,
    )?;
    if let Some(id) = p.source_id {
        cond = cond.add(opportunity::Column::SourceId.eq(find_source(db, scope, id).await?.id));
    }
    if let Some(id) = p.owner_id {
        cond = cond.add(opportunity::Column::OwnerId.eq(find_user(db, scope, id).await?.id));
    }
    let stages = scope
        .find::<stage::Entity>()
        .filter(stage::Column::PipelineId.eq(pipeline.id))
        .filter(stage::Column::Deleted.eq(false))
        .order_by_asc(stage::Column::Position)
        .order_by_asc(stage::Column::CreatedAt)
        .all(db)
        .await?;
    let mut select = scope
        .find::<stage_change::Entity>()
        .filter(stage_change::Column::ToStageId.is_in(stages.iter().map(|s| s.id)))
        .filter(cond);
    QueryTrait::query(&mut select)
        .join(
            JoinType::InnerJoin,
            opportunity::Entity,
            Condition::all()
                .add(
                    Expr::col((opportunity::Entity, opportunity::Column::Id))
                        .equals((stage_change::Entity, stage_change::Column::OpportunityId)),
                )
                .add(
                    Expr::col((opportunity::Entity, opportunity::Column::TenantId))
                        .equals((stage_change::Entity, stage_change::Column::TenantId)),
                ),
        )
        .join(
            JoinType::InnerJoin,
            stage::Entity,
            Expr::col((stage::Entity, stage::Column::Id))
                .equals((stage_change::Entity, stage_change::Column::ToStageId)),
        );
    let backend = db.get_database_backend();
    let distinct_if = |cond: &str| {
        Expr::cust(format!(
            "COUNT(DISTINCT CASE WHEN {cond} THEN stage_changes.opportunity_id END)"
        ))
    };
    let select = select
        .select_only()
        .column_as(stage_change::Column::ToStageId, "k")
        .column_as(
            Expr::cust("COUNT(DISTINCT stage_changes.opportunity_id)"),
            "entered",
        )
        .column_as(distinct_if(ADVANCED_SQL), "advanced")
        .column_as(distinct_if("opportunities.status = 'WON'"), "won")
        .column_as(distinct_if("opportunities.status = 'LOST'"), "lost")
        .column_as(
            Expr::cust(format!(
                "CAST(AVG({}) AS DOUBLE PRECISION)",
                stay_days_sql(backend)
            )),
            "days",
        )
        .group_by(stage_change::Column::ToStageId);
    let mut found: HashMap<Uuid, QueryResult> = HashMap::new();
    for r in db.query_all_raw(select.build(backend)).await? {
        found.insert(r.try_get("", "k")?, r);
    }
    stages
        .into_iter()
        .map(|stage| {
            let Some(r) = found.get(&stage.id) else {
                return Ok(FunnelStats {
                    stage,
                    entered: 0,
                    advanced: 0,
                    won: 0,
                    lost: 0,
                    average_days: None,
                });
            };
            Ok(FunnelStats {
                entered: int_col(r, "entered")?,
                advanced: int_col(r, "advanced")?,
                won: int_col(r, "won")?,
                lost: int_col(r, "lost")?,
                average_days: r.try_get::<Option<f64>>("", "days")?,
                stage,
            })
        })
        .collect()
}
