//! GraphQL over HTTP, written on async-graphql's executor so that it
//! follows the GraphQL-over-HTTP spec to the letter (the stock integration
//! does not negotiate content types or status codes as the spec asks).
//!
//! - POST takes `application/json` only; anything else is 415, which also
//!   keeps text/plain and form posts (CSRF) from ever executing.
//! - GET runs queries only; a mutation over GET is 405.
//! - The answer is `application/graphql-response+json` when the client asks
//!   for it, `application/json` otherwise. Under graphql-response+json a
//!   request that fails to parse or validate is 400 without `data`.
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, ServerError, Variables};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tracing::Instrument;

use super::request::{authenticate, bearer, client_addr, request_data, request_error_body};
use crate::error::codes;
use crate::graphql::{AppSchema, Executed, limits};
use crate::state::AppState;
use crate::tenancy::with_request_id;

pub const MAX_BODY_BYTES: usize = 256 * 1024;
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const APPLICATION_JSON: &str = "application/json; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
            MediaType::Json => APPLICATION_JSON,
        }
    }
}

/// Picks the response media type from Accept: the acceptable type with the
/// highest q (graphql-response+json winning ties), `application/json` when
/// Accept is absent, None when nothing we produce is acceptable.
fn negotiate(req: &HttpRequest) -> Option<MediaType> {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(MediaType::Json);
    };
    if accept.trim().is_empty() {
        return Some(MediaType::Json);
    }
    let mut best: Option<(f32, u8, MediaType)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let essence = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        // (rank among equal q: exact graphql-response+json first)
        let candidate = match essence.as_str() {
            "application/graphql-response+json" => (2, MediaType::GraphqlResponseJson),
            "application/json" => (1, MediaType::Json),
            "application/*" | "*/*" => (0, MediaType::Json),
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((bq, brank, _)) => q > bq || (q == bq && candidate.0 > brank),
        };
        if better {
            best = Some((q, candidate.0, candidate.1));
        }
    }
    best.map(|(_, _, m)| m)
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// An answer that never reached the executor: transport-level mistakes.
fn transport_error(
    status: StatusCode,
    media: MediaType,
    code: &str,
    message: &str,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(media.content_type())
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

fn not_acceptable() -> HttpResponse {
    transport_error(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        codes::NOT_ACCEPTABLE,
        "this endpoint answers application/graphql-response+json or application/json",
    )
}

pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET, POST"))
        .content_type(APPLICATION_JSON)
        .json(json!({ "errors": [{ "message": "use GET or POST", "extensions": { "code": codes::METHOD_NOT_ALLOWED } }] }))
}

/// A request whose parameters were understood, ready to execute.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

type ParamError = (&'static str, String);

fn optional_object(
    obj: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<Map<String, Value>>, ParamError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err((key, format!("`{key}` must be an object or null"))),
    }
}

fn params_from_json(body: Value) -> Result<Params, ParamError> {
    let obj = match body {
        Value::Object(o) => o,
        Value::Array(_) => return Err(("body", "batched requests are not supported".into())),
        _ => return Err(("body", "the body must be a JSON object".into())),
    };
    let query = match obj.get("query") {
        Some(Value::String(q)) => q.clone(),
        None => return Err(("query", "`query` is required".into())),
        Some(_) => return Err(("query", "`query` must be a string".into())),
    };
    let operation_name = match obj.get("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err((
                "operationName",
                "`operationName` must be a string or null".into(),
            ));
        }
    };
    Ok(Params {
        query,
        operation_name,
        variables: optional_object(&obj, "variables")?,
        extensions: optional_object(&obj, "extensions")?,
    })
}

