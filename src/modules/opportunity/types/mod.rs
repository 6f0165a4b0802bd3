use crate::graphql::patch;
use std::sync::Arc;

use crate::scalars::Decimal;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::query::{ListQuery, Totals};
use crate::auth::{ContextAuth, TenantSettings};
use crate::error::{AppError, AppResult, GqlResult};
use crate::graphql::ContextState;
use crate::loaders::{ContactKey, PipelineKey, SourceKey, StageKey, UserKey, load_one};
use crate::modules::account::types::UserGql;
use crate::modules::activity::service as activities;
use crate::modules::activity::types::{
    Activity, ActivityConnection, ActivityKind, Document, kinds_mask,
};
use crate::modules::contact::types::Contact;
use crate::modules::custom_field::{
    CustomFieldFilter, CustomFieldValue, CustomFieldValueInput, raw,
};
use crate::modules::pipeline::types::{Pipeline, SourceGql, Stage};
use crate::modules::tag::{Tag, TagFilter};
use crate::money::{Money, weighted_cents};
use crate::pagination::{PageInfo, connection_complexity, count_i32};
use crate::scalars::Date;

mod connection;
mod history;
pub use connection::*;
pub use history::*;

/// OPEN and LATE partition the opportunities still in play: LATE once the
/// due date has passed in the tenant's time zone (the due date itself is
/// the last day on which it is still OPEN).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::opportunity::model::OpportunityStatus")]
pub enum OpportunityStatus {
    Open,
    Late,
    Won,
    Lost,
}

/// Where an opportunity's probability comes from.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::opportunity::model::ProbabilitySource")]
pub enum ProbabilitySource {
    /// The stage's probability.
    Stage,
    /// `probabilityOverride`.
    Manual,
    /// WON (100) or LOST (0).
    Closed,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::opportunity::model::SortDirection")]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::opportunity::model::OpportunitySortField")]
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
    /// By the custom field `customFieldKey` names: numbers, amounts and
    /// dates by value, text case-insensitively, options by their position,
    /// NO before YES; rows without a value come last (first when
    /// descending).
    CustomField,
}

#[derive(InputObject, Clone)]
pub struct OpportunityOrder {
    pub field: OpportunitySortField,
    #[graphql(default_with = "Some(SortDirection::Asc)")]
    pub direction: Option<SortDirection>,
    /// With `CUSTOM_FIELD`: the key of an opportunity custom field.
    pub custom_field_key: Option<String>,
}

#[derive(InputObject, Default, Clone)]
pub struct OpportunityFilter {
    pub pipeline_id: Option<ID>,
    pub stage_ids: Option<Vec<ID>>,
    pub statuses: Option<Vec<OpportunityStatus>>,
    pub owner_id: Option<ID>,
    pub source_id: Option<ID>,
    pub contact_id: Option<ID>,
    /// Inclusive.
    pub due_after: Option<Date>,
    /// Inclusive.
    pub due_before: Option<Date>,
    /// Case-insensitive, on reference, title and contact names.
    pub search: Option<String>,
    pub tags: Option<TagFilter>,
    /// Every one must pass (at most 10).
    pub custom_fields: Option<Vec<CustomFieldFilter>>,
}

#[derive(InputObject, Clone)]
pub struct OpportunityContactInput {
    pub contact_id: ID,
    /// "decision maker", "buyer", ...
    pub role: Option<String>,
    #[graphql(default_with = "Some(false)")]
    pub is_primary: Option<bool>,
}

#[derive(InputObject)]
pub struct CreateOpportunityInput {
    /// 1 to 200 characters.
    pub title: String,
    /// Decides the pipeline too.
    pub stage_id: ID,
    /// >= 0; rounded half away from zero to 2 decimals.
    pub potential: Decimal,
    /// Default: the tenant currency. Others need an exchange rate.
    pub currency: Option<String>,
    pub due_date: Option<Date>,
    /// Default: the caller. SALES always own what they create.
    pub owner_id: Option<ID>,
    pub team_ids: Option<Vec<ID>>,
    pub source_id: Option<ID>,
    /// The first contact is primary unless one says otherwise.
    pub contacts: Option<Vec<OpportunityContactInput>>,
    /// 0..100; replaces the stage's probability.
    pub probability_override: Option<i32>,
    pub tag_ids: Option<Vec<ID>>,
    /// Every required opportunity field needs a value.
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
    /// Its id in the system it comes from (1 to 100 characters), unique
    /// in your tenant: a CSV import matches rows on it.
    pub external_id: Option<String>,
}

