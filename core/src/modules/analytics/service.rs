//! The analytics queries. Counting, summing and grouping happen in SQL;
//! opportunities are never loaded into Rust. Periods are calendar days in
//! the tenant's time zone: their bounds are turned into UTC instants here
//! and compared with the stored timestamps in SQL.
use std::collections::HashMap;
use std::ops::AddAssign;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use entity::{opportunity, pipeline, source, stage, stage_change, user};
use sea_orm::sea_query::{CaseStatement, Expr, JoinType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, ExprTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Select, Statement,
};
use uuid::Uuid;

use super::model::ForecastGroupBy;
use crate::auth::{AuthContext, TenantSettings};
use crate::error::{AppError, AppResult};
use crate::modules::pipeline::service::{find_pipeline, find_source};
use crate::tenancy::TenantScope;

/// A longer forecast would not be readable as monthly buckets, and the
/// month grouping builds one CASE branch per month.
const MAX_FORECAST_MONTHS: u32 = 60;

use crate::modules::opportunity::query::{
    join_money, potential_sql, weighted_converted_sql as weighted_sql,
};

/// SUM that is 0 over no rows and BIGINT on both backends (PostgreSQL
/// sums bigints into numeric).
fn sum(expr: &str) -> Expr {
    Expr::cust(format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)"))
}

fn sum_if(cond: &str, expr: &str) -> Expr {
    sum(&format!("CASE WHEN {cond} THEN {expr} ELSE 0 END"))
}

fn int_col(r: &QueryResult, col: &str) -> AppResult<i64> {
    Ok(r.try_get::<i64>("", col)?)
}

// ------------------------------------------------------------------ periods

/// `Timezone` keeps its `Tz` to itself; its name always parses back.
fn zone(settings: &TenantSettings) -> AppResult<Tz> {
    settings
        .timezone
        .name()
        .parse::<Tz>()
        .map_err(|e| AppError::Internal(format!("tenant time zone: {e}").into()))
}

/// The instant `day` begins in `tz`. Where a DST change skips midnight, the
/// day begins at the first local time that exists.
fn day_start(tz: Tz, day: NaiveDate) -> AppResult<DateTime<Utc>> {
    let midnight = day.and_time(NaiveTime::MIN);
    (0..=24 * 60)
        .find_map(|m| {
            tz.from_local_datetime(&(midnight + Duration::minutes(m)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| AppError::Internal(format!("no start of day for {day} in {tz}").into()))
}

fn next_day(day: NaiveDate, field: &'static str) -> AppResult<NaiveDate> {
    day.succ_opt()
        .ok_or_else(|| AppError::bad_input(field, format!("{field} is out of range")))
}

fn check_order(from: Option<NaiveDate>, to: Option<NaiveDate>) -> AppResult<()> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(AppError::bad_input("to", "to must not be before from")),
        _ => Ok(()),
    }
}

/// `column` within the days `from..=to` of the tenant's zone; either end
/// may be open.
fn instant_range<C: ColumnTrait>(
    tz: Tz,
    column: C,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<Condition> {
    let mut cond = Condition::all();
    if let Some(f) = from {
        cond = cond.add(column.gte(day_start(tz, f)?));
    }
    if let Some(t) = to {
        cond = cond.add(column.lt(day_start(tz, next_day(t, "to")?)?));
    }
    Ok(cond)
}

async fn find_user<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<user::Model> {
    scope
        .find_id::<user::Entity>(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))
}

// ----------------------------------------------------------------- forecast

#[derive(Clone, Copy, Debug)]
pub struct ForecastParams {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: ForecastGroupBy,
    pub pipeline_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
}

/// Cents are in the tenant currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForecastTotals {
    pub open_count: i64,
    pub potential_cents: i64,
    pub weighted_cents: i64,
    pub won_count: i64,
    pub won_cents: i64,
}

impl AddAssign for ForecastTotals {
    fn add_assign(&mut self, o: Self) {
        self.open_count += o.open_count;
        self.potential_cents += o.potential_cents;
        self.weighted_cents += o.weighted_cents;
        self.won_count += o.won_count;
        self.won_cents += o.won_cents;
    }
}

