//! The analytics module's domain types: what its commands take and the
//! values it stores.
#![allow(unused_imports)]
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::{Patch, Role};
use crate::error::{AppError, AppResult};

/// How `forecast` splits its period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