/// GET parameters carry `variables` and `extensions` as JSON strings.
fn params_from_query_string(qs: &str) -> Result<Option<Params>, ParamError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(qs)
        .map_err(|_| ("query", "the query string is malformed".to_string()))?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(query) = get("query") else {
        return Ok(None);
    };
    let json_param = |key: &'static str| -> Result<Option<Map<String, Value>>, ParamError> {
        match get(key) {
            None => Ok(None),
            Some(raw) if raw.trim().is_empty() => Ok(None),
            Some(raw) => match serde_json::from_str::<Value>(&raw) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                Ok(Value::Null) => Ok(None),
                _ => Err((key, format!("`{key}` must be a JSON object"))),
            },
        }
    };
    Ok(Some(Params {
        query,
        operation_name: get("operationName").filter(|s| !s.is_empty()),
        variables: json_param("variables")?,
        extensions: json_param("extensions")?,
    }))
}

pub async fn post(
    req: HttpRequest,
    mut payload: web::Payload,
    schema: web::Data<AppSchema>,
    state: web::Data<Arc<AppState>>,
    executor: web::Data<crate::graphql::Executor>,
) -> HttpResponse {
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    if !is_json_utf8(&req) {
        return transport_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            codes::UNSUPPORTED_MEDIA_TYPE,
            "POST bodies must be application/json (UTF-8)",
        );
    }
    let too_large = || {
        transport_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            codes::PAYLOAD_TOO_LARGE,
            "the request body exceeds 256 KiB",
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return transport_error(
                StatusCode::BAD_REQUEST,
                media,
                codes::BAD_REQUEST,
                "the request body could not be read",
            );
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return too_large();
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return transport_error(
            StatusCode::BAD_REQUEST,
            media,
            codes::BAD_REQUEST,
            "the request body is empty",
        );
    }
    let params = match serde_json::from_slice::<Value>(&body) {
        Err(_) => {
            return transport_error(
                StatusCode::BAD_REQUEST,
                media,
                codes::BAD_REQUEST,
                "the request body is not valid JSON",
            );
        }
        Ok(v) => match params_from_json(v) {
            Ok(p) => p,
            Err((_, msg)) => {
                return transport_error(StatusCode::BAD_REQUEST, media, codes::BAD_REQUEST, &msg);
            }
        },
    };
    execute(&req, params, media, false, &schema, &state, &executor).await
}

pub async fn get(
    req: HttpRequest,
    schema: web::Data<AppSchema>,
    state: web::Data<Arc<AppState>>,
    graphiql: web::Data<GraphiqlEnabled>,
    executor: web::Data<crate::graphql::Executor>,
) -> HttpResponse {
    let params = params_from_query_string(req.query_string());
    if matches!(params, Ok(None)) && wants_html(&req) && graphiql.0 {
        return super::graphiql::page();
    }
    let Some(media) = negotiate(&req) else {
        return not_acceptable();
    };
    match params {
        Ok(Some(p)) => execute(&req, p, media, true, &schema, &state, &executor).await,
        Ok(None) => transport_error(
            StatusCode::BAD_REQUEST,
            media,
            codes::BAD_REQUEST,
            "`query` is required",
        ),
        Err((_, msg)) => transport_error(StatusCode::BAD_REQUEST, media, codes::BAD_REQUEST, &msg),
    }
}

/// Whether GET serves GraphiQL to browsers.
#[derive(Clone, Copy)]
pub struct GraphiqlEnabled(pub bool);

fn is_json_utf8(req: &HttpRequest) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|p| {
        let p = p.trim();
        match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        }
    })
}

fn selected_operation(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(map), Some(n)) => map
            .iter()
            .find(|(k, _)| k.as_str() == n)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

