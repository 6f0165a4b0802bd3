//! The pipeline module's domain types: what its commands take and the
//! values it stores.
#![allow(unused_imports)]
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::{Patch, Role};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub struct StageInput {
    /// 1 to 100 characters, unique in the pipeline.
    pub name: String,
    /// 0..100.
    pub probability: i32,
    /// At least 1.
    pub rotten_after_days: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct CreatePipelineInput {
    /// 1 to 100 characters, unique in the tenant.
    pub name: String,
    /// At least one, in order.
    pub stages: Vec<StageInput>,
}

#[derive(Debug, Clone)]
pub struct UpdatePipelineInput {
    pub name: Option<String>,
    /// Moves the pipeline to this place (from 0) among the tenant's pipelines.
    pub position: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct UpdateStageInput {
    pub name: Option<String>,
    pub probability: Option<i32>,
    pub rotten_after_days: Option<i32>,
}