/// Fields left out stay as they are; `null` clears dueDate, sourceId and
/// probabilityOverride.
#[derive(InputObject)]
pub struct UpdateOpportunityInput {
    pub title: Option<String>,
    pub potential: Option<Decimal>,
    pub currency: Option<String>,
    pub due_date: MaybeUndefined<Date>,
    pub owner_id: Option<ID>,
    /// Replaces the whole team.
    pub team_ids: Option<Vec<ID>>,
    pub source_id: MaybeUndefined<ID>,
    pub probability_override: MaybeUndefined<i32>,
    /// Back to the stage's probability.
    pub clear_probability_override: Option<bool>,
    /// Replaces every tag.
    pub tag_ids: Option<Vec<ID>>,
    /// Sets the fields named (a value with no member clears it); the
    /// others stay. Each change is in the history as `custom.<key>`.
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
}

/// A business opportunity.
pub struct Opportunity(pub entity::opportunity::Model);

impl Opportunity {
    async fn stage_model(&self, ctx: &Context<'_>) -> AppResult<entity::stage::Model> {
        load_one(ctx, StageKey(self.0.stage_id))
            .await?
            .ok_or(AppError::NotFound("stage"))
    }
    async fn probability_pair(&self, ctx: &Context<'_>) -> AppResult<(i32, ProbabilitySource)> {
        let stage_p = match self.0.status {
            entity::opportunity::Status::Open if self.0.probability_override.is_none() => {
                self.stage_model(ctx).await?.probability
            }
            _ => 0,
        };
        let (p, source) = crm_core::modules::opportunity::model::probability_of(&self.0, stage_p);
        Ok((p, source.into()))
    }
}

