//! The event bus behind GraphQL subscriptions.
//!
//! Commands publish an [`Event`] once their transaction has committed.
//! Every instance keeps one in-process broadcast channel that its
//! subscribers read; how events reach that channel depends on the store:
//!
//! - SQLite serves one instance, so `publish` sends straight into it;
//! - PostgreSQL may serve several instances, so `publish` runs
//!   `pg_notify` and every instance (the publishing one included) feeds its
//!   channel from one `LISTEN` connection. One path for all events keeps
//!   their order the same on every instance.
//!
//! Payloads carry ids only: subscribers resolve the rest through the normal
//! resolvers, with their own tenant scope, so an event never carries data
//! a subscriber could not read anyway.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, OnceCell, broadcast};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The PostgreSQL channel every instance listens on.
pub const CHANNEL: &str = "crm_events";
/// Application name of the LISTEN connection (visible in pg_stat_activity).
pub const LISTENER_APPLICATION_NAME: &str = "crm-events-listener";

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
    /// Local only: events may have been missed (the LISTEN connection was
    /// down), so every subscriber must reconnect and refetch.
    #[serde(rename = "r")]
    Resync,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Event {
    #[serde(rename = "t")]
    pub tenant: Uuid,
    /// The user whose command caused it; None when the server raised it.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Uuid>,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub subject: Subject,
    /// The subject's row, loaded once by the first subscriber here that
    /// asks and shared with the others: a thousand subscribers of a board
    /// cost one read per event, not a thousand. Never sent anywhere.
    #[serde(skip)]
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
    pub fn opportunity(
        tenant: Uuid,
        actor: Option<Uuid>,
        kind: OpportunityEventKind,
        model: &entity::opportunity::Model,
    ) -> Self {
        Self {
            tenant,
            actor,
            at: crate::tenancy::now(),
            subject: Subject::Opportunity {
                kind,
                id: model.id,
                pipeline: model.pipeline_id,
                left_pipeline: None,
            },
            loaded: Loaded::default(),
        }
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
        Self {
            tenant,
            actor,
            at: crate::tenancy::now(),
            subject: Subject::Activity {
                kind,
                id: model.id,
                opportunity: model.opportunity_id,
            },
            loaded: Loaded::default(),
        }
    }
}

/// Set by a subscription stream that fell behind the bus; the WebSocket
/// connection owning it waits on this and closes.
#[derive(Clone, Default)]
pub struct LagSignal(pub Arc<Notify>);

impl LagSignal {
    pub fn raise(&self) {
        self.0.notify_one();
    }
}

pub struct EventBus {
    /// One channel per tenant with subscribers here: a subscriber only
    /// wakes for its tenant's events, and a burst in one tenant cannot
    /// push another tenant's subscribers behind.
    channels: RwLock<HashMap<Uuid, broadcast::Sender<Arc<Event>>>>,
    capacity: usize,
    /// Present on PostgreSQL: publishing goes through NOTIFY.
    notify: Option<DatabaseConnection>,
    /// How many subscriptions were ever taken: a subscription is live
    /// (will hear every later event) once this has counted it, which is
    /// what tests wait on instead of guessing from silence.
    subscriptions: tokio::sync::watch::Sender<u64>,
}

impl EventBus {
    /// `capacity` bounds how far one subscriber may fall behind before it
    /// is dropped: the bus never waits for a reader.
    pub fn new(db: &DatabaseConnection, capacity: usize) -> Self {
        let notify = (db.get_database_backend() == DatabaseBackend::Postgres).then(|| db.clone());
        Self {
            channels: RwLock::new(HashMap::new()),
            capacity: capacity.max(16),
            notify,
            subscriptions: tokio::sync::watch::channel(0).0,
        }
    }

