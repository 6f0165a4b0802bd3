//! The opportunity module's domain types: what its commands take and the
//! values it stores.
#![allow(unused_imports)]
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::{Patch, Role};
use crate::error::{AppError, AppResult};

/// OPEN and LATE partition the opportunities still in play: LATE once the
/// due date has passed in the tenant's time zone (the due date itself is
/// the last day on which it is still OPEN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpportunityStatus {
    Open,
    Late,
    Won,
    Lost,
}

/// Where an opportunity's probability comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbabilitySource {
    /// The stage's probability.
    Stage,
    /// `probabilityOverride`.
    Manual,
    /// WON (100) or LOST (0).
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpportunitySortField {
    /// Opportunities without a due date come last (first when descending).
    DueDate,
    CreatedAt,
    UpdatedAt,
    /// In the tenant currency.
    Potential,
    /// In the tenant currency.
    WeightedPotential,
    /// Case-insensitive.
    Title,
    /// The custom field `customFieldKey` names.
    CustomField,
}

#[derive(Debug, Clone)]
pub struct OpportunityOrder {
    pub field: OpportunitySortField,
    pub direction: Option<SortDirection>,
    /// With `CustomField`: the field's key.
    pub custom_field_key: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct OpportunityFilter {
    pub pipeline_id: Option<String>,
    pub stage_ids: Option<Vec<String>>,
    pub statuses: Option<Vec<OpportunityStatus>>,
    pub owner_id: Option<String>,
    pub source_id: Option<String>,
    pub contact_id: Option<String>,
    /// Inclusive.
    pub due_after: Option<NaiveDate>,
    /// Inclusive.
    pub due_before: Option<NaiveDate>,
    /// Case-insensitive, on reference, title and contact names.
    pub search: Option<String>,
    /// Has at least one of these tags.
    pub tags_any: Option<Vec<String>>,
    /// Has every one of these tags.
    pub tags_all: Option<Vec<String>>,
    /// Passes every one of these custom-field filters.
    pub custom_fields: Option<Vec<crate::modules::custom_field::value::RawFilter>>,
}

#[derive(Debug, Clone)]
pub struct OpportunityContactInput {
    pub contact_id: String,
    /// "decision maker", "buyer", ...
    pub role: Option<String>,
    pub is_primary: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateOpportunityInput {
    /// 1 to 200 characters.
    pub title: String,
    /// Decides the pipeline too.
    pub stage_id: String,
    /// >= 0; rounded half away from zero to 2 decimals.
    pub potential: Decimal,
    /// Default: the tenant currency. Others need an exchange rate.
    pub currency: Option<String>,
    pub due_date: Option<NaiveDate>,
    /// Default: the caller. SALES always own what they create.
    pub owner_id: Option<String>,
    pub team_ids: Option<Vec<String>>,
    pub source_id: Option<String>,
    /// The first contact is primary unless one says otherwise.
    pub contacts: Option<Vec<OpportunityContactInput>>,
    /// 0..100; replaces the stage's probability.
    pub probability_override: Option<i32>,
    pub tag_ids: Option<Vec<String>>,
    pub custom_fields: Option<Vec<crate::modules::custom_field::value::RawValue>>,
    /// Its id in the system it comes from: unique in the tenant.
    pub external_id: Option<String>,
}

/// Fields left out stay as they are; `null` clears dueDate, sourceId and
/// probabilityOverride.
#[derive(Debug, Clone)]
pub struct UpdateOpportunityInput {
    pub title: Option<String>,
    pub potential: Option<Decimal>,
    pub currency: Option<String>,
    pub due_date: Patch<NaiveDate>,
    pub owner_id: Option<String>,
    /// Replaces the whole team.
    pub team_ids: Option<Vec<String>>,
    pub source_id: Patch<String>,
    pub probability_override: Patch<i32>,
    /// Back to the stage's probability.
    pub clear_probability_override: Option<bool>,
    /// Replaces every tag.
    pub tag_ids: Option<Vec<String>>,
    /// Sets the fields named (a value with no member clears its field);
    /// fields not named stay as they are.
    pub custom_fields: Option<Vec<crate::modules::custom_field::value::RawValue>>,
}

pub const OPEN: u8 = 1;

pub const LATE: u8 = 2;

pub const WON: u8 = 4;

pub const LOST: u8 = 8;

/// A set of statuses as bits; absent means all four.
pub fn status_mask(statuses: Option<&[OpportunityStatus]>) -> u8 {
    match statuses {
        None => OPEN | LATE | WON | LOST,
        Some(list) => list.iter().fold(0, |m, s| {
            m | match s {
                OpportunityStatus::Open => OPEN,
                OpportunityStatus::Late => LATE,
                OpportunityStatus::Won => WON,
                OpportunityStatus::Lost => LOST,
            }
        }),
    }
}

/// The derived status of a stored row, given today in the tenant's zone.
pub fn derive_status(
    m: &entity::opportunity::Model,
    today: chrono::NaiveDate,
) -> OpportunityStatus {
    use entity::opportunity::Status;
    match m.status {
        Status::Won => OpportunityStatus::Won,
        Status::Lost => OpportunityStatus::Lost,
        Status::Open if m.due_date.is_some_and(|d| d < today) => OpportunityStatus::Late,
        Status::Open => OpportunityStatus::Open,
    }
}

/// Its probability and where it comes from: 100 or 0 once closed, else the
/// override, else its stage's.
pub fn probability_of(
    m: &entity::opportunity::Model,
    stage_probability: i32,
) -> (i32, ProbabilitySource) {
    use entity::opportunity::Status;
    match m.status {
        Status::Won => (100, ProbabilitySource::Closed),
        Status::Lost => (0, ProbabilitySource::Closed),
        Status::Open => match m.probability_override {
            Some(p) => (p, ProbabilitySource::Manual),
            None => (stage_probability, ProbabilitySource::Stage),
        },
    }
}