async fn execute(
    req: &HttpRequest,
    params: Params,
    media: MediaType,
    is_get: bool,
    schema: &AppSchema,
    state: &Arc<AppState>,
    executor: &crate::graphql::Executor,
) -> HttpResponse {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4();
    let op_name = params.operation_name.clone().unwrap_or_default();
    let span = tracing::info_span!("request", id = %request_id, op = %op_name);
    let request_error = |errors: Vec<ServerError>, code: &str| {
        let status = match media {
            MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            MediaType::Json => StatusCode::OK,
        };
        (status, request_error_body(errors, code))
    };

    let (status, body, allow) = async {
        let mut gql = Request::new(params.query);
        if let Some(name) = params.operation_name {
            gql = gql.operation_name(name);
        }
        if let Some(vars) = params.variables {
            gql = gql.variables(Variables::from_json(Value::Object(vars)));
        }
        if let Some(ext) = params.extensions {
            for (k, v) in ext {
                if let Ok(v) = async_graphql::Value::from_json(v) {
                    gql.extensions.insert(k, v);
                }
            }
        }
        let op_name = gql.operation_name.clone();
        if let Err(refusal) = limits::screen(&mut gql) {
            let (s, b) = request_error(vec![*refusal.error], refusal.code);
            return (s, b, false);
        }
        let op = gql
            .parsed_query()
            .ok()
            .and_then(|doc| selected_operation(doc, op_name.as_deref()));
        if is_get && op == Some(OperationType::Mutation) {
            let body = json!({ "errors": [{ "message": "mutations must use POST", "extensions": { "code": codes::METHOD_NOT_ALLOWED } }] });
            return (StatusCode::METHOD_NOT_ALLOWED, body, true);
        }
        if op == Some(OperationType::Subscription) {
            let e = ServerError::new(
                "subscriptions run over a WebSocket on /graphql (graphql-transport-ws)",
                None,
            );
            let (s, b) = request_error(vec![e], codes::BAD_REQUEST);
            return (s, b, false);
        }
        let caller = match authenticate(state, bearer(req)).await {
            Ok(caller) => caller,
            Err(e) => {
                let (status, body) = super::request::early_error(&e);
                return (status, body, false);
            }
        };
        let executed = Executed::default();
        let caller_tenant = caller.as_ref().map(|(auth, _)| auth.tenant);
        let settle = crate::loaders::Settle::default();
        let gql = request_data(state, caller, &settle, gql)
            .data(executed.clone())
            .data(client_addr(req));
        let tenant = crate::tenancy::RequestTenant {
            tenant: caller_tenant,
            app_filter: state.tenant_filter,
        };
        let schema = schema.clone();
        let run = async move { schema.execute(gql).await };
        let work = crate::clock::run_on(
            state.clock,
            crate::tenancy::run_as(tenant, with_request_id(request_id, settle.settling(run))),
        );
        let mut resp =
            crate::graphql::run_bounded(executor, work, state.request_timeout).await;
        if !executed.get() {
            let (s, b) = request_error(resp.errors, codes::GRAPHQL_VALIDATION_FAILED);
            return (s, b, false);
        }
        crate::graphql::fill_codes(&mut resp.errors);
        let body = serde_json::to_value(&resp).unwrap_or_else(|_| json!({ "data": null }));
        (StatusCode::OK, body, false)
    }
    .instrument(span.clone())
    .await;

    let codes: Vec<&str> = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|errs| {
            errs.iter()
                .filter_map(|e| e.pointer("/extensions/code").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            outcome = if codes.is_empty() { "ok" } else { "error" },
            codes = %codes.join(","),
            "graphql request"
        );
    });
    let mut builder = HttpResponse::build(status);
    builder
        .content_type(media.content_type())
        .insert_header(("x-request-id", request_id.to_string()));
    if allow {
        builder.insert_header((header::ALLOW, "POST"));
    }
    builder.json(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn media(accept: Option<&str>) -> Option<MediaType> {
        let mut r = TestRequest::default();
        if let Some(a) = accept {
            r = r.insert_header((header::ACCEPT, a));
        }
        negotiate(&r.to_http_request())
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(media(None), Some(MediaType::Json));
        assert_eq!(media(Some("*/*")), Some(MediaType::Json));
        assert_eq!(
            media(Some("application/graphql-response+json")),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            media(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            media(Some(
                "application/json, application/graphql-response+json;q=0.5"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(media(Some("text/plain")), None);
    }
}
