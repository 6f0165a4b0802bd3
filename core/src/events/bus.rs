//! Fan-out from the log to this instance's subscribers.
//!
//! The bus keeps one feed per tenant that has subscribers here. A feed
//! knows how far into its tenant's log it has delivered; when it is poked
//! it reads what follows and hands it, in sequence order, to a broadcast
//! channel its subscribers read. Pokes come from commands committed here,
//! from other instances through PostgreSQL's NOTIFY (a hint naming the
//! tenant), from a LISTEN connection coming back, and from a slow backstop
//! that catches whatever a lost hint left behind. Whatever pokes it, a
//! feed only ever delivers what the log holds, so every instance delivers
//! the same events in the same order, and none that did not commit.
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{Event, LagSignal, log};
use crate::error::AppResult;

/// The PostgreSQL channel every instance listens on.
pub const CHANNEL: &str = "crm_events";
/// Application name of the LISTEN connection (visible in pg_stat_activity).
pub const LISTENER_APPLICATION_NAME: &str = "crm-events-listener";
/// Log entries read per statement.
const PAGE: u64 = 256;

pub struct EventBus {
    db: DatabaseConnection,
    /// Tells this instance's own hints apart from other instances'.
    instance: Uuid,
    /// One feed per tenant with subscribers here: a subscriber only wakes
    /// for its tenant's events, and a burst in one tenant cannot push
    /// another tenant's subscribers behind.
    feeds: RwLock<HashMap<Uuid, Arc<Feed>>>,
    capacity: usize,
    /// On PostgreSQL (unless turned off): other instances hear of commits
    /// through NOTIFY.
    hints: bool,
    /// Woken by every commit seen here (this instance's or a hint of
    /// another's): webhook workers wait on it.
    commits: Arc<tokio::sync::Notify>,
    /// How many subscriptions were ever taken: a subscription is live
    /// (will hear every later event) once this has counted it, which is
    /// what tests wait on instead of guessing from silence.
    subscriptions: tokio::sync::watch::Sender<u64>,
}

struct Feed {
    tx: broadcast::Sender<Arc<Event>>,
    /// The last sequence number delivered; None until first read.
    last: tokio::sync::Mutex<Option<i64>>,
    dirty: AtomicBool,
    running: AtomicBool,
}

/// A subscriber's place on its tenant's feed.
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<Event>>,
    /// Every event after this one reaches `rx`.
    pub start: i64,
}

impl EventBus {
    /// `capacity` bounds how far one subscriber may fall behind the live
    /// feed before it goes back to reading the log itself.
    pub fn new(db: &DatabaseConnection, capacity: usize) -> Self {
        Self {
            db: db.clone(),
            instance: Uuid::new_v4(),
            feeds: RwLock::new(HashMap::new()),
            capacity: capacity.max(16),
            hints: db.get_database_backend() == DatabaseBackend::Postgres,
            subscriptions: tokio::sync::watch::channel(0).0,
            commits: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Notified on every commit this instance hears of.
    pub fn commits(&self) -> Arc<tokio::sync::Notify> {
        self.commits.clone()
    }

    /// Counts subscriptions taken so far (see the field).
    pub fn subscriptions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.subscriptions.subscribe()
    }

    /// Without hints, other instances see this one's events within their
    /// backstop interval (`EVENT_HINTS=false`).
    pub fn with_hints(mut self, hints: bool) -> Self {
        self.hints = self.hints && hints;
        self
    }

    fn feed(&self, tenant: Uuid) -> Option<Arc<Feed>> {
        let feeds = self.feeds.read().unwrap_or_else(|e| e.into_inner());
        feeds.get(&tenant).cloned()
    }

    /// Joins `tenant`'s feed: every event committed from now on reaches
    /// the receiver, in sequence order.
    pub async fn subscribe(&self, tenant: Uuid) -> AppResult<Subscription> {
        let feed = {
            let mut feeds = self.feeds.write().unwrap_or_else(|e| e.into_inner());
            // tenants whose subscribers all left are forgotten here, on the
            // (rare) subscribe path, rather than on every delivery
            feeds.retain(|_, f| f.tx.receiver_count() > 0);
            feeds
                .entry(tenant)
                .or_insert_with(|| {
                    Arc::new(Feed {
                        tx: broadcast::channel(self.capacity).0,
                        last: tokio::sync::Mutex::new(None),
                        dirty: AtomicBool::new(false),
                        running: AtomicBool::new(false),
                    })
                })
                .clone()
        };
        let rx = feed.tx.subscribe();
        // deliveries advance `last` under this lock, so whatever follows
        // `start` is sent after `rx` exists
        let start = {
            let mut last = feed.last.lock().await;
            match *last {
                Some(l) => l,
                None => {
                    let head = log::head(&self.db, tenant).await?;
                    *last = Some(head);
                    head
                }
            }
        };
        self.subscriptions.send_modify(|n| *n = n.saturating_add(1));
        Ok(Subscription { rx, start })
    }

    /// Tells the bus that a transaction recording events of `tenant` has
    /// committed: this instance's feed reads them, and other instances
    /// are hinted. Never fails the command: the events are in the log
    /// either way, and the backstop delivers what a lost hint delays.
    pub fn committed(self: &Arc<Self>, tenant: Uuid) {
        self.poke(tenant);
        if self.hints {
            let db = self.db.clone();
            let payload = format!("{tenant} {}", self.instance);
            tokio::spawn(async move {
                let stmt = Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                );
                if let Err(e) = db.execute_raw(stmt).await {
                    tracing::warn!(error = %e, "events: could not hint other instances; the backstop will deliver");
                }
            });
        }
    }