    /// Counts subscriptions taken so far (see the field).
    pub fn subscriptions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.subscriptions.subscribe()
    }

    pub fn subscribe(&self, tenant: Uuid) -> broadcast::Receiver<Arc<Event>> {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        // tenants whose subscribers all left are forgotten here, on the
        // (rare) subscribe path, rather than on every delivery
        channels.retain(|_, tx| tx.receiver_count() > 0);
        let rx = channels
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe();
        self.subscriptions.send_modify(|n| *n = n.saturating_add(1));
        rx
    }

    /// Hands an event to this instance's subscribers of its tenant.
    pub fn deliver(&self, event: Event) {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = channels.get(&event.tenant) {
            // an error only means nobody is subscribed right now
            let _ = tx.send(Arc::new(event));
        }
    }

    /// Tells every subscriber here that events may have been missed.
    pub fn resync_all(&self) {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        for (tenant, tx) in channels.iter() {
            let _ = tx.send(Arc::new(Event {
                tenant: *tenant,
                actor: None,
                at: crate::tenancy::now(),
                subject: Subject::Resync,
                loaded: Loaded::default(),
            }));
        }
    }

    /// Publishes a committed change. Never fails the command that caused
    /// it: the change is stored either way, so a failure is logged.
    pub async fn publish(&self, event: Event) {
        match &self.notify {
            None => self.deliver(event),
            Some(db) => {
                if let Err(e) = self.notify_in(db, &event).await {
                    tracing::error!(error = %e, "could not publish an event through NOTIFY");
                }
            }
        }
    }

    /// Whether events travel through PostgreSQL's NOTIFY.
    pub fn notifies(&self) -> bool {
        self.notify.is_some()
    }

    /// NOTIFY on `conn`: inside a transaction it is sent only if, and when,
    /// that transaction commits.
    pub async fn notify_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        event: &Event,
    ) -> Result<(), sea_orm::DbErr> {
        let payload =
            serde_json::to_string(event).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        let stmt = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        );
        conn.execute_raw(stmt).await.map(|_| ())
    }

    pub async fn publish_all(&self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            self.publish(e).await;
        }
    }
}

/// The events of one tenant, as a stream for a subscription resolver. A
/// subscriber that falls `capacity` events behind, or may have missed
/// events, raises `lag` (its connection then closes with 1013 so that the
/// client reconnects and refetches) and its stream stops without
/// completing: a `complete` would tell the client all is well.
pub fn tenant_stream(
    rx: broadcast::Receiver<Arc<Event>>,
    lag: Option<LagSignal>,
) -> impl futures_util::Stream<Item = Arc<Event>> + Send + 'static {
    futures_util::stream::unfold((rx, lag), move |(mut rx, lag)| async move {
        let missed = match rx.recv().await {
            Ok(e) if e.subject != Subject::Resync => return Some((e, (rx, lag))),
            Ok(_) => "events may have been missed while the LISTEN connection was down",
            Err(broadcast::error::RecvError::Lagged(_)) => "the subscriber fell behind",
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        tracing::warn!(reason = missed, "events: dropping a subscriber");
        if let Some(l) = &lag {
            l.raise();
        }
        std::future::pending::<()>().await;
        None
    })
}

/// Feeds the bus from PostgreSQL's `LISTEN` until the process ends. A lost
/// connection is logged and re-established with backoff; what was notified
/// while it was down is lost (subscribers refetch on reconnect anyway).
pub fn spawn_listener(
    database_url: &str,
    bus: Arc<EventBus>,
) -> tokio::sync::oneshot::Receiver<()> {
    let url = with_application_name(database_url);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut listener = match connect(&url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX), "events: could not LISTEN");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            match ready.take() {
                Some(tx) => {
                    let _ = tx.send(());
                }
                None => {
                    tracing::info!("events: LISTEN connection re-established; subscribers resync");
                    bus.resync_all();
                }
            }
            backoff = Duration::from_millis(100);
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => match serde_json::from_str::<Event>(n.payload()) {
                        Ok(event) => bus.deliver(event),
                        Err(e) => {
                            tracing::warn!(error = %e, "events: ignored a malformed notification")
                        }
                    },
                    Ok(None) => {
                        tracing::warn!("events: LISTEN connection lost; reconnecting");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "events: LISTEN connection failed; reconnecting");
                        break;
                    }
                }
            }
        }
    });
    ready_rx
}

async fn connect(url: &str) -> Result<sea_orm::sqlx::postgres::PgListener, sea_orm::sqlx::Error> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

fn with_application_name(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={LISTENER_APPLICATION_NAME}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_ids_only_and_small() {
        let e = Event {
            tenant: Uuid::new_v4(),
            actor: Some(Uuid::new_v4()),
            at: crate::clock::now(),
            subject: Subject::Opportunity {
                kind: OpportunityEventKind::StageChanged,
                id: Uuid::new_v4(),
                pipeline: Uuid::new_v4(),
                left_pipeline: Some(Uuid::new_v4()),
            },
            loaded: Loaded::default(),
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.len() < 400, "{s}");
        let back = serde_json::from_str::<Event>(&s).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), s);
        let a = Event {
            tenant: Uuid::new_v4(),
            actor: None,
            at: crate::clock::now(),
            subject: Subject::Activity {
                kind: ActivityEventKind::BecameOverdue,
                id: Uuid::new_v4(),
                opportunity: None,
            },
            loaded: Loaded::default(),
        };
        let s = serde_json::to_string(&a).unwrap();
        let back = serde_json::from_str::<Event>(&s).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), s);
    }
}
