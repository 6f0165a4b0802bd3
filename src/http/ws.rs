//! GraphQL over WebSocket with the `graphql-transport-ws` subprotocol, as
//! graphql-ws's PROTOCOL.md describes it. Written by hand (async-graphql's
//! loop closes a rejected init with 1002) so that clients see the
//! protocol's own close codes:
//!
//! | code | when |
//! |------|------|
//! | 4400 | a message that is not valid JSON, not a client message type, or a binary frame |
//! | 4401 | `subscribe` before the connection was acknowledged |
//! | 4403 | a missing or bad token at init, or the token expired |
//! | 4406 | the client did not offer `graphql-transport-ws` |
//! | 4408 | no `connection_init` within 3 s |
//! | 4409 | a `subscribe` reusing the id of a running operation |
//! | 4429 | a second `connection_init` |
//! | 1009 | a message over 64 KiB |
//! | 1013 | the client reads too slowly: its send queue or the event bus overflowed |
//! | 1001 | the instance is shutting down |
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use async_graphql::{Request, Variables};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::request::{authenticate, request_data, request_error_body};
use crate::auth::{AuthContext, TenantSettings};
use crate::error::codes;
use crate::events::LagSignal;
use crate::graphql::{AppSchema, limits};
use crate::state::AppState;

pub const PROTOCOL: &str = "graphql-transport-ws";
pub const INIT_TIMEOUT: Duration = Duration::from_secs(3);
pub const MAX_SUBSCRIPTIONS: usize = 20;
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Whether a GET on /graphql asks for a WebSocket.
pub fn is_upgrade(req: &actix_web::dev::RequestHead) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    schema: web::Data<AppSchema>,
    state: web::Data<Arc<AppState>>,
) -> HttpResponse {
    let schema = schema.get_ref().clone();
    let state = state.get_ref().clone();
    let offered = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !super::request::origin_allowed(&req, &state.allowed_origins) {
        return HttpResponse::Forbidden()
            .content_type("application/json")
            .json(json!({ "errors": [{ "message": "this Origin may not open a WebSocket", "extensions": { "code": codes::FORBIDDEN } }] }));
    }
    let (response, session, stream) = match actix_ws::handle_with_protocols(&req, body, &[PROTOCOL])
    {
        Ok(parts) => parts,
        Err(e) => return e.error_response(),
    };
    let stream = stream
        .max_frame_size(MAX_MESSAGE_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);
    actix_web::rt::spawn(async move {
        if !offered {
            close(session, 4406, "Subprotocol not acceptable").await;
            return;
        }
        Connection::new(session.clone(), schema, state)
            .run(session, stream)
            .await;
    });
    response
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, Value>>,
}

/// Why the connection ends: a close code and its reason.
type Closing = (u16, String);

const TOO_SLOW: &str = "Subscriber too slow: reconnect and refetch";

/// A task that is cancelled when its owner goes away, however that happens.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Connection {
    schema: AppSchema,
    state: Arc<AppState>,
    /// Everything sent to the client goes through this bounded queue, in
    /// order; a writer task drains it into the socket.
    out: mpsc::Sender<String>,
    out_rx: Option<mpsc::Receiver<String>>,
    writer_session: Session,
    lag: LagSignal,
    init_received: bool,
    caller: Option<(AuthContext, TenantSettings)>,
    token: Option<String>,
    expires_in: Option<Duration>,
    operations: HashMap<String, AbortOnDrop>,
}

impl Connection {
    fn new(session: Session, schema: AppSchema, state: Arc<AppState>) -> Self {
        let (out, out_rx) = mpsc::channel(state.ws_send_queue);
        Self {
            schema,
            state,
            out,
            out_rx: Some(out_rx),
            writer_session: session,
            lag: LagSignal::default(),
            init_received: false,
            caller: None,
            token: None,
            expires_in: None,
            operations: HashMap::new(),
        }
    }

