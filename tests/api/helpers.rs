use std::io::Write;
use std::net::SocketAddr;
use std::sync::Once;
use std::time::Duration;

use crm_server::auth::jwt::JwtSettings;
use crm_server::config::Settings;
use crm_server::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const JWT_ISSUER: &str = "crm-server";
pub const JWT_AUDIENCE: &str = "crm-api";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL. Built without
/// TEST_DATABASE_URL, the PostgreSQL run is ignored (the summary counts
/// and names it: see build.rs); run without it, it skips loudly.
#[macro_export]
macro_rules! dual_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::{Backend, TestApp};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = TestApp::spawn(Backend::Sqlite)
                    .await
                    .expect("sqlite is always available");
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(postgres_tests),
                ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
            )]
            async fn postgres() {
                let Some($app) = TestApp::spawn(Backend::Postgres).await else {
                    return;
                };
                $body
            }
        }
    };
}

static SKIP_WARNING: Once = Once::new();

fn warn_postgres_skipped() {
    SKIP_WARNING.call_once(|| {
        // Written straight to the process's stderr, past the test harness's
        // output capture, so that a skipped suite is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** WARNING: TEST_DATABASE_URL is not set: the PostgreSQL tests are SKIPPED ***\n"
        );
    });
}

pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    /// SQL statements the server has run so far.
    pub statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Subscriptions the server's event bus has taken so far.
    pub subscriptions: tokio::sync::watch::Receiver<u64>,
    /// Does what SIGTERM does to the sockets: closes them with 1001.
    pub close_sockets: std::sync::Arc<dyn Fn() + Send + Sync>,
    /// Runs the server's due-date sweep now (see `sweep_now`).
    sweep: std::sync::Arc<
        dyn Fn() -> futures_util::future::BoxFuture<'static, crm_server::error::AppResult<usize>>
            + Send
            + Sync,
    >,
    handle: actix_web::dev::ServerHandle,
    /// Dropped after the server stops (fields drop after `Drop::drop`).
    _pg: Option<PgDb>,
    _dir: tempfile::TempDir,
}