#[derive(Clone, Debug)]
pub struct ForecastBucketData {
    pub key: String,
    pub label: String,
    pub totals: ForecastTotals,
}

#[derive(Clone, Debug)]
pub struct ForecastData {
    pub total: ForecastTotals,
    pub buckets: Vec<ForecastBucketData>,
}

/// A group as the SQL returns it: a month's index in the period, or the id
/// in the grouped column (null for no source).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum GroupKey {
    Month(i32),
    Id(Option<Uuid>),
}

/// The first days of the period's months, then that of the month after:
/// the bucket boundaries.
struct MonthSplit {
    firsts: Vec<NaiveDate>,
}

impl MonthSplit {
    fn of(from: NaiveDate, to: NaiveDate) -> AppResult<Self> {
        let bad = || AppError::bad_input("to", "the period is out of range");
        let mut m = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).ok_or_else(bad)?;
        let mut firsts = Vec::new();
        while m <= to {
            firsts.push(m);
            m = m.checked_add_months(Months::new(1)).ok_or_else(bad)?;
        }
        firsts.push(m);
        Ok(Self { firsts })
    }

    fn count(&self) -> usize {
        self.firsts.len() - 1
    }

    /// Month `i` for rows whose `before(first day of month i + 1)` holds,
    /// tried in order; rows are already within the period.
    fn case(&self, before: impl Fn(NaiveDate) -> AppResult<Condition>) -> AppResult<Expr> {
        let mut case = CaseStatement::new();
        for (i, next) in self.firsts.iter().skip(1).enumerate() {
            case = case.case(before(*next)?, Expr::cust(i.to_string()));
        }
        Ok(case.into())
    }
}

/// The two statements a forecast runs: open opportunities due in the
/// period, and opportunities won in it, each grouped in SQL. Public so that
/// the benchmark can time them bare.
pub fn forecast_statements(
    backend: DbBackend,
    scope: TenantScope,
    settings: &TenantSettings,
    p: &ForecastParams,
) -> AppResult<[Statement; 2]> {
    let tz = zone(settings)?;
    let mut filters = Condition::all();
    if let Some(id) = p.pipeline_id {
        filters = filters.add(opportunity::Column::PipelineId.eq(id));
    }
    if let Some(id) = p.owner_id {
        filters = filters.add(opportunity::Column::OwnerId.eq(id));
    }
    let open = Condition::all()
        .add(opportunity::Column::Status.eq("OPEN"))
        .add(opportunity::Column::DueDate.gte(p.from))
        .add(opportunity::Column::DueDate.lte(p.to))
        .add(filters.clone());
    let won = Condition::all()
        .add(opportunity::Column::Status.eq("WON"))
        .add(instant_range(
            tz,
            opportunity::Column::ClosedAt,
            Some(p.from),
            Some(p.to),
        )?)
        .add(filters);
    let (open_key, won_key): (Expr, Expr) = match p.group_by {
        ForecastGroupBy::Month => {
            let months = MonthSplit::of(p.from, p.to)?;
            (
                months
                    .case(|next| Ok(Condition::all().add(opportunity::Column::DueDate.lt(next))))?,
                months.case(|next| {
                    Ok(
                        Condition::all()
                            .add(opportunity::Column::ClosedAt.lt(day_start(tz, next)?)),
                    )
                })?,
            )
        }
        ForecastGroupBy::Stage => by_column(opportunity::Column::StageId),
        ForecastGroupBy::Owner => by_column(opportunity::Column::OwnerId),
        ForecastGroupBy::Pipeline => by_column(opportunity::Column::PipelineId),
        ForecastGroupBy::Source => by_column(opportunity::Column::SourceId),
    };
    Ok([
        grouped(scope, settings, open, open_key).build(backend),
        grouped(scope, settings, won, won_key).build(backend),
    ])
}

