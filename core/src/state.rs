//! Shared, immutable state of one server instance.
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::auth::jwt::JwtService;
use crate::events::EventBus;

pub struct AppState {
    pub db: DatabaseConnection,
    pub jwt: JwtService,
    pub refresh_ttl: Duration,
    /// How long a used refresh token may be presented again (two tabs
    /// refreshing at once) and still get a new pair instead of revoking
    /// its family.
    pub refresh_reuse_grace: Duration,
    /// Key of the calendar feed tokens (derived from the JWT secret).
    pub calendar_key: Vec<u8>,
    /// Base URL clients reach this server at, for links it hands out.
    pub public_url: String,
    pub events: Arc<EventBus>,
    /// See `Settings::ws_send_queue`.
    pub ws_send_queue: usize,
    /// See `Settings::ws_recheck_interval`.
    pub ws_recheck: Duration,
    /// Turns true when the instance is shutting down: open WebSockets then
    /// close with 1001 so clients move to another instance at once.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Origins browsers may call from (CORS) and open WebSockets from.
    pub allowed_origins: Vec<String>,
    /// The budgeted argon2 pool.
    pub passwords: crate::auth::password::PasswordHashing,
    /// See `Settings::clock`.
    pub clock: crate::clock::Clock,
    /// See `Settings::tenant_filter`.
    pub tenant_filter: bool,
    /// See `Settings::request_timeout`.
    pub request_timeout: Duration,
    /// See `Settings::webhooks`.
    pub webhooks: crate::config::WebhookSettings,
    /// Encrypts webhook secrets at rest (derived from the JWT secret).
    pub webhook_key: [u8; 32],
    /// The transport's webhook sender, set once at startup (it needs the
    /// GraphQL schema, which is built after this state): `redeliverWebhook`
    /// sends through it.
    pub webhook_sender: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
    /// Import runs going on at once on this instance (each keeps a
    /// database connection busy for its whole run).
    pub import_runs: Arc<tokio::sync::Semaphore>,
}

/// Where a command reads and writes: the instance's pool, where each
/// command runs in a transaction of its own, or an open transaction (an
/// import's batch, [`InTxn`]) in which each command's transaction is a
/// savepoint, so many rows share one commit and still fail one by one.
pub trait Store: Sync {
    type Conn: sea_orm::ConnectionTrait
        + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>
        + Sync;
    fn conn(&self) -> &Self::Conn;
    /// Inside a batch, where a command's events wait to be recorded with
    /// the batch's (see [`InTxn`]); None on the pool.
    fn deferred(&self) -> Option<&std::sync::Mutex<Vec<crate::events::Event>>> {
        None
    }
    /// Told when a command committed events of `tenant`; inside an open
    /// transaction nothing is visible yet, so whoever commits it tells the
    /// bus instead.
    fn committed(&self, tenant: uuid::Uuid);
}

impl Store for AppState {
    type Conn = DatabaseConnection;
    fn conn(&self) -> &DatabaseConnection {
        &self.db
    }
    fn committed(&self, tenant: uuid::Uuid) {
        self.events.committed(tenant);
    }
}

impl<T: Store + Send> Store for Arc<T> {
    type Conn = T::Conn;
    fn conn(&self) -> &T::Conn {
        T::conn(self)
    }
    fn deferred(&self) -> Option<&std::sync::Mutex<Vec<crate::events::Event>>> {
        T::deferred(self)
    }
    fn committed(&self, tenant: uuid::Uuid) {
        T::committed(self, tenant);
    }
}

/// Commands run inside an open transaction (a savepoint of an import's
/// batch). Their events are kept here rather than recorded at once: the
/// batch records them all just before it commits, so it takes the tenant's
/// event-log lock last, as any single command does, and never holds it
/// while waiting for a row another user has locked.
pub struct InTxn<'a> {
    txn: &'a sea_orm::DatabaseTransaction,
    events: std::sync::Mutex<Vec<crate::events::Event>>,
}

impl<'a> InTxn<'a> {
    pub fn new(txn: &'a sea_orm::DatabaseTransaction) -> Self {
        Self {
            txn,
            events: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The events of the commands run on it, for the batch to record.
    pub fn into_events(self) -> Vec<crate::events::Event> {
        self.events.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for InTxn<'_> {
    type Conn = sea_orm::DatabaseTransaction;
    fn conn(&self) -> &sea_orm::DatabaseTransaction {
        self.txn
    }
    fn deferred(&self) -> Option<&std::sync::Mutex<Vec<crate::events::Event>>> {
        Some(&self.events)
    }
    fn committed(&self, _tenant: uuid::Uuid) {}
}
