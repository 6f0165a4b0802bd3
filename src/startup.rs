//! Building and running one server instance.
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpServer, dev::Server, web};

use crate::auth::jwt::JwtService;
use crate::config::Settings;
use crate::events::EventBus;
use crate::graphql::build_schema;
use crate::http::{self, graphql::GraphiqlEnabled};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Application {
    port: u16,
    server: Server,
    statements: Arc<AtomicU64>,
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    events: Arc<EventBus>,
    db: sea_orm::DatabaseConnection,
    clock: crate::clock::Clock,
}

impl Application {
    /// Connects and migrates the database, then binds the port (0 picks a
    /// free one, which is what the tests do).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let owner = crate::db::connect(&settings.database_url, 1, settings.request_timeout).await?;
        crate::db::migrate(&owner).await?;
        let mut app_role = settings.database_app_role.clone();
        let postgres = owner.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        if let Some(role) = app_role.clone().filter(|_| postgres)
            && let Err(e) = crate::db::ensure_app_role(&owner, &role).await
        {
            tracing::warn!(error = %e, role = %role, "cannot prepare the application role: queries run as the connecting user");
            app_role = None;
        }
        owner.close().await?;
        let mut db = crate::db::connect_app(
            &settings.database_url,
            settings.database_max_connections,
            settings.request_timeout,
            app_role.as_deref(),
        )
        .await?;
        // counts every SQL statement the instance runs: the N+1 tests read it
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        crate::auth::password::warm_up().await;
        let postgres = db.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        let nats = settings.nats.clone().filter(|_| postgres);
        let events = Arc::new(
            EventBus::new(&db, settings.event_buffer)
                .with_hints(settings.event_hints && nats.is_none()),
        );
        let bus = events.clone();
        if let Some(nats) = nats {
            crate::events::nats::start(
                nats,
                &settings.database_url,
                db.clone(),
                events.clone(),
                settings.event_retention,
            )
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        } else if postgres {
            let ready = crate::events::spawn_listener(&settings.database_url, events.clone());
            // start delivering before serving; a failure keeps retrying in
            // the background (and is logged there)
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), ready).await;
        }
        crate::events::spawn_backstop(events.clone(), settings.event_backstop_interval);
        if !settings.event_sweep_interval.is_zero() {
            crate::jobs::spawn_sweeper(
                db.clone(),
                events.clone(),
                settings.event_sweep_interval,
                settings.event_retention,
                settings.clock,
            );
        }
        let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
        let shutdown_tx = Arc::new(shutdown_tx);
        let state = Arc::new(AppState {
            db,
            jwt: JwtService::new(settings.jwt.clone()),
            refresh_ttl: settings.refresh_token_ttl,
            refresh_reuse_grace: settings.refresh_reuse_grace,
            calendar_key: crate::auth::sha256_hex(&format!(
                "calendar-feed:{}",
                settings.jwt.secret
            ))
            .into_bytes(),
            public_url: settings.public_url.clone(),
            events,
            ws_send_queue: settings.ws_send_queue.max(1),
            ws_recheck: settings
                .ws_recheck_interval
                .max(std::time::Duration::from_secs(1)),
            shutdown,
            request_timeout: settings.request_timeout,
            tenant_filter: settings.tenant_filter,
            clock: settings.clock,
            passwords: crate::auth::password::PasswordHashing::new(
                settings.hash_threads,
                settings.hash_queue,
            )?,
            allowed_origins: settings.cors_allowed_origins.clone(),
            webhooks: settings.webhooks.clone(),
            webhook_key: crate::auth::sha256_bytes(&format!(
                "webhook-secrets:{}",
                settings.jwt.secret
            )),
            webhook_sender: std::sync::OnceLock::new(),
            import_runs: Arc::new(tokio::sync::Semaphore::new(
                crm_core::modules::import::MAX_RUNS,
            )),
        });
        let sweep_db = state.db.clone();
        let listener =
            TcpListener::bind(settings.bind_address).map_err(|source| StartupError::Bind {
                addr: settings.bind_address,
                source,
            })?;
        let port = listener.local_addr()?.port();
        let schema = build_schema(Some(state.clone()), settings.introspection);
        crate::webhooks::spawn_workers(state.clone(), schema.clone())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let executor = web::Data::new(crate::graphql::Executor::new(settings.workers.max(1))?);
        let graphiql = GraphiqlEnabled(settings.graphiql);
        let workers = settings.workers.max(1);
        let cors_settings = settings.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(http::catch_panics)
                .wrap(http::security_headers())
                .wrap(http::cors(&cors_settings))
                .app_data(web::Data::new(schema.clone()))
                .app_data(web::Data::new(state.clone()))
                .app_data(executor.clone())
                .app_data(web::Data::new(graphiql))
                .configure(http::routes)
        })
        .workers(workers)
        .listen(listener)?
        .run();
        tracing::info!(port, "listening");
        Ok(Self {
            port,
            server,
            statements,
            shutdown: shutdown_tx,
            events: bus,
            db: sweep_db,
            clock: settings.clock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many SQL statements this instance has run so far.
    pub fn statement_counter(&self) -> Arc<AtomicU64> {
        self.statements.clone()
    }

    /// Counts the subscriptions this instance has taken: a test waits for
    /// it to move instead of guessing that a subscription is live.
    pub fn subscriptions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events.subscriptions()
    }

    /// Stops the server from elsewhere (tests stop each instance they start).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Closes every open WebSocket with 1001 (going away), as a SIGTERM
    /// or Ctrl-C does: a graceful stop would otherwise wait on them.
    pub fn close_sockets(&self) -> impl Fn() + Send + Sync + 'static {
        let tx = self.shutdown.clone();
        move || {
            let _ = tx.send(true);
        }
    }

    /// Runs one due-date sweep now, as the sweeper does on its interval:
    /// tests raise BECAME_LATE and BECAME_OVERDUE when they choose instead
    /// of racing a timer. Answers how many transitions it raised.
    pub fn sweeper(
        &self,
    ) -> impl Fn() -> std::pin::Pin<
        Box<dyn std::future::Future<Output = crate::error::AppResult<usize>> + Send>,
    > + Send
    + Sync
    + 'static {
        let (db, bus, clock) = (self.db.clone(), self.events.clone(), self.clock);
        move || {
            let (db, bus) = (db.clone(), bus.clone());
            Box::pin(crate::clock::run_on(clock, async move {
                crate::jobs::sweep(&db, &bus).await
            }))
        }
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// On SIGTERM or Ctrl-C, tells open WebSockets to close (1001) while
/// actix-web stops the server: clients reconnect to another instance
/// at once instead of waiting out the shutdown timeout.
pub fn spawn_signal_watch(close_sockets: impl Fn() + Send + 'static) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: closing WebSockets with 1001");
        close_sockets();
    });
}
