//! Events: what changed, for subscriptions, the `changes` feed and
//! webhooks.
//!
//! Every command writes its events into the tenant's log (`log::record`)
//! in the transaction of its change: an event exists if and only if its
//! change committed, numbered by a per-tenant, gap-free sequence in commit
//! order. After the commit the command tells the bus (`EventBus::committed`);
//! each instance's bus reads the log of the tenants its subscribers belong
//! to and hands new entries to them in sequence order. Between instances,
//! PostgreSQL's NOTIFY carries a wake-up hint (the tenant), never the event
//! itself: a lost hint or a lost LISTEN connection only delays delivery
//! until the next read of the log (see `bus`).
//!
//! Payloads carry ids only: subscribers resolve the rest through the normal
//! resolvers, with their own tenant scope, so an event never carries data
//! a subscriber could not read anyway.
pub mod bus;
pub mod log;
pub mod nats;

pub use bus::{EventBus, Subscription, spawn_backstop, spawn_listener, tenant_stream};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, OnceCell};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// What happened to an opportunity.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpportunityEventKind {
    Created,
    Updated,
    /// Moved to another stage (possibly of another pipeline).
    StageChanged,
    Won,
    Lost,
    Reopened,
    /// Raised by the server when an open opportunity's due date passes in
    /// the tenant's time zone.
    BecameLate,
    Deleted,
}

/// What happened to an activity.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityEventKind {
    Created,
    Updated,
    Completed,
    /// Raised by the server when an open task's `dueAt` passes.
    BecameOverdue,
    Deleted,
}

/// The subject of an event, by id.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "s")]
pub enum Subject {
    #[serde(rename = "o")]
    Opportunity {
        kind: OpportunityEventKind,
        id: Uuid,
        /// The pipeline it is in after the change.
        pipeline: Uuid,
        /// The pipeline it left, when a move changed pipelines: that
        /// board must hear about it too.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        left_pipeline: Option<Uuid>,
    },
    #[serde(rename = "a")]
    Activity {
        kind: ActivityEventKind,
        id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opportunity: Option<Uuid>,
    },
    /// The server disabled a webhook endpoint after it kept failing: its
    /// admins hear of it.
    #[serde(rename = "w")]
    WebhookDisabled { id: Uuid },
    /// An import's progress or status moved.
    #[serde(rename = "i")]
    ImportJob { id: Uuid },
}

#[derive(Clone, Debug)]
pub struct Event {
    /// The tenant's sequence number, from 1; 0 until the event is logged.
    pub seq: i64,
    /// Unique across tenants (a webhook delivery's `webhook-id`).
    pub id: Uuid,
    pub tenant: Uuid,
    /// The user whose command caused it; None when the server raised it.
    pub actor: Option<Uuid>,
    /// The request that caused it, when one did.
    pub request: Option<Uuid>,
    pub at: DateTime<Utc>,
    /// The subject's version after the change, where it has one.
    pub version: Option<i32>,
    pub subject: Subject,
    /// The subject's row, loaded once by the first subscriber here that
    /// asks and shared with the others: a thousand subscribers of a board
    /// cost one read per event, not a thousand. Never stored.
    pub loaded: Loaded,
}

/// Rows shared by the subscribers of one event on this instance. They all
/// belong to the event's tenant (channels are per tenant) and reads are
/// not role-dependent, so one row serves them all.
#[derive(Clone, Default)]
pub struct Loaded {
    pub opportunity: Arc<OnceCell<Option<entity::opportunity::Model>>>,
    pub activity: Arc<OnceCell<Option<entity::activity::Model>>>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loaded")
    }
}

