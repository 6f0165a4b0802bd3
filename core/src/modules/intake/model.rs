//! The intake module's domain types: what its commands take and the
//! values it stores.
#![allow(unused_imports)]
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::{Patch, Role};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub struct IntakeKeyInput {
    /// 1 to 200 characters, e.g. the website it is for.
    pub name: String,
    /// Where opportunities created with the key land.
    pub stage_id: String,
    /// The source given to what the key creates.
    pub source_id: Option<String>,
}