    async fn run(mut self, session: Session, mut stream: AggregatedMessageStream) {
        let writer = self.out_rx.take().map(|mut rx| {
            let mut ws = self.writer_session.clone();
            actix_web::rt::spawn(async move {
                while let Some(text) = rx.recv().await {
                    if ws.text(text).await.is_err() {
                        break;
                    }
                }
            })
        });
        let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(init_deadline);
        // replaced by the token's expiry once acknowledged
        let expiry = tokio::time::sleep(Duration::from_secs(86_400 * 365));
        tokio::pin!(expiry);
        // a deactivated or re-roled user's socket closes (4403) within one
        // interval, as their next HTTP request would fail at once
        let every = self.state.ws_recheck;
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let lag = self.lag.clone();
        let mut pong_session = session.clone();
        let mut shutdown = self.state.shutdown.clone();

        let closing: Option<Closing> = loop {
            tokio::select! {
                msg = stream.recv() => match msg {
                    None => break None,
                    Some(Err(actix_ws::ProtocolError::Overflow)) => {
                        break Some((1009, format!("Message too big: at most {MAX_MESSAGE_BYTES} bytes")));
                    }
                    Some(Err(_)) => break Some((1002, "WebSocket protocol error".into())),
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        let acked = self.caller.is_some();
                        if let Some(c) = self.handle(&text).await {
                            break Some(c);
                        }
                        if !acked && let Some(d) = self.expires_in {
                            expiry.as_mut().reset(tokio::time::Instant::now() + d);
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        break Some((4400, "Invalid message received: binary frames are not used".into()));
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        // a client that stopped reading cannot take a pong
                        // either: never wait on it for long
                        let pong = pong_session.pong(&bytes);
                        if tokio::time::timeout(Duration::from_secs(1), pong).await.is_err() {
                            break Some((1013, TOO_SLOW.into()));
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Close(reason))) => {
                        let code = reason.map_or(1000, |r| u16::from(r.code));
                        break Some((code, String::new()));
                    }
                },
                _ = &mut init_deadline, if !self.init_received => {
                    break Some((4408, "Connection initialisation timeout".into()));
                }
                _ = &mut expiry, if self.caller.is_some() => {
                    break Some((4403, "Forbidden: the access token expired; reconnect with a fresh one".into()));
                }
                _ = recheck.tick(), if self.caller.is_some() => {
                    if let Some(c) = self.recheck().await {
                        break Some(c);
                    }
                }
                _ = shutdown.wait_for(|stopping| *stopping) => {
                    break Some((1001, "Server shutting down: reconnect".into()));
                }
                _ = lag.0.notified() => {
                    tracing::warn!(
                        user = ?self.caller.as_ref().map(|c| c.0.user.0),
                        "websocket: subscriber too slow or out of sync, closing with 1013"
                    );
                    break Some((1013, TOO_SLOW.into()));
                }
            }
        };

        // stop every operation; what is already queued still goes out,
        // unless the client is the problem
        self.operations.clear();
        let too_slow = matches!(&closing, Some((1013, _)));
        let Self { out, .. } = self;
        drop(out);
        if let Some(w) = writer {
            let w = AbortOnDrop(w);
            if !too_slow {
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    while !w.0.is_finished() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                })
                .await;
            }
        }
        if let Some((code, reason)) = closing {
            if code >= 4000 || matches!(code, 1001 | 1009 | 1013) {
                tracing::info!(code, reason = %reason, "websocket: closing");
            }
            close(session, code, &reason).await;
        }
    }

    /// Re-reads the user behind the connection, as every HTTP request
    /// does: a deactivated user, or one whose role changed, is closed out
    /// (4403) and reconnects with a fresh token.
    async fn recheck(&self) -> Option<Closing> {
        let (auth, _) = self.caller.as_ref()?;
        match authenticate(&self.state, self.token.as_deref()).await {
            Ok(Some((now, _))) if now.role == auth.role => None,
            // the database blinked: keep the socket, check again next time
            Err(_) => None,
            _ => Some((
                4403,
                "Forbidden: the user changed; reconnect with a fresh token".into(),
            )),
        }
    }

    /// Handles one text message; Some(closing) ends the connection.
    async fn handle(&mut self, text: &str) -> Option<Closing> {
        let msg = match serde_json::from_str::<ClientMessage>(text) {
            Ok(m) => m,
            Err(e) => return Some((4400, format!("Invalid message received: {e}"))),
        };
        match msg {
            ClientMessage::ConnectionInit { payload } => {
                if self.init_received {
                    return Some((4429, "Too many initialisation requests".into()));
                }
                self.init_received = true;
                let token = payload.as_ref().and_then(bearer_of);
                let caller = match authenticate(&self.state, token.as_deref()).await {
                    Ok(Some(caller)) => caller,
                    Ok(None) => return Some((4403, "Forbidden".into())),
                    Err(_) => return Some((1013, "Try again later".into())),
                };
                let Some(expires_at) = token
                    .as_deref()
                    .and_then(|t| self.state.jwt.verify(t))
                    .map(|i| i.expires_at)
                else {
                    return Some((4403, "Forbidden".into()));
                };
                self.expires_in = Some(
                    (expires_at - chrono::Utc::now())
                        .to_std()
                        .unwrap_or_default(),
                );
                self.caller = Some(caller);
                self.token = token;
                self.send(json!({ "type": "connection_ack" }).to_string())
            }
            ClientMessage::Ping { .. } => self.send(json!({ "type": "pong" }).to_string()),
            ClientMessage::Pong { .. } => None,
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, payload),
            ClientMessage::Complete { id } => {
                // dropping it cancels it
                self.operations.remove(&id);
                None
            }
        }
    }

    fn subscribe(&mut self, id: String, payload: SubscribePayload) -> Option<Closing> {
        let Some(caller) = self.caller.clone() else {
            return Some((4401, "Unauthorized".into()));
        };
        self.operations.retain(|_, op| !op.0.is_finished());
        if self.operations.contains_key(&id) {
            return Some((4409, format!("Subscriber for {id} already exists")));
        }
        if self.operations.len() >= MAX_SUBSCRIPTIONS {
            return self.send(error_message(
                &id,
                json!([{
                    "message": format!("at most {MAX_SUBSCRIPTIONS} operations may run on one connection"),
                    "extensions": { "code": codes::LIMIT_EXCEEDED }
                }]),
            ));
        }
        let mut request = Request::new(payload.query);
        if let Some(name) = payload.operation_name {
            request = request.operation_name(name);
        }
        if let Some(vars) = payload.variables.filter(|v| !v.is_null()) {
            request = request.variables(Variables::from_json(vars));
        }
        for (k, v) in payload.extensions.unwrap_or_default() {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
        if let Err(refusal) = limits::screen(&mut request) {
            return self.send(server_errors(&id, vec![*refusal.error], refusal.code));
        }
        let caller_tenant = caller.0.tenant;
        let settle = crate::loaders::Settle::default();
        let request =
            request_data(&self.state, Some(caller), &settle, request).data(self.lag.clone());
        let mut responses = settle.settling_stream(self.schema.execute_stream(request));
        let out = self.out.clone();
        let lag = self.lag.clone();
        let op_id = id.clone();
        let tenant = crate::tenancy::RequestTenant {
            tenant: Some(caller_tenant),
            app_filter: self.state.tenant_filter,
        };
        let clock = self.state.clock;
        let task = tokio::spawn(crate::clock::run_on(
            clock,
            crate::tenancy::run_as(tenant, async move {
                let mut first = true;
                while let Some(mut resp) = responses.next().await {
                    let failed = first && resp.data == async_graphql::Value::Null && resp.is_err();
                    let text = if failed {
                        server_errors(&op_id, resp.errors, codes::GRAPHQL_VALIDATION_FAILED)
                    } else {
                        crate::graphql::fill_codes(&mut resp.errors);
                        json!({ "id": op_id, "type": "next", "payload": resp }).to_string()
                    };
                    first = false;
                    if !enqueue(&out, &lag, text) || failed {
                        return;
                    }
                }
                enqueue(
                    &out,
                    &lag,
                    json!({ "id": op_id, "type": "complete" }).to_string(),
                );
            }),
        ));
        self.operations.insert(id, AbortOnDrop(task));
        None
    }

    fn send(&self, text: String) -> Option<Closing> {
        if enqueue(&self.out, &self.lag, text) {
            None
        } else {
            Some((1013, TOO_SLOW.into()))
        }
    }
}