pub fn test_settings(database_url: String) -> Settings {
    Settings {
        bind_address: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url,
        database_max_connections: 5,
        jwt: JwtSettings {
            secret: JWT_SECRET.into(),
            issuer: JWT_ISSUER.into(),
            audience: JWT_AUDIENCE.into(),
            access_ttl: Duration::from_secs(900),
        },
        refresh_token_ttl: Duration::from_secs(30 * 86_400),
        refresh_reuse_grace: Duration::from_secs(30),
        cors_allowed_origins: vec!["https://app.example.com".into()],
        cors_allowed_headers: vec!["x-tenant-hint".into()],
        graphiql: true,
        introspection: true,
        workers: 1,
        public_url: "http://127.0.0.1".into(),
        event_buffer: 4096,
        ws_send_queue: 256,
        // off unless a test asks: its statements would blur the counts
        event_sweep_interval: Duration::ZERO,
        event_retention: Duration::from_secs(30 * 86_400),
        event_backstop_interval: Duration::from_millis(200),
        event_hints: true,
        nats: None,
        // no delivery workers unless a test asks: their statements would
        // blur the counts
        webhooks: crm_server::config::WebhookSettings {
            allow_http: true,
            allow_private: true,
            workers: 0,
            retry_base: Duration::from_millis(50),
            ..Default::default()
        },
        ws_recheck_interval: Duration::from_secs(60),
        request_timeout: Duration::from_secs(10),
        hash_threads: 2,
        hash_queue: 64,
        database_app_role: Some("crm_app".into()),
        tenant_filter: true,
        clock: crm_server::clock::Clock::System,
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the real server on port 0 against a fresh, migrated database.
    pub async fn spawn_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
                None,
            ),
            Backend::Postgres => {
                let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
                    warn_postgres_skipped();
                    return None;
                };
                let (db, url) = PgDb::create(base).await;
                (url, Some(db))
            }
        };
        Some(Self::start(backend, database_url, pg, dir, tweak).await)
    }

    /// Starts the real server on port 0 against `database_url`.
    async fn start(
        backend: Backend,
        database_url: String,
        pg: Option<PgDb>,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = test_settings(database_url.clone());
        tweak(&mut settings);
        let app = Application::build(settings).await.expect("server starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let statements = app.statement_counter();
        let subscriptions = app.subscriptions();
        let close_sockets = std::sync::Arc::new(app.close_sockets());
        let sweep = std::sync::Arc::new(app.sweeper());
        tokio::spawn(app.run_until_stopped());
        TestApp {
            subscriptions,
            close_sockets,
            sweep,
            backend,
            address,
            client: reqwest::Client::new(),
            database_url,
            statements,
            handle,
            _pg: pg,
            _dir: dir,
        }
    }

    /// Runs the server's due-date sweep now, as its timer would: answers
    /// how many BECAME_LATE / BECAME_OVERDUE transitions it raised.
    pub async fn sweep_now(&self) -> usize {
        (self.sweep)().await.expect("the sweep runs")
    }

    /// A second instance of the server on this instance's database, as
    /// when several run behind a load balancer.
    pub async fn sibling(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        Self::start(self.backend, self.database_url.clone(), None, dir, tweak).await
    }

    /// Opens a WebSocket on /graphql offering graphql-transport-ws.
    pub async fn ws(&self) -> Ws {
        self.ws_at("/graphql", Some(crm_server::http::ws::PROTOCOL))
            .await
    }

    pub async fn ws_at(&self, path: &str, protocol: Option<&str>) -> Ws {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}{path}", self.address.replacen("http://", "ws://", 1));
        let mut req = url.into_client_request().unwrap();
        if let Some(p) = protocol {
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Ws {
            stream,
            live: self.subscriptions.clone(),
        }
    }

    /// A connection acknowledged for `token`.
    pub async fn ws_ready(&self, token: &str) -> Ws {
        let mut ws = self.ws().await;
        ws.init(token).await;
        ws
    }

    /// Runs any operation like a client would: subscriptions over a
    /// WebSocket, answering with the first message's errors if one comes
    /// at once (no error within a moment means the subscription is live),
    /// everything else over HTTP.
    pub async fn gql_any(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        if !query.trim_start().starts_with("subscription") {
            return self.gql(token, query, variables).await;
        }
        let mut ws = self.ws_ready(token.unwrap_or_default()).await;
        ws.subscribe("probe", query, variables).await;
        match ws.next_within(Duration::from_millis(300)).await {
            None => json!({ "data": null }),
            Some(m) if m["type"] == "error" => json!({ "data": null, "errors": m["payload"] }),
            Some(m) => m["payload"].clone(),
        }
    }

    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(self.database_url.as_str()).await.unwrap()
    }

    /// Runs a request and returns its answer with the number of SQL
    /// statements the server ran for it (the app serves one test at a time).
    /// The fewest of five runs: on a starved 2-core machine running the
    /// whole suite, a DataLoader's batching window can close before every
    /// key of a list arrived, splitting one batch in two.
    pub async fn gql_counted(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (Value, u64) {
        use std::sync::atomic::Ordering;
        let mut best: Option<(Value, u64)> = None;
        for _ in 0..5 {
            let before = self.statements.load(Ordering::SeqCst);
            let v = self.gql(token, query, variables.clone()).await;
            let n = self.statements.load(Ordering::SeqCst) - before;
            if best.as_ref().is_none_or(|(_, b)| n < *b) {
                best = Some((v, n));
            }
        }
        best.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// POSTs a GraphQL request and returns the JSON answer; asserts HTTP 200.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "graphql over HTTP answers 200");
        res.json().await.unwrap()
    }

    pub async fn sign_up(&self, tenant: &str, email: &str) -> Session {
        let v = self
            .gql(
                None,
                SIGN_UP,
                json!({ "input": {
                    "tenantName": tenant, "name": "Owner", "email": email, "password": PASSWORD
                }}),
            )
            .await;
        Session::from_payload(&v["data"]["signUp"], email)
    }

    pub async fn login(&self, slug: &str, email: &str, password: &str) -> Value {
        self.gql(
            None,
            &format!("mutation($i: LoginInput!) {{ login(input: $i) {{ {PAYLOAD_FIELDS} }} }}"),
            json!({ "i": { "tenantSlug": slug, "email": email, "password": password } }),
        )
        .await
    }

    /// Creates a user with the given role in the admin's tenant and signs it in.
    pub async fn create_user(&self, admin: &Session, email: &str, role: &str) -> Session {
        let v = self
            .gql(
                Some(&admin.token),
                "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                json!({ "i": { "email": email, "name": "Member", "role": role, "password": PASSWORD } }),
            )
            .await;
        assert!(v["errors"].is_null(), "{v}");
        let login = self.login(&admin.slug, email, PASSWORD).await;
        Session::from_payload(&login["data"]["login"], email)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // sends the stop command now; completion is not awaited
        drop(self.handle.stop(false));
    }
}