    /// Makes `tenant`'s feed (if any here) read the log.
    pub fn poke(self: &Arc<Self>, tenant: Uuid) {
        self.commits.notify_waiters();
        let Some(feed) = self.feed(tenant) else {
            return;
        };
        feed.dirty.store(true, Ordering::SeqCst);
        if !feed.running.swap(true, Ordering::SeqCst) {
            tokio::spawn(self.clone().drain(tenant, feed));
        }
    }

    /// An event that arrived by NATS: delivered as is when it is the next
    /// one the feed expects, otherwise the feed reads the log (a gap, or
    /// a read in progress).
    pub fn offer(self: &Arc<Self>, event: Event) {
        self.commits.notify_waiters();
        let Some(feed) = self.feed(event.tenant) else {
            return;
        };
        let Ok(mut last) = feed.last.try_lock() else {
            self.poke(event.tenant);
            return;
        };
        match *last {
            Some(l) if event.seq == l + 1 => {
                *last = Some(event.seq);
                let _ = feed.tx.send(Arc::new(event));
            }
            Some(l) if event.seq <= l => {}
            _ => {
                drop(last);
                self.poke(event.tenant);
            }
        }
    }

    /// Makes every feed here read the log.
    pub fn poke_all(self: &Arc<Self>) {
        let tenants: Vec<Uuid> = {
            let feeds = self.feeds.read().unwrap_or_else(|e| e.into_inner());
            feeds.keys().copied().collect()
        };
        for t in tenants {
            self.poke(t);
        }
    }

    /// Pokes the feeds whose tenant's log has moved past what they
    /// delivered: one statement for all of them, whatever their number.
    pub async fn catch_up_behind(self: &Arc<Self>) -> AppResult<()> {
        let feeds: Vec<(Uuid, Arc<Feed>)> = {
            let feeds = self.feeds.read().unwrap_or_else(|e| e.into_inner());
            feeds.iter().map(|(t, f)| (*t, f.clone())).collect()
        };
        if feeds.is_empty() {
            return Ok(());
        }
        let tenants: Vec<Uuid> = feeds.iter().map(|(t, _)| *t).collect();
        let mut behind = Vec::new();
        for chunk in tenants.chunks(1_000) {
            for (tenant, head) in log::heads(&self.db, chunk).await? {
                let last = feeds
                    .iter()
                    .find(|(t, _)| *t == tenant)
                    .and_then(|(_, f)| f.last.try_lock().ok().map(|l| *l));
                // a feed busy reading, or never read, is left alone
                if let Some(Some(l)) = last
                    && l < head
                {
                    behind.push(tenant);
                }
            }
        }
        for t in behind {
            self.poke(t);
        }
        Ok(())
    }