/// The row in `cell`, loaded by `load` for the first subscriber that asks;
/// None once the subject is gone (NOT_FOUND).
pub async fn load_shared<T: Clone>(
    cell: &OnceCell<Option<T>>,
    load: impl Future<Output = AppResult<T>>,
) -> AppResult<Option<T>> {
    let row = cell
        .get_or_try_init(|| async {
            match load.await {
                Ok(row) => Ok(Some(row)),
                Err(AppError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(row.clone())
}

impl Event {
    /// A new event of the running request (not logged yet: `seq` is 0).
    pub fn new(tenant: Uuid, actor: Option<Uuid>, version: Option<i32>, subject: Subject) -> Self {
        Self {
            seq: 0,
            id: Uuid::new_v4(),
            tenant,
            actor,
            request: crate::tenancy::request_id(),
            at: crate::tenancy::now(),
            version,
            subject,
            loaded: Loaded::default(),
        }
    }

    pub fn opportunity(
        tenant: Uuid,
        actor: Option<Uuid>,
        kind: OpportunityEventKind,
        model: &entity::opportunity::Model,
    ) -> Self {
        let subject = Subject::Opportunity {
            kind,
            id: model.id,
            pipeline: model.pipeline_id,
            left_pipeline: None,
        };
        Self::new(tenant, actor, Some(model.version), subject)
    }

    /// An opportunity event for a move from pipeline `from` to `to`: the
    /// board it left hears of it too.
    pub fn moved(mut self, from: Uuid, to: Uuid) -> Self {
        if let Subject::Opportunity {
            pipeline,
            left_pipeline,
            ..
        } = &mut self.subject
        {
            *pipeline = to;
            *left_pipeline = Some(from).filter(|f| *f != to);
        }
        self
    }

    pub fn activity(
        tenant: Uuid,
        actor: Option<Uuid>,
        kind: ActivityEventKind,
        model: &entity::activity::Model,
    ) -> Self {
        let subject = Subject::Activity {
            kind,
            id: model.id,
            opportunity: model.opportunity_id,
        };
        Self::new(tenant, actor, None, subject)
    }
}

impl Subject {
    /// The event's kind as the log, the `changes` feed and webhooks name
    /// it: `opportunity.created`, `activity.completed`, ...
    pub fn kind_name(&self) -> &'static str {
        use ActivityEventKind as A;
        use OpportunityEventKind as O;
        match self {
            Self::Opportunity { kind, .. } => match kind {
                O::Created => "opportunity.created",
                O::Updated => "opportunity.updated",
                O::StageChanged => "opportunity.stage_changed",
                O::Won => "opportunity.won",
                O::Lost => "opportunity.lost",
                O::Reopened => "opportunity.reopened",
                O::BecameLate => "opportunity.became_late",
                O::Deleted => "opportunity.deleted",
            },
            Self::Activity { kind, .. } => match kind {
                A::Created => "activity.created",
                A::Updated => "activity.updated",
                A::Completed => "activity.completed",
                A::BecameOverdue => "activity.became_overdue",
                A::Deleted => "activity.deleted",
            },
            Self::WebhookDisabled { .. } => "webhook_endpoint.disabled",
            Self::ImportJob { .. } => "import_job.updated",
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Self::Opportunity { id, .. }
            | Self::Activity { id, .. }
            | Self::WebhookDisabled { id }
            | Self::ImportJob { id } => *id,
        }
    }

    /// Whether the subject no longer exists after this event.
    pub fn is_deletion(&self) -> bool {
        matches!(
            self,
            Self::Opportunity {
                kind: OpportunityEventKind::Deleted,
                ..
            } | Self::Activity {
                kind: ActivityEventKind::Deleted,
                ..
            }
        )
    }
}

/// Records `events` (of one tenant) on `txn`, commits it, and tells the
/// bus: the way every command ends. Answers the events, numbered.
pub async fn commit_with(
    bus: &Arc<EventBus>,
    txn: sea_orm::DatabaseTransaction,
    mut events: Vec<Event>,
) -> AppResult<Vec<Event>> {
    if let Some(t) = record_and_commit(txn, &mut events).await? {
        bus.committed(t);
    }
    Ok(events)
}

/// Records `events` on `txn` and commits it; answers their tenant, for the
/// bus to be told.
async fn record_and_commit(
    txn: sea_orm::DatabaseTransaction,
    events: &mut [Event],
) -> AppResult<Option<uuid::Uuid>> {
    let tenant = events.first().map(|e| e.tenant);
    log::record(&txn, events).await?;
    txn.commit().await?;
    Ok(tenant)
}

/// `commit_with` for a command that runs on a [`Store`](crate::state::Store):
/// inside an import's batch the commit is a savepoint's release and the
/// events wait for the batch, which records them and tells the bus once it
/// commits (they are answered without their sequence numbers).
pub async fn commit_on<S: crate::state::Store + ?Sized>(
    store: &S,
    txn: sea_orm::DatabaseTransaction,
    mut events: Vec<Event>,
) -> AppResult<Vec<Event>> {
    if let Some(later) = store.deferred() {
        txn.commit().await?;
        later
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(events.iter().cloned());
        return Ok(events);
    }
    if let Some(t) = record_and_commit(txn, &mut events).await? {
        store.committed(t);
    }
    Ok(events)
}

/// The opaque cursor of the event numbered `seq`.
pub fn cursor(seq: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ev:{seq}"))
}

/// The sequence number in a cursor `cursor` made; BAD_USER_INPUT naming
/// `field` otherwise.
pub fn parse_cursor(field: &'static str, raw: &str) -> AppResult<i64> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("ev:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|n| *n >= 0)
        .ok_or_else(|| AppError::bad_input(field, format!("{field} is not an event cursor")))
}

/// Every kind name `Subject::kind_name` answers.
pub const KIND_NAMES: &[&str] = &[
    "opportunity.created",
    "opportunity.updated",
    "opportunity.stage_changed",
    "opportunity.won",
    "opportunity.lost",
    "opportunity.reopened",
    "opportunity.became_late",
    "opportunity.deleted",
    "activity.created",
    "activity.updated",
    "activity.completed",
    "activity.became_overdue",
    "activity.deleted",
    "webhook_endpoint.disabled",
    "import_job.updated",
];

/// Set by a subscription stream that can no longer be fed (the log cannot
/// be read); the WebSocket connection owning it waits on this and closes
/// with 1013 so that the client reconnects (and resumes from its cursor).
#[derive(Clone, Default)]
pub struct LagSignal(pub Arc<Notify>);

impl LagSignal {
    pub fn raise(&self) {
        self.0.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_subject_is_ids_only_and_small() {
        let subjects = [
            Subject::Opportunity {
                kind: OpportunityEventKind::StageChanged,
                id: Uuid::new_v4(),
                pipeline: Uuid::new_v4(),
                left_pipeline: Some(Uuid::new_v4()),
            },
            Subject::Activity {
                kind: ActivityEventKind::BecameOverdue,
                id: Uuid::new_v4(),
                opportunity: None,
            },
        ];
        for subject in subjects {
            let s = serde_json::to_string(&subject).unwrap();
            assert!(s.len() < 300, "{s}");
            let back = serde_json::from_str::<Subject>(&s).unwrap();
            assert_eq!(back, subject);
        }
    }
}
