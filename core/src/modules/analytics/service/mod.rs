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

mod forecast;
mod funnel;
mod sources;
pub use forecast::*;
pub use funnel::*;
pub use sources::*;

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
    scope.get::<user::Entity, _>(conn, id, "user").await
}

// ----------------------------------------------------------------- forecast

// ------------------------------------------------------- source performance

// ------------------------------------------------------------------- funnel