/// Open and won rows grouped by the same column.
fn by_column(c: opportunity::Column) -> (Expr, Expr) {
    let e = Expr::col((opportunity::Entity, c));
    (e.clone(), e)
}

/// Count, converted potential and weighted potential per `key`.
fn grouped(
    scope: TenantScope,
    settings: &TenantSettings,
    cond: Condition,
    key: Expr,
) -> Select<opportunity::Entity> {
    let mut select = scope.find::<opportunity::Entity>().filter(cond);
    join_money(QueryTrait::query(&mut select));
    select
        .select_only()
        .column_as(key, "k")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(sum(&potential_sql(settings)), "p")
        .column_as(sum(&weighted_sql(settings)), "w")
        .group_by(Expr::cust("k"))
}

/// Runs a `grouped` statement: key → (count, potential, weighted).
async fn run_grouped(
    db: &DatabaseConnection,
    stmt: Statement,
    month: bool,
) -> AppResult<HashMap<GroupKey, (i64, i64, i64)>> {
    let mut out = HashMap::new();
    for r in db.query_all_raw(stmt).await? {
        let key = if month {
            GroupKey::Month(r.try_get::<i32>("", "k")?)
        } else {
            GroupKey::Id(r.try_get::<Option<Uuid>>("", "k")?)
        };
        out.insert(
            key,
            (int_col(&r, "n")?, int_col(&r, "p")?, int_col(&r, "w")?),
        );
    }
    Ok(out)
}

pub async fn forecast(
    db: &DatabaseConnection,
    auth: AuthContext,
    settings: &TenantSettings,
    p: ForecastParams,
) -> AppResult<ForecastData> {
    let scope = TenantScope(auth.tenant);
    check_order(Some(p.from), Some(p.to))?;
    let limit = p
        .from
        .checked_add_months(Months::new(MAX_FORECAST_MONTHS))
        .ok_or_else(|| AppError::bad_input("from", "from is out of range"))?;
    if p.to >= limit {
        return Err(AppError::bad_input(
            "to",
            "the period must not be longer than 5 years",
        ));
    }
    if let Some(id) = p.pipeline_id {
        find_pipeline(db, scope, id).await?;
    }
    if let Some(id) = p.owner_id {
        find_user(db, scope, id).await?;
    }
    let month = p.group_by == ForecastGroupBy::Month;
    let [open_stmt, won_stmt] =
        forecast_statements(db.get_database_backend(), scope, settings, &p)?;
    let open = run_grouped(db, open_stmt, month).await?;
    let won = run_grouped(db, won_stmt, month).await?;

    let mut totals: HashMap<GroupKey, ForecastTotals> = HashMap::new();
    for (k, (n, pot, w)) in open {
        let t = totals.entry(k).or_default();
        t.open_count = n;
        t.potential_cents = pot;
        t.weighted_cents = w;
    }
    for (k, (n, pot, _)) in won {
        let t = totals.entry(k).or_default();
        t.won_count = n;
        t.won_cents = pot;
    }
    let buckets = if month {
        month_buckets(p.from, p.to, &totals)?
    } else {
        named_buckets(db, scope, p.group_by, &totals).await?
    };
    let mut total = ForecastTotals::default();
    for b in &buckets {
        total += b.totals;
    }
    Ok(ForecastData { total, buckets })
}

fn month_buckets(
    from: NaiveDate,
    to: NaiveDate,
    totals: &HashMap<GroupKey, ForecastTotals>,
) -> AppResult<Vec<ForecastBucketData>> {
    let months = MonthSplit::of(from, to)?;
    // every first day but the last, which only closes the final month
    Ok(months
        .firsts
        .iter()
        .take(months.count())
        .enumerate()
        .map(|(i, first)| ForecastBucketData {
            key: first.format("%Y-%m").to_string(),
            label: first.format("%B %Y").to_string(),
            totals: i32::try_from(i)
                .ok()
                .and_then(|i| totals.get(&GroupKey::Month(i)))
                .copied()
                .unwrap_or_default(),
        })
        .collect())
}

