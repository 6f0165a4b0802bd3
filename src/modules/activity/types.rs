use crate::scalars::Decimal;
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::error::{AppError, AppResult, GqlResult};
use crate::loaders::{ContactKey, OpportunityKey, UserKey, load_one};
use crate::modules::account::types::UserGql;
use crate::modules::contact::types::Contact;
use crate::modules::opportunity::types::Opportunity;
use crate::money::Money;
use crate::pagination::{Connection, Node, Total, saturating_i64};
use crm_core::modules::activity::service::TotalSource;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "crm_core::modules::activity::model::ActivityKind")]
pub enum ActivityKind {
    /// Something to do by `dueAt`.
    Task,
    /// An appointment from `startsAt` to `endsAt`.
    Event,
    /// A call, with its summary in `note`.
    Call,
    Note,
}

/// A task, calendar event, call or note, on an opportunity and/or contact.
pub struct Activity(pub entity::activity::Model);

#[Object]
impl Activity {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> GqlResult<ActivityKind> {
        Ok(crm_core::modules::activity::model::ActivityKind::from_db(&self.0.kind)?.into())
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Call summary, note body, task details.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn opportunity(&self, ctx: &Context<'_>) -> GqlResult<Option<Opportunity>> {
        match self.0.opportunity_id {
            Some(id) => Ok(load_one(ctx, OpportunityKey(id)).await?.map(Opportunity)),
            None => Ok(None),
        }
    }
    async fn contact(&self, ctx: &Context<'_>) -> GqlResult<Option<Contact>> {
        match self.0.contact_id {
            Some(id) => Ok(load_one(ctx, ContactKey(id)).await?.map(Contact)),
            None => Ok(None),
        }
    }
    async fn assignee(&self, ctx: &Context<'_>) -> GqlResult<Option<UserGql>> {
        match load_one(ctx, UserKey(self.0.assignee_id)).await? {
            Some(u) => Ok(Some(UserGql::from_model(u)?)),
            None => Ok(None),
        }
    }
    async fn created_by(&self, ctx: &Context<'_>) -> GqlResult<UserGql> {
        let u = load_one(ctx, UserKey(self.0.created_by))
            .await?
            .ok_or(AppError::NotFound("user"))?;
        Ok(UserGql::from_model(u)?)
    }
    /// TASK: when to do it.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// EVENT: the appointment.
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.starts_at
    }
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }
    async fn done(&self) -> bool {
        self.0.done
    }
    /// Set by completion, cleared by reopening.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// An open TASK whose `dueAt` has passed.
    async fn is_overdue(&self) -> bool {
        crm_core::modules::activity::model::is_overdue(&self.0, crate::clock::now())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An activity list or timeline; its total is counted only when asked for.
pub type ActivityConnection = Connection<Activity, TotalSource>;

impl Node for Activity {
    type Row = entity::activity::Model;
    fn from_row(row: Self::Row) -> Self {
        Self(row)
    }
}

impl Total for TotalSource {
    async fn count(&self, ctx: &Context<'_>) -> AppResult<i64> {
        let db = &crate::graphql::ContextState::state(ctx)?.db;
        Ok(saturating_i64(TotalSource::count(self, db).await?))
    }
}

#[derive(InputObject)]
pub struct CreateActivityInput {
    pub kind: ActivityKind,
    /// 1 to 200 characters.
    pub subject: String,
    pub note: Option<String>,
    pub opportunity_id: Option<ID>,
    pub contact_id: Option<ID>,
    /// Default: the caller. An active user of the tenant.
    pub assignee_id: Option<ID>,
    /// TASK only, and required for it.
    pub due_at: Option<DateTime<Utc>>,
    /// EVENT only, and required for it.
    pub starts_at: Option<DateTime<Utc>>,
    /// EVENT only; at or after `startsAt`; default one hour after it.
    pub ends_at: Option<DateTime<Utc>>,
    /// A logged CALL or NOTE is done when created unless `done: false`.
    pub done: Option<bool>,
}

#[derive(InputObject)]
pub struct UpdateActivityInput {
    pub subject: Option<String>,
    pub note: Option<String>,
    pub assignee_id: Option<ID>,
    pub due_at: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(InputObject, Default)]
pub struct ActivityFilter {
    pub kinds: Option<Vec<ActivityKind>>,
    pub opportunity_id: Option<ID>,
    pub contact_id: Option<ID>,
    pub assignee_id: Option<ID>,
    pub done: Option<bool>,
    /// Open TASKs whose dueAt has passed (or, with false, all others).
    pub overdue: Option<bool>,
    /// On dueAt / startsAt / createdAt, whichever the kind uses; inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::activity::model::DocumentKind")]
pub enum DocumentKind {
    Quote,
    Proposal,
    Contract,
}

/// DRAFT → SENT → ACCEPTED or DECLINED.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::activity::model::DocumentStatus")]
pub enum DocumentStatus {
    Draft,
    Sent,
    Accepted,
    Declined,
}

/// A quote, proposal or contract linked to an opportunity.
pub struct Document(pub entity::document::Model);

#[Object]
impl Document {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> GqlResult<DocumentKind> {
        Ok(crm_core::modules::activity::model::DocumentKind::from_db(&self.0.kind)?.into())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Quote number, contract number.
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn amount(&self) -> Option<Money> {
        match (self.0.amount_cents, &self.0.currency) {
            (Some(c), Some(cur)) => Some(Money::from_cents(c, cur.as_str())),
            _ => None,
        }
    }
    async fn status(&self) -> GqlResult<DocumentStatus> {
        Ok(crm_core::modules::activity::model::DocumentStatus::from_db(&self.0.status)?.into())
    }
    /// http(s) only.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    async fn opportunity(&self, ctx: &Context<'_>) -> GqlResult<Opportunity> {
        let o = load_one(ctx, OpportunityKey(self.0.opportunity_id))
            .await?
            .ok_or(AppError::NotFound("opportunity"))?;
        Ok(Opportunity(o))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct DocumentInput {
    pub opportunity_id: ID,
    pub kind: DocumentKind,
    pub title: String,
    pub reference: Option<String>,
    /// >= 0, rounded half away from zero to 2 decimals.
    pub amount: Option<Decimal>,
    /// Default: the opportunity's currency.
    pub currency: Option<String>,
    pub url: Option<String>,
    /// Sets the opportunity's potential (and currency) to this amount, in
    /// the same transaction, with history and a version bump.
    #[graphql(default_with = "Some(false)")]
    pub use_as_potential: Option<bool>,
}

#[derive(InputObject)]
pub struct UpdateDocumentInput {
    pub title: Option<String>,
    pub reference: Option<String>,
    pub amount: Option<Decimal>,
    /// DRAFT → SENT → ACCEPTED or DECLINED; any other move is refused.
    pub status: Option<DocumentStatus>,
    pub url: Option<String>,
}

/// A set of kinds as the kernel's bits; absent means all four.
pub fn kinds_mask(kinds: Option<&[ActivityKind]>) -> u8 {
    let domain: Option<Vec<_>> = kinds.map(|l| l.iter().map(|k| (*k).into()).collect());
    crm_core::modules::activity::model::kinds_mask(domain.as_deref())
}

// The GraphQL inputs and enums convert into the domain's at this boundary.

impl From<CreateActivityInput> for crm_core::modules::activity::model::CreateActivityInput {
    fn from(i: CreateActivityInput) -> Self {
        Self {
            kind: i.kind.into(),
            subject: i.subject,
            note: i.note,
            opportunity_id: i.opportunity_id.map(|x| x.0),
            contact_id: i.contact_id.map(|x| x.0),
            assignee_id: i.assignee_id.map(|x| x.0),
            due_at: i.due_at,
            starts_at: i.starts_at,
            ends_at: i.ends_at,
            done: i.done,
        }
    }
}

impl From<UpdateActivityInput> for crm_core::modules::activity::model::UpdateActivityInput {
    fn from(i: UpdateActivityInput) -> Self {
        Self {
            subject: i.subject,
            note: i.note,
            assignee_id: i.assignee_id.map(|x| x.0),
            due_at: i.due_at,
            starts_at: i.starts_at,
            ends_at: i.ends_at,
        }
    }
}

impl From<ActivityFilter> for crm_core::modules::activity::model::ActivityFilter {
    fn from(i: ActivityFilter) -> Self {
        Self {
            kinds: i.kinds.map(|v| v.into_iter().map(Into::into).collect()),
            opportunity_id: i.opportunity_id.map(|x| x.0),
            contact_id: i.contact_id.map(|x| x.0),
            assignee_id: i.assignee_id.map(|x| x.0),
            done: i.done,
            overdue: i.overdue,
            from: i.from,
            to: i.to,
        }
    }
}

impl From<DocumentInput> for crm_core::modules::activity::model::DocumentInput {
    fn from(i: DocumentInput) -> Self {
        Self {
            opportunity_id: i.opportunity_id.0,
            kind: i.kind.into(),
            title: i.title,
            reference: i.reference,
            amount: i.amount.map(|d| d.0),
            currency: i.currency,
            url: i.url,
            use_as_potential: i.use_as_potential,
        }
    }
}

impl From<UpdateDocumentInput> for crm_core::modules::activity::model::UpdateDocumentInput {
    fn from(i: UpdateDocumentInput) -> Self {
        Self {
            title: i.title,
            reference: i.reference,
            amount: i.amount.map(|d| d.0),
            status: i.status.map(Into::into),
            url: i.url,
        }
    }
}
