//! The event log as clients see it: the `changes` sync feed, and the
//! replay-then-live streams behind resumable subscriptions.
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::auth::ContextAuth;
use crate::error::{AppError, GqlResult};
use crate::events::{Event, LagSignal, log, tenant_stream};
use crate::graphql::ContextState;
use crate::modules::account::types::UserGql;
use crate::modules::opportunity::types::user_opt;
use crate::pagination::PageInfo;

/// Every kind of event, as `changes` filters them (and as webhooks will
/// name them: `opportunity.created` is `OPPORTUNITY_CREATED`).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    OpportunityCreated,
    OpportunityUpdated,
    OpportunityStageChanged,
    OpportunityWon,
    OpportunityLost,
    OpportunityReopened,
    OpportunityBecameLate,
    OpportunityDeleted,
    ActivityCreated,
    ActivityUpdated,
    ActivityCompleted,
    ActivityBecameOverdue,
    ActivityDeleted,
    /// The server disabled a webhook endpoint that kept failing.
    WebhookEndpointDisabled,
    /// A CSV import moved on (progress, or its end).
    ImportJobUpdated,
}

const KINDS: &[(EventKind, &str)] = &[
    (EventKind::OpportunityCreated, "opportunity.created"),
    (EventKind::OpportunityUpdated, "opportunity.updated"),
    (
        EventKind::OpportunityStageChanged,
        "opportunity.stage_changed",
    ),
    (EventKind::OpportunityWon, "opportunity.won"),
    (EventKind::OpportunityLost, "opportunity.lost"),
    (EventKind::OpportunityReopened, "opportunity.reopened"),
    (EventKind::OpportunityBecameLate, "opportunity.became_late"),
    (EventKind::OpportunityDeleted, "opportunity.deleted"),
    (EventKind::ActivityCreated, "activity.created"),
    (EventKind::ActivityUpdated, "activity.updated"),
    (EventKind::ActivityCompleted, "activity.completed"),
    (EventKind::ActivityBecameOverdue, "activity.became_overdue"),
    (EventKind::ActivityDeleted, "activity.deleted"),
    (
        EventKind::WebhookEndpointDisabled,
        "webhook_endpoint.disabled",
    ),
    (EventKind::ImportJobUpdated, "import_job.updated"),
];

impl EventKind {
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }

    fn of(event: &Event) -> Option<Self> {
        Self::from_name(event.subject.kind_name())
    }

    pub fn from_name(name: &str) -> Option<Self> {
        KINDS.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }
}

/// What the change did to its subject, for a client keeping a copy.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOperation {
    Created,
    /// Anything but creation and deletion: refetch the subject.
    Updated,
    /// A tombstone: drop the subject from your copy.
    Deleted,
}

/// What kind of object a change is about.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectType {
    Opportunity,
    Activity,
    WebhookEndpoint,
    ImportJob,
}

/// One entry of your tenant's change log.
pub struct Change(Arc<Event>);