/// Queues a message without ever waiting: a full queue means the client
/// is not keeping up, which raises `lag` (the connection then closes).
fn enqueue(out: &mpsc::Sender<String>, lag: &LagSignal, text: String) -> bool {
    match out.try_send(text) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            lag.raise();
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// An `error` message of GraphQL errors, each with an `extensions.code`
/// (`default_code` where the executor gave none), as over HTTP.
fn server_errors(id: &str, errors: Vec<async_graphql::ServerError>, default_code: &str) -> String {
    let mut body = request_error_body(errors, default_code);
    let errors = body.get_mut("errors").map(Value::take).unwrap_or_default();
    error_message(id, errors)
}

fn error_message(id: &str, errors: Value) -> String {
    json!({ "id": id, "type": "error", "payload": errors }).to_string()
}

/// The token of `{"authorization": "Bearer <token>"}` (the key in any case).
fn bearer_of(payload: &Value) -> Option<String> {
    let value = payload
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?
        .1
        .as_str()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn close(session: Session, code: u16, reason: &str) {
    // a close reason must fit in a control frame (123 bytes)
    let mut short = String::new();
    for c in reason.chars() {
        if short.len() + c.len_utf8() > 120 {
            break;
        }
        short.push(c);
    }
    let reason = CloseReason {
        code: CloseCode::from(code),
        description: (!short.is_empty()).then_some(short),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), session.close(Some(reason))).await;
}