#[Object]
impl Opportunity {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Human number, unique in the tenant: "OPP-1042".
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    /// Its id in the system it was imported from, if any.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn pipeline(&self, ctx: &Context<'_>) -> GqlResult<Pipeline> {
        let p = load_one(ctx, PipelineKey(self.0.pipeline_id)).await?;
        Ok(Pipeline(p.ok_or(AppError::NotFound("pipeline"))?))
    }
    async fn stage(&self, ctx: &Context<'_>) -> GqlResult<Stage> {
        Ok(Stage(self.stage_model(ctx).await?))
    }
    async fn status(&self, ctx: &Context<'_>) -> GqlResult<OpportunityStatus> {
        Ok(crm_core::modules::opportunity::model::derive_status(
            &self.0,
            ctx.tenant_settings()?.today(),
        )
        .into())
    }
    /// The override if set, else the stage's; WON 100, LOST 0.
    async fn probability(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        Ok(self.probability_pair(ctx).await?.0)
    }
    async fn probability_override(&self) -> Option<i32> {
        self.0.probability_override
    }
    /// Where `probability` came from.
    async fn probability_source(&self, ctx: &Context<'_>) -> GqlResult<ProbabilitySource> {
        Ok(self.probability_pair(ctx).await?.1)
    }
    /// In the opportunity's currency.
    async fn potential(&self) -> Money {
        Money::from_cents(self.0.potential_cents, self.0.currency.as_str())
    }
    /// potential × probability / 100, rounded half away from zero, in the
    /// opportunity's currency.
    async fn weighted_potential(&self, ctx: &Context<'_>) -> GqlResult<Money> {
        let (p, _) = self.probability_pair(ctx).await?;
        Ok(Money::from_cents(
            weighted_cents(self.0.potential_cents, p),
            self.0.currency.as_str(),
        ))
    }
    async fn due_date(&self) -> Option<Date> {
        self.0.due_date.map(Date)
    }
    async fn owner(&self, ctx: &Context<'_>) -> GqlResult<UserGql> {
        let u = load_one(ctx, UserKey(self.0.owner_id))
            .await?
            .ok_or(AppError::NotFound("user"))?;
        Ok(UserGql::from_model(u)?)
    }
    /// Other staff working on it.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 3)")]
    async fn team(&self, ctx: &Context<'_>) -> GqlResult<Vec<UserGql>> {
        let users = load_one(ctx, super::query::TeamKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(users
            .into_iter()
            .map(UserGql::from_model)
            .collect::<AppResult<Vec<_>>>()?)
    }
    async fn source(&self, ctx: &Context<'_>) -> GqlResult<Option<SourceGql>> {
        match self.0.source_id {
            Some(id) => Ok(load_one(ctx, SourceKey(id)).await?.map(Into::into)),
            None => Ok(None),
        }
    }
    /// Primary first.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 3)")]
    async fn contacts(&self, ctx: &Context<'_>) -> GqlResult<Vec<OpportunityContact>> {
        let links = load_one(ctx, super::query::OpportunityContactsKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(links.into_iter().map(OpportunityContact).collect())
    }
    async fn primary_contact(&self, ctx: &Context<'_>) -> GqlResult<Option<Contact>> {
        Ok(load_one(ctx, super::query::PrimaryContactKey(self.0.id))
            .await?
            .flatten()
            .map(Contact))
    }
    /// The timeline: open items first, soonest first (tasks by dueAt,
    /// events by startsAt); then done items, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        kinds: Option<Vec<ActivityKind>>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<ActivityConnection> {
        let auth = ctx.auth()?;
        let mask = kinds_mask(kinds.as_deref());
        let first = crate::pagination::page_size(first)?;
        if after.is_some() {
            return Ok(
                activities::timeline(ctx.state()?, auth, self.0.id, mask, first, after)
                    .await?
                    .into(),
            );
        }
        let rows = load_one(
            ctx,
            activities::TimelineKey {
                opportunity: self.0.id,
                mask,
                first,
            },
        )
        .await?
        .unwrap_or_default();
        Ok(activities::timeline_from_rows(
            crate::tenancy::TenantScope(auth.tenant),
            self.0.id,
            mask,
            first,
            rows,
        )
        .into())
    }
    /// The earliest open TASK or upcoming EVENT.
    async fn next_activity(&self, ctx: &Context<'_>) -> GqlResult<Option<Activity>> {
        Ok(load_one(ctx, activities::NextActivityKey(self.0.id))
            .await?
            .flatten()
            .map(Activity))
    }
    /// Oldest first.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 3)")]
    async fn documents(&self, ctx: &Context<'_>) -> GqlResult<Vec<Document>> {
        let docs = load_one(
            ctx,
            crate::modules::activity::documents::DocumentsKey(self.0.id),
        )
        .await?
        .unwrap_or_default();
        Ok(docs.into_iter().map(Document).collect())
    }
    /// Oldest first.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 10)")]
    async fn stage_history(&self, ctx: &Context<'_>) -> GqlResult<Vec<StageChange>> {
        let rows = super::service::stage_history(ctx.state()?, ctx.auth()?, self.0.id).await?;
        Ok(rows.into_iter().map(StageChange).collect())
    }
    /// Field changes, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<OpportunityChangeConnection> {
        let page =
            super::service::history(ctx.state()?, ctx.auth()?, self.0.id, first, after).await?;
        Ok(page.into())
    }
    /// Open, and idle in its stage (no stage change or activity) for at
    /// least the stage's `rottenAfterDays`.
    async fn is_rotting(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        if self.0.status != entity::opportunity::Status::Open {
            return Ok(false);
        }
        let Some(days) = self.stage_model(ctx).await?.rotten_after_days else {
            return Ok(false);
        };
        let last = self
            .0
            .last_activity_at
            .map_or(self.0.stage_entered_at, |a| a.max(self.0.stage_entered_at));
        Ok(crate::clock::now() - last >= chrono::Duration::days(i64::from(days)))
    }
    async fn lost_reason(&self) -> Option<&str> {
        self.0.lost_reason.as_deref()
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Pass as `expectedVersion` to detect concurrent edits.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Its tags, by name.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 5)")]
    async fn tags(&self, ctx: &Context<'_>) -> GqlResult<Vec<Tag>> {
        let rows = load_one(ctx, crm_core::modules::tag::OpportunityTagsKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Tag).collect())
    }
    /// Its custom-field values, in the fields' order (fields without a
    /// value are left out).
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 10)")]
    async fn custom_fields(&self, ctx: &Context<'_>) -> GqlResult<Vec<CustomFieldValue>> {
        let values = load_one(
            ctx,
            crm_core::modules::custom_field::value::OpportunityValuesKey(self.0.id),
        )
        .await?
        .unwrap_or_default();
        Ok(CustomFieldValue::from_values(
            values,
            ctx.tenant_settings()?,
        ))
    }
}