#[Object]
impl Change {
    /// The event's id: a webhook delivery of it carries the same id (as
    /// `msg_<id without dashes>` in `webhook-id`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Pass it as `after` to continue from here.
    async fn cursor(&self) -> String {
        crate::events::cursor(self.0.seq)
    }
    /// The tenant's sequence number of this change: gap-free and
    /// increasing, in commit order.
    async fn sequence(&self) -> i64 {
        self.0.seq
    }
    async fn kind(&self) -> GqlResult<EventKind> {
        EventKind::of(&self.0).ok_or_else(|| {
            AppError::internal(std::io::Error::other("an event kind the API does not know")).into()
        })
    }
    async fn operation(&self) -> ChangeOperation {
        let name = self.0.subject.kind_name();
        if self.0.subject.is_deletion() {
            ChangeOperation::Deleted
        } else if name.ends_with(".created") {
            ChangeOperation::Created
        } else {
            ChangeOperation::Updated
        }
    }
    async fn subject_type(&self) -> SubjectType {
        match self.0.subject {
            crate::events::Subject::Opportunity { .. } => SubjectType::Opportunity,
            crate::events::Subject::Activity { .. } => SubjectType::Activity,
            crate::events::Subject::WebhookDisabled { .. } => SubjectType::WebhookEndpoint,
            crate::events::Subject::ImportJob { .. } => SubjectType::ImportJob,
        }
    }
    async fn subject_id(&self) -> ID {
        ID(self.0.subject.id().to_string())
    }
    /// The subject's version after the change (opportunities have one):
    /// a copy at this version or later is already current.
    async fn version(&self) -> Option<i32> {
        self.0.version
    }
    /// Who made it; null for changes the server made itself and for
    /// intake.
    async fn actor(&self, ctx: &Context<'_>) -> GqlResult<Option<UserGql>> {
        user_opt(ctx, self.0.actor).await
    }
    /// When it was committed.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A page of changes, oldest first.
#[derive(SimpleObject)]
pub struct ChangeConnection {
    pub nodes: Vec<Change>,
    /// `endCursor` is where to continue: the last change listed, or, when
    /// there is none, where you already were (or the present, without
    /// `after`). Keep it and ask again later.
    pub page_info: PageInfo,
}

#[derive(Default)]
pub struct ChangesQuery;

const MAX_FIRST: i32 = 500;

#[Object]
impl ChangesQuery {
    /// What changed in your tenant after `after`, oldest first: a mobile
    /// client keeps an offline copy current with a few of these. Without
    /// `after`, from the oldest change the log keeps
    /// (`EVENT_RETENTION_DAYS`); `changes(first: 0)` answers only the
    /// present position in `pageInfo.endCursor` (take it, then load your
    /// copy). `first` is 0..500 (default 100). CURSOR_EXPIRED when
    /// `after` is older than the log keeps: reload, then continue from a
    /// fresh position.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
        kinds: Option<Vec<EventKind>>,
    ) -> GqlResult<ChangeConnection> {
        let auth = ctx.auth()?;
        let state = ctx.state()?;
        let tenant = auth.tenant.0;
        let first = first.unwrap_or(100);
        if !(0..=MAX_FIRST).contains(&first) {
            return Err(
                AppError::bad_input("first", format!("first must be 0 to {MAX_FIRST}")).into(),
            );
        }
        let after = match after.as_deref() {
            Some(raw) => {
                let seq = crate::events::parse_cursor("after", raw)?;
                log::check_cursor(&state.db, tenant, seq, "after").await?;
                Some(seq)
            }
            None => None,
        };
        let names: Option<Vec<&str>> = kinds.map(|k| k.iter().map(|k| k.name()).collect());
        let limit = u64::try_from(first).unwrap_or(0);
        let mut rows = if limit == 0 {
            Vec::new()
        } else {
            log::read_after(
                &state.db,
                tenant,
                after.unwrap_or(0),
                limit + 1,
                names.as_deref(),
            )
            .await?
        };
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let end = match (rows.last(), after) {
            (Some(e), _) => e.seq,
            (None, Some(a)) if first > 0 => a,
            (None, _) if first == 0 && after.is_none() => log::head(&state.db, tenant).await?,
            (None, a) => a.unwrap_or(0),
        };
        let page_info = PageInfo {
            has_next_page,
            has_previous_page: false,
            start_cursor: rows.first().map(|e| crate::events::cursor(e.seq)),
            end_cursor: Some(crate::events::cursor(end)),
        };
        Ok(ChangeConnection {
            nodes: rows.into_iter().map(|e| Change(Arc::new(e))).collect(),
            page_info,
        })
    }
}

/// The caller's tenant's events for a subscription: with `after`, what
/// followed that cursor first, then live. CURSOR_EXPIRED when the log no
/// longer reaches back that far; BAD_USER_INPUT when `after` is not a
/// cursor.
pub async fn follow(
    ctx: &Context<'_>,
    after: Option<&str>,
) -> GqlResult<impl Stream<Item = Arc<Event>> + Send + 'static + use<>> {
    let auth = ctx.auth()?;
    let state = ctx.state()?;
    let tenant = auth.tenant.0;
    let after = match after {
        Some(raw) => {
            let seq = crate::events::parse_cursor("after", raw)?;
            state.events.check_cursor(tenant, seq).await?;
            Some(seq)
        }
        None => None,
    };
    let sub = state.events.subscribe(tenant).await?;
    let lag = ctx.data_opt::<LagSignal>().cloned();
    Ok(tenant_stream(state.events.clone(), tenant, sub, after, lag))
}
