//! `POST /intake`: a website's request form posting into the CRM with an
//! intake key. Answers are JSON: `{ "id", "reference" }` on 201, otherwise
//! `{ "error" }` (with `"field"` on 422).
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::service::{self, Post};
use crate::error::AppError;
use crate::http::request::bearer;
use crate::state::AppState;

/// A request form is small; anything bigger is refused.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const APPLICATION_JSON: &str = "application/json; charset=utf-8";

#[derive(Clone, Copy)]
enum Format {
    Json,
    /// What a plain HTML form posts.
    Form,
}

/// The body format from Content-Type; None for anything else, or for a
/// charset other than UTF-8.
fn format(req: &HttpRequest) -> Option<Format> {
    let ct = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut parts = ct.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let utf8 = parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    match essence.as_str() {
        "application/json" if utf8 => Some(Format::Json),
        "application/x-www-form-urlencoded" if utf8 => Some(Format::Form),
        _ => None,
    }
}

/// The body's fields; a form's first value of a name wins.
fn fields(format: Format, body: &str) -> Result<Map<String, Value>, &'static str> {
    match format {
        Format::Json => match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("the body must be a JSON object"),
            Err(_) => Err("the body is not valid JSON"),
        },
        Format::Form => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(body).map_err(|_| "the form body is malformed")?;
            let mut m = Map::new();
            for (k, v) in pairs {
                m.entry(k).or_insert(Value::String(v));
            }
            Ok(m)
        }
    }
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(APPLICATION_JSON)
        .json(json!({ "error": message }))
}

fn refusal(e: AppError) -> HttpResponse {
    let status =
        StatusCode::from_u16(service::status_of(&e)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    res.content_type(APPLICATION_JSON);
    match e {
        AppError::BadInput { message, field } => {
            res.json(json!({ "error": message, "field": field }))
        }
        AppError::RateLimited { retry_after_secs } => res
            .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
            .json(json!({ "error": e.to_string() })),
        AppError::Unauthenticated | AppError::UnauthenticatedWith(_) => res
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .json(json!({ "error": e.to_string() })),
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, "intake post failed");
            res.json(json!({ "error": "internal error" }))
        }
        AppError::Shared(inner) if inner.code() == crate::error::codes::INTERNAL => {
            tracing::error!(error = %inner, "intake post failed");
            res.json(json!({ "error": "internal error" }))
        }
        other => res.json(json!({ "error": other.to_string() })),
    }
}

pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<Arc<AppState>>,
) -> HttpResponse {
    let started = Instant::now();
    let res = crate::clock::run_on(state.clock, handle(&req, payload, &state)).await;
    tracing::info!(
        status = res.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "intake post"
    );
    res
}

async fn handle(req: &HttpRequest, payload: web::Payload, state: &AppState) -> HttpResponse {
    let Some(format) = format(req) else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "post application/json or application/x-www-form-urlencoded, in UTF-8",
        );
    };
    let too_large = || error(StatusCode::PAYLOAD_TOO_LARGE, "the body exceeds 64 KiB");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let body = match payload.to_bytes_limited(MAX_BODY_BYTES).await {
        Err(_) => return too_large(),
        Ok(Err(_)) => return error(StatusCode::BAD_REQUEST, "the body could not be read"),
        Ok(Ok(b)) => b,
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    let fields = match fields(format, body) {
        Ok(f) => f,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    let post = Post {
        secret: bearer(req),
        idempotency_key: req
            .headers()
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap_or_default()),
        body,
        fields,
    };
    match service::submit(state, post).await {
        Ok(answer) => HttpResponse::build(
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type(APPLICATION_JSON)
        .body(answer.body),
        Err(e) => refusal(e),
    }
}

pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .content_type(APPLICATION_JSON)
        .json(json!({ "error": "use POST" }))
}