/// Names the id groups and puts them in the order the client shows them:
/// board order for stages and pipelines, names for owners and sources.
async fn named_buckets(
    db: &DatabaseConnection,
    scope: TenantScope,
    group_by: ForecastGroupBy,
    totals: &HashMap<GroupKey, ForecastTotals>,
) -> AppResult<Vec<ForecastBucketData>> {
    let ids: Vec<Uuid> = totals
        .keys()
        .filter_map(|k| match k {
            GroupKey::Id(Some(id)) => Some(*id),
            _ => None,
        })
        .collect();
    // (sort key, label) per id
    let mut names: HashMap<Uuid, ((i64, i64, String), String)> = HashMap::new();
    match group_by {
        ForecastGroupBy::Stage => {
            let stages = scope
                .find::<stage::Entity>()
                .filter(stage::Column::Id.is_in(ids))
                .all(db)
                .await?;
            let pipelines: HashMap<Uuid, i64> = scope
                .find::<pipeline::Entity>()
                .filter(pipeline::Column::Id.is_in(stages.iter().map(|s| s.pipeline_id)))
                .all(db)
                .await?
                .into_iter()
                .map(|p| (p.id, i64::from(p.position)))
                .collect();
            for s in stages {
                let order = (
                    pipelines.get(&s.pipeline_id).copied().unwrap_or(i64::MAX),
                    i64::from(s.position),
                    s.name.to_lowercase(),
                );
                names.insert(s.id, (order, s.name));
            }
        }
        ForecastGroupBy::Pipeline => {
            for p in scope
                .find::<pipeline::Entity>()
                .filter(pipeline::Column::Id.is_in(ids))
                .all(db)
                .await?
            {
                names.insert(p.id, ((i64::from(p.position), 0, String::new()), p.name));
            }
        }
        ForecastGroupBy::Owner => {
            for u in scope
                .find::<user::Entity>()
                .filter(user::Column::Id.is_in(ids))
                .all(db)
                .await?
            {
                names.insert(u.id, ((0, 0, u.name.to_lowercase()), u.name));
            }
        }
        // months are named by `month_buckets`
        ForecastGroupBy::Month => {}
        ForecastGroupBy::Source => {
            for s in scope
                .find::<source::Entity>()
                .filter(source::Column::Id.is_in(ids))
                .all(db)
                .await?
            {
                names.insert(s.id, ((0, 0, s.name.to_lowercase()), s.name));
            }
        }
    }
    let mut rows: Vec<((i64, i64, String), ForecastBucketData)> = totals
        .iter()
        .map(|(k, t)| {
            let (order, key, label) = match k {
                GroupKey::Id(Some(id)) => match names.get(id) {
                    Some((order, label)) => (order.clone(), id.to_string(), label.clone()),
                    None => ((i64::MAX, 0, String::new()), id.to_string(), id.to_string()),
                },
                // only sources are nullable
                _ => (
                    (i64::MAX, i64::MAX, String::new()),
                    "none".to_string(),
                    "No source".to_string(),
                ),
            };
            (
                order,
                ForecastBucketData {
                    key,
                    label,
                    totals: *t,
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
    Ok(rows.into_iter().map(|r| r.1).collect())
}

// ------------------------------------------------------- source performance

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

// ------------------------------------------------------------------- funnel

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
const ADVANCED_SQL: &str = "opportunities.status = 'WON' OR EXISTS (SELECT 1 FROM stage_changes n INNER JOIN stages ns ON ns.id = n.to_stage_id AND ns.tenant_id = n.tenant_id WHERE n.tenant_id = stage_changes.tenant_id AND n.opportunity_id = stage_changes.opportunity_id AND n.changed_at > stage_changes.changed_at AND ns.pipeline_id = stages.pipeline_id AND ns.position > stages.position)";

/// The days a stay lasted: until the opportunity's next stage change, else
/// until it was closed (a stay that began after closing lasted nothing),
/// else until now. The date arithmetic is the one thing the backends spell
/// differently.
fn stay_days_sql(backend: DbBackend) -> String {
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
