//! GraphQL types of the analytics queries.
use async_graphql::{Enum, ID, InputObject, SimpleObject};

use super::service::{ForecastBucketData, ForecastTotals, FunnelStats, SourceStats};
use crate::modules::pipeline::types::{SourceGql, Stage};
use crate::money::Money;
use crate::scalars::Date;

/// How `forecast` splits its period.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::analytics::model::ForecastGroupBy")]
pub enum ForecastGroupBy {
    /// One bucket per calendar month of the period, keyed "2026-11", every
    /// month present even when empty.
    Month,
    /// By the opportunity's current stage, keyed by stage id.
    Stage,
    /// By owner, keyed by user id.
    Owner,
    /// By the opportunity's current pipeline, keyed by pipeline id.
    Pipeline,
    /// By source, keyed by source id; "none" for opportunities without one.
    Source,
}

#[derive(InputObject)]
pub struct ForecastInput {
    /// First day of the period, in the tenant's time zone.
    pub from: Date,
    /// Last day of the period, included. At most 5 years after `from`.
    pub to: Date,
    #[graphql(default_with = "Some(ForecastGroupBy::Month)")]
    pub group_by: Option<ForecastGroupBy>,
    /// Only this pipeline's opportunities.
    pub pipeline_id: Option<ID>,
    /// Only this user's opportunities.
    pub owner_id: Option<ID>,
}

/// One group of a forecast. Amounts are in the tenant currency: each
/// opportunity is converted at the current exchange rate and rounded to the
/// cent before summing, so buckets add up exactly.
#[derive(SimpleObject, Clone, Debug)]
pub struct ForecastBucket {
    /// "2026-11" for a month; a stage, owner, pipeline or source id; "none"
    /// for opportunities without a source; "total" for the total.
    pub key: String,
    /// For display: "November 2026", or the stage, user, pipeline or source
    /// name.
    pub label: String,
    /// Open opportunities (OPEN or LATE) whose due date is in the period.
    pub open_count: i32,
    /// Their potential.
    pub potential: Money,
    /// Their potential × probability.
    pub weighted_potential: Money,
    /// Opportunities won in the period (by `closedAt`, in the tenant's time
    /// zone), whatever their due date.
    pub won_count: i32,
    /// Their potential.
    pub won_amount: Money,
}

impl ForecastBucket {
    pub fn new(key: String, label: String, t: &ForecastTotals, currency: &str) -> Self {
        Self {
            key,
            label,
            open_count: int(t.open_count),
            potential: Money::from_cents(t.potential_cents, currency),
            weighted_potential: Money::from_cents(t.weighted_cents, currency),
            won_count: int(t.won_count),
            won_amount: Money::from_cents(t.won_cents, currency),
        }
    }

    pub fn from_data(b: ForecastBucketData, currency: &str) -> Self {
        Self::new(b.key, b.label, &b.totals, currency)
    }
}

/// Expected and won business over a period.
#[derive(SimpleObject, Clone, Debug)]
pub struct Forecast {
    /// The tenant currency, which every amount is in.
    pub currency: String,
    /// The sum of the buckets.
    pub total: ForecastBucket,
    /// Months in calendar order; stages and pipelines in board order; owners
    /// and sources by name, "none" last. Apart from months, groups with
    /// nothing in the period are left out.
    pub buckets: Vec<ForecastBucket>,
}

/// What the opportunities of one source became. Amounts are in the tenant
/// currency.
#[derive(SimpleObject)]
pub struct SourcePerformance {
    /// Null for opportunities without a source.
    pub source: Option<SourceGql>,
    /// Opportunities created in the period.
    pub opportunities: i32,
    /// Of those, still open (OPEN or LATE).
    pub open: i32,
    pub won: i32,
    pub lost: i32,
    /// won / (won + lost); 0 when none is closed.
    pub win_rate: f64,
    /// Potential of the won ones.
    pub won_amount: Money,
    /// Weighted potential of the open ones.
    pub open_weighted_potential: Money,
}

impl SourcePerformance {
    pub fn new(s: SourceStats, currency: &str) -> Self {
        let closed = s.won + s.lost;
        Self {
            source: s.source.map(Into::into),
            opportunities: int(s.opportunities),
            open: int(s.open),
            won: int(s.won),
            lost: int(s.lost),
            win_rate: ratio(s.won, closed),
            won_amount: Money::from_cents(s.won_cents, currency),
            open_weighted_potential: Money::from_cents(s.open_weighted_cents, currency),
        }
    }
}

/// How opportunities went through one stage of a pipeline.
#[derive(SimpleObject)]
pub struct FunnelStage {
    pub stage: Stage,
    /// Opportunities that moved into (or were created in) this stage in the
    /// period, each counted once.
    pub entered: i32,
    /// Of those, the ones that afterwards reached a later stage of this
    /// pipeline, or were won.
    pub advanced: i32,
    /// Of those entered, the ones now won.
    pub won: i32,
    /// Of those entered, the ones now lost.
    pub lost: i32,
    /// advanced / entered; 0 when none entered.
    pub conversion_rate: f64,
    /// Mean time, in days, of the stays that began in the period: from
    /// entering the stage to the next stage change, else to being won or
    /// lost, else until now. Null when none entered.
    pub average_days_in_stage: Option<f64>,
}

impl From<FunnelStats> for FunnelStage {
    fn from(f: FunnelStats) -> Self {
        Self {
            stage: Stage(f.stage),
            entered: int(f.entered),
            advanced: int(f.advanced),
            won: int(f.won),
            lost: int(f.lost),
            conversion_rate: ratio(f.advanced, f.entered),
            average_days_in_stage: f.average_days,
        }
    }
}

fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

// The GraphQL inputs and enums convert into the domain's at this boundary.
