//! `EVENT_TRANSPORT=nats`: events travel between instances through NATS
//! JetStream instead of PostgreSQL notifications.
//!
//! One relay per database moves log entries, in sequence order per tenant,
//! to the subject `<prefix>.<tenant>` of a JetStream stream (each message
//! deduplicated by its event id, so a relay that takes over republishing a
//! few is harmless). Exactly one instance relays: the one holding a
//! PostgreSQL advisory lock on a connection of its own; if it dies, its
//! session ends, the lock frees and another instance takes over. Every
//! instance reads the stream through an ordered consumer and offers each
//! event to its feed: the next one in sequence is delivered as is, and a
//! gap makes the feed read the log (which stays the truth).
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Event, EventBus, Loaded, Subject, log};
use crate::error::{AppError, AppResult};

/// Where to find NATS and what to call things there.
#[derive(Clone, Debug)]
pub struct NatsSettings {
    pub url: String,
    pub stream: String,
    pub subject_prefix: String,
}

/// An event as it travels on NATS.
#[derive(Serialize, Deserialize)]
struct Wire {
    seq: i64,
    id: Uuid,
    tenant: Uuid,
    actor: Option<Uuid>,
    request: Option<Uuid>,
    at: chrono::DateTime<chrono::Utc>,
    version: Option<i32>,
    subject: Subject,
}

impl From<&Event> for Wire {
    fn from(e: &Event) -> Self {
        Self {
            seq: e.seq,
            id: e.id,
            tenant: e.tenant,
            actor: e.actor,
            request: e.request,
            at: e.at,
            version: e.version,
            subject: e.subject.clone(),
        }
    }
}

impl From<Wire> for Event {
    fn from(w: Wire) -> Self {
        Self {
            seq: w.seq,
            id: w.id,
            tenant: w.tenant,
            actor: w.actor,
            request: w.request,
            at: w.at,
            version: w.version,
            subject: w.subject,
            loaded: Loaded::default(),
        }
    }
}

fn nats_err(e: impl std::fmt::Display) -> AppError {
    AppError::internal(std::io::Error::other(format!("nats: {e}")))
}

/// Connects, makes sure the stream exists, and starts this instance's
/// consumer and its candidacy for the relay.
pub async fn start(
    settings: NatsSettings,
    database_url: &str,
    db: DatabaseConnection,
    bus: Arc<EventBus>,
    retention: Duration,
) -> AppResult<()> {
    let client = async_nats::connect(&settings.url).await.map_err(nats_err)?;
    let js = jetstream::new(client);
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: settings.stream.clone(),
            subjects: vec![format!("{}.>", settings.subject_prefix)],
            max_age: retention.max(Duration::from_secs(60)),
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: format!("{}.>", settings.subject_prefix),
            deliver_policy: jetstream::consumer::DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    let mut messages = consumer.messages().await.map_err(nats_err)?;
    let feed_bus = bus.clone();
    tokio::spawn(async move {
        while let Some(m) = messages.next().await {
            match m {
                Ok(m) => match serde_json::from_slice::<Wire>(&m.payload) {
                    Ok(w) => feed_bus.offer(Event::from(w)),
                    Err(e) => {
                        tracing::warn!(error = %e, "events: ignored a malformed NATS message")
                    }
                },
                Err(e) => {
                    // the ordered consumer recreates itself; whatever was
                    // missed meanwhile comes from the log
                    tracing::warn!(error = %e, "events: NATS consumer error; catching up from the log");
                    feed_bus.poke_all();
                }
            }
        }
        tracing::error!("events: the NATS consumer ended");
    });
    let url = database_url.to_string();
    tokio::spawn(async move {
        loop {
            if let Err(e) = relay(&url, &db, &bus, &js, &settings).await {
                tracing::warn!(error = %e, "events: NATS relay stopped; trying again");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(())
}

/// The advisory lock of the relay (any constant shared by all instances).
const RELAY_LOCK: i64 = 0x0063_726d_7265_6c61; // "crmrela"

/// Waits to become the relay, then relays until the lock is lost.
async fn relay(
    url: &str,
    db: &DatabaseConnection,
    bus: &Arc<EventBus>,
    js: &jetstream::Context,
    settings: &NatsSettings,
) -> AppResult<()> {
    use sea_orm::sqlx::{Connection, Row};
    let mut lock = sea_orm::sqlx::PgConnection::connect(url)
        .await
        .map_err(AppError::internal)?;
    loop {
        let got: bool = sea_orm::sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(RELAY_LOCK)
            .fetch_one(&mut lock)
            .await
            .map_err(AppError::internal)?
            .try_get(0)
            .map_err(AppError::internal)?;
        if got {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tracing::info!("events: this instance relays the log to NATS");
    let commits = bus.commits();
    loop {
        let woken = commits.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        relay_once(db, js, settings).await?;
        // still the leader? (the lock lives as long as its connection)
        sea_orm::sqlx::query("SELECT 1")
            .execute(&mut lock)
            .await
            .map_err(AppError::internal)?;
        let _ = tokio::time::timeout(Duration::from_millis(500), woken).await;
    }
}

/// Publishes every tenant's log entries past the relay's position.
pub async fn relay_once(
    db: &DatabaseConnection,
    js: &jetstream::Context,
    settings: &NatsSettings,
) -> AppResult<usize> {
    let behind = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT h.tenant_id, h.seq AS head, r.seq AS pos FROM event_heads h \
             LEFT JOIN event_relay r ON r.tenant_id = h.tenant_id \
             WHERE r.seq IS NULL OR r.seq < h.seq",
        ))
        .await?;
    let mut sent = 0;
    for row in behind {
        let tenant: Uuid = row.try_get("", "tenant_id")?;
        let head: i64 = row.try_get("", "head")?;
        let Some(mut pos) = row.try_get::<Option<i64>>("", "pos")? else {
            // a tenant new to the relay starts at its present: instances
            // read anything older from the log
            set_position(db, tenant, head).await?;
            continue;
        };
        loop {
            let page = log::read_after(db, tenant, pos, 256, None).await?;
            let full = page.len() >= 256;
            for e in &page {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", e.id.to_string().as_str());
                let payload = serde_json::to_vec(&Wire::from(e)).map_err(AppError::internal)?;
                js.publish_with_headers(
                    format!("{}.{}", settings.subject_prefix, tenant),
                    headers,
                    payload.into(),
                )
                .await
                .map_err(nats_err)?
                .await
                .map_err(nats_err)?;
                pos = e.seq;
                sent += 1;
            }
            set_position(db, tenant, pos).await?;
            if !full {
                break;
            }
        }
    }
    Ok(sent)
}

async fn set_position(db: &DatabaseConnection, tenant: Uuid, seq: i64) -> AppResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "INSERT INTO event_relay (tenant_id, seq) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET seq = GREATEST(event_relay.seq, excluded.seq)",
        [tenant.into(), seq.into()],
    ))
    .await?;
    Ok(())
}