/// A fresh PostgreSQL database, dropped when this goes out of scope (even
/// when the test panics).
pub struct PgDb {
    base: String,
    name: String,
}

impl PgDb {
    pub async fn create(base: String) -> (Self, String) {
        let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(base.as_str()).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.ok();
        let url = database_url_with_db(&base, &name);
        (Self { base, name }, url)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop cannot await, and the test's runtime may be shutting down
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(db) = Database::connect(base.as_str()).await {
                    let _ = db
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

pub fn database_url_with_db(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base, String::new()),
    };
    let root = match head.rfind('/') {
        Some(i) if i > "postgres://".len() => &head[..i],
        _ => head,
    };
    format!("{root}/{name}{query}")
}

pub const PAYLOAD_FIELDS: &str = "accessToken refreshToken expiresAt user { id email name role active createdAt } tenant { id name slug currency timezone createdAt }";

pub const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken expiresAt user { id email name role active createdAt } tenant { id name slug currency timezone createdAt } } }";

#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub refresh: String,
    pub user_id: String,
    pub tenant_id: String,
    pub slug: String,
}

impl Session {
    pub fn from_payload(p: &Value, _email: &str) -> Self {
        assert!(p.is_object(), "expected an AuthPayload, got {p}");
        Self {
            token: p["accessToken"].as_str().unwrap().into(),
            refresh: p["refreshToken"].as_str().unwrap().into(),
            user_id: p["user"]["id"].as_str().unwrap().into(),
            tenant_id: p["tenant"]["id"].as_str().unwrap().into(),
            slug: p["tenant"]["slug"].as_str().unwrap().into(),
        }
    }
}

/// The `extensions.code` of the first error.
pub fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

pub fn field(v: &Value) -> &str {
    v["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {v}"))
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws client that lets tests send anything.
pub struct Ws {
    pub stream: WsStream,
    /// The server's count of subscriptions taken (see `subscribe_live`).
    live: tokio::sync::watch::Receiver<u64>,
}

impl Ws {
    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.stream
            .send(Message::text(text.to_string()))
            .await
            .unwrap();
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn init(&mut self, token: &str) {
        self.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))
            .await;
        let ack = self.next().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// Subscribes and waits until the server's event bus has taken the
    /// subscription: the protocol has no "subscribed" answer, and only
    /// events committed after that are delivered. A signal, not a guess.
    pub async fn subscribe_live(&mut self, id: &str, query: &str, variables: Value) {
        let before = *self.live.borrow();
        self.subscribe(id, query, variables).await;
        tokio::time::timeout(Duration::from_secs(10), self.live.wait_for(|n| *n > before))
            .await
            .expect("the subscription never reached the event bus")
            .expect("the server is gone");
    }

    /// The next protocol message, or None when nothing comes within `wait`.
    /// Panics on a close.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(m) => m,
            };
            match msg {
                Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The next protocol message (within 5 s).
    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("a message within 5 s")
    }

    /// The data of the next `next` message of operation `id`.
    pub async fn event(&mut self, id: &str) -> Value {
        let m = self.next().await;
        assert_eq!(m["type"], "next", "{m}");
        assert_eq!(m["id"], id, "{m}");
        assert!(m["payload"]["errors"].is_null(), "{m}");
        m["payload"]["data"].clone()
    }

    /// Asserts that nothing arrives for `wait`.
    pub async fn silent_for(&mut self, wait: Duration) {
        if let Some(m) = self.next_within(wait).await {
            panic!("expected nothing, got {m}");
        }
    }

    /// Reads (and drops) messages until the server closes; returns the
    /// close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => panic!("the server did not close within 30 s"),
                Ok(Some(Ok(Message::Close(Some(f))))) => {
                    return (u16::from(f.code), f.reason.to_string());
                }
                Ok(Some(Ok(Message::Close(None)))) => return (1005, String::new()),
                Ok(Some(Ok(_))) => continue,
                Ok(other) => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}