    async fn drain(self: Arc<Self>, tenant: Uuid, feed: Arc<Feed>) {
        loop {
            feed.dirty.store(false, Ordering::SeqCst);
            if let Err(e) = self.catch_up(tenant, &feed).await {
                // the backstop pokes again
                feed.dirty.store(true, Ordering::SeqCst);
                feed.running.store(false, Ordering::SeqCst);
                tracing::warn!(error = %e, "events: could not read the log; retrying on the next poke");
                return;
            }
            feed.running.store(false, Ordering::SeqCst);
            if !feed.dirty.load(Ordering::SeqCst) || feed.running.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    }

    async fn catch_up(&self, tenant: Uuid, feed: &Feed) -> AppResult<()> {
        let mut last = feed.last.lock().await;
        let Some(mut pos) = *last else {
            return Ok(());
        };
        loop {
            let page = log::read_after(&self.db, tenant, pos, PAGE, None).await?;
            let full = page.len() as u64 >= PAGE;
            for e in page {
                pos = e.seq;
                // an error only means nobody is subscribed right now
                let _ = feed.tx.send(Arc::new(e));
            }
            *last = Some(pos);
            if !full {
                return Ok(());
            }
        }
    }

    /// Up to a page of `tenant`'s events after `after`, read through the
    /// caller's connection context (its tenant scope).
    pub async fn read_after(&self, tenant: Uuid, after: i64) -> AppResult<Vec<Event>> {
        log::read_after(&self.db, tenant, after, PAGE, None).await
    }

    /// See `log::check_cursor`.
    pub async fn check_cursor(&self, tenant: Uuid, after: i64) -> AppResult<()> {
        log::check_cursor(&self.db, tenant, after, "after").await
    }

    fn is_own(&self, instance: &str) -> bool {
        instance == self.instance.to_string()
    }
}

/// Every `interval`, compares the heads of the tenants with subscribers
/// here to what their feeds delivered (one statement) and pokes those
/// behind: what a lost hint (a failed NOTIFY, a database that was briefly
/// unreachable) left in the log is delivered within one interval.
pub fn spawn_backstop(bus: Arc<EventBus>, interval: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = bus.catch_up_behind().await {
                tracing::warn!(error = %e, "events: the backstop could not read the log heads");
            }
        }
    });
}

/// A subscriber's events: with `after`, first what the log holds after
/// that sequence number, then the live feed, with no gap and no duplicate
/// across the switch. A subscriber that falls behind the live feed goes
/// back to the log from where it was. When the log cannot be read, `lag`
/// is raised (the connection closes with 1013; the client resumes from
/// its last cursor) and the stream stops without completing: a `complete`
/// would tell the client all is well.
pub fn tenant_stream(
    bus: Arc<EventBus>,
    tenant: Uuid,
    sub: Subscription,
    after: Option<i64>,
    lag: Option<LagSignal>,
) -> impl futures_util::Stream<Item = Arc<Event>> + Send + 'static {
    struct State {
        bus: Arc<EventBus>,
        tenant: Uuid,
        rx: broadcast::Receiver<Arc<Event>>,
        pos: i64,
        replaying: bool,
        backlog: VecDeque<Arc<Event>>,
        lag: Option<LagSignal>,
    }
    let state = State {
        bus,
        tenant,
        rx: sub.rx,
        pos: after.unwrap_or(sub.start),
        replaying: after.is_some(),
        backlog: VecDeque::new(),
        lag,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(e) = s.backlog.pop_front() {
                return Some((e, s));
            }
            if s.replaying {
                match s.bus.read_after(s.tenant, s.pos).await {
                    Ok(page) => {
                        s.replaying = page.len() as u64 >= PAGE;
                        if let Some(e) = page.last() {
                            s.pos = e.seq;
                        }
                        s.backlog.extend(page.into_iter().map(Arc::new));
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "events: could not replay the log; dropping a subscriber");
                        if let Some(l) = &s.lag {
                            l.raise();
                        }
                        std::future::pending::<()>().await;
                        return None;
                    }
                }
            }
            match s.rx.recv().await {
                Ok(e) if e.seq <= s.pos => {}
                Ok(e) => {
                    s.pos = e.seq;
                    return Some((e, s));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // back to the log from where this subscriber was
                    s.rx = s.rx.resubscribe();
                    s.replaying = true;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// Pokes feeds from PostgreSQL's `LISTEN` until the process ends. A lost
/// connection is logged and re-established with backoff; coming back, it
/// pokes every feed, which reads whatever the log gained meanwhile.
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
                    tracing::info!(
                        "events: LISTEN connection re-established; catching up from the log"
                    );
                    bus.poke_all();
                }
            }
            backoff = Duration::from_millis(100);
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        let mut parts = n.payload().split(' ');
                        let tenant = parts.next().and_then(|t| Uuid::parse_str(t).ok());
                        let own = parts.next().is_some_and(|i| bus.is_own(i));
                        match tenant {
                            Some(t) if !own => bus.poke(t),
                            Some(_) => {}
                            None => tracing::warn!("events: ignored a malformed hint"),
                        }
                    }
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