/// A set of statuses as the kernel's bits; absent means all four.
pub fn status_mask(statuses: Option<&[OpportunityStatus]>) -> u8 {
    let domain: Option<Vec<_>> = statuses.map(|l| l.iter().map(|s| (*s).into()).collect());
    crm_core::modules::opportunity::model::status_mask(domain.as_deref())
}

// The GraphQL inputs and enums convert into the domain's at this boundary.

impl From<OpportunityOrder> for crm_core::modules::opportunity::model::OpportunityOrder {
    fn from(i: OpportunityOrder) -> Self {
        Self {
            field: i.field.into(),
            direction: i.direction.map(Into::into),
            custom_field_key: i.custom_field_key,
        }
    }
}

impl From<OpportunityFilter> for crm_core::modules::opportunity::model::OpportunityFilter {
    fn from(i: OpportunityFilter) -> Self {
        let (tags_any, tags_all) = TagFilter::split(i.tags);
        Self {
            pipeline_id: i.pipeline_id.map(|x| x.0),
            stage_ids: i.stage_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
            statuses: i.statuses.map(|v| v.into_iter().map(Into::into).collect()),
            owner_id: i.owner_id.map(|x| x.0),
            source_id: i.source_id.map(|x| x.0),
            contact_id: i.contact_id.map(|x| x.0),
            due_after: i.due_after.map(|x| x.0),
            due_before: i.due_before.map(|x| x.0),
            search: i.search,
            tags_any,
            tags_all,
            custom_fields: raw(i.custom_fields),
        }
    }
}

impl From<OpportunityContactInput>
    for crm_core::modules::opportunity::model::OpportunityContactInput
{
    fn from(i: OpportunityContactInput) -> Self {
        Self {
            contact_id: i.contact_id.0,
            role: i.role,
            is_primary: i.is_primary,
        }
    }
}

impl From<CreateOpportunityInput>
    for crm_core::modules::opportunity::model::CreateOpportunityInput
{
    fn from(i: CreateOpportunityInput) -> Self {
        Self {
            title: i.title,
            stage_id: i.stage_id.0,
            potential: i.potential.0,
            currency: i.currency,
            due_date: i.due_date.map(|x| x.0),
            owner_id: i.owner_id.map(|x| x.0),
            team_ids: i.team_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
            source_id: i.source_id.map(|x| x.0),
            contacts: i.contacts.map(|v| v.into_iter().map(Into::into).collect()),
            probability_override: i.probability_override,
            tag_ids: i.tag_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
            custom_fields: raw(i.custom_fields),
            external_id: i.external_id,
        }
    }
}

impl From<UpdateOpportunityInput>
    for crm_core::modules::opportunity::model::UpdateOpportunityInput
{
    fn from(i: UpdateOpportunityInput) -> Self {
        Self {
            title: i.title,
            potential: i.potential.map(|d| d.0),
            currency: i.currency,
            due_date: patch(i.due_date, |x| x.0),
            owner_id: i.owner_id.map(|x| x.0),
            team_ids: i.team_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
            source_id: patch(i.source_id, |x| x.0),
            probability_override: patch(i.probability_override, |x| x),
            clear_probability_override: i.clear_probability_override,
            tag_ids: i.tag_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
            custom_fields: raw(i.custom_fields),
        }
    }
}
