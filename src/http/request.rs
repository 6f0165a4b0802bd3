//! Request plumbing both GraphQL transports share (HTTP and WebSocket):
//! reading the bearer token, turning it into the caller, and attaching the
//! per-request data resolvers read. Neither transport imports the other.
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use async_graphql::{Request, ServerError};
use serde_json::{Value, json};

use crate::auth::{AuthContext, ClientAddr, RequestAuth, TenantSettings};
use crate::domain::{CurrencyCode, Role, Timezone};
use crate::error::AppResult;
use crate::modules::account::service::caller;
use crate::state::AppState;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Turns a bearer token into the caller's identity: a valid token of a
/// user that still exists and is active, with its tenant's settings, in
/// one query. The role comes from the database, so a demotion takes
/// effect at once.
pub async fn authenticate(
    state: &AppState,
    token: Option<&str>,
) -> AppResult<Option<(AuthContext, TenantSettings)>> {
    let Some(identity) = token.and_then(|t| state.jwt.verify(t)) else {
        return Ok(None);
    };
    // a database that cannot answer is UNAVAILABLE, never "signed out":
    // clients sign users out on UNAUTHENTICATED
    let Some(found) = caller(state, identity.tenant, identity.user, identity.session).await? else {
        return Ok(None);
    };
    let Ok(role) = Role::from_db(&found.role) else {
        return Ok(None);
    };
    let (Ok(currency), Ok(timezone)) = (
        CurrencyCode::parse("currency", &found.currency),
        Timezone::parse("timezone", &found.timezone),
    ) else {
        return Ok(None);
    };
    Ok(Some((
        AuthContext {
            user: identity.user,
            tenant: identity.tenant,
            role,
        },
        TenantSettings { currency, timezone },
    )))
}

/// The client's address, as the login throttles key it: the TCP peer.
pub fn client_addr(req: &HttpRequest) -> ClientAddr {
    ClientAddr(req.peer_addr().map(|a| a.ip()))
}

/// Per-request data every resolver may need: the caller, its tenant's
/// settings and the request's DataLoaders.
pub fn request_data(
    state: &Arc<AppState>,
    caller: Option<(AuthContext, TenantSettings)>,
    settle: &crate::loaders::Settle,
    mut req: Request,
) -> Request {
    match caller {
        Some((auth, settings)) => {
            req = req
                .data(RequestAuth(Some(auth)))
                .data(crate::loaders::QueryCache::default())
                .data(crate::loaders::data_loader(
                    state.clone(),
                    auth,
                    settings.clone(),
                    settle.clone(),
                ))
                .data(settings);
        }
        None => req = req.data(RequestAuth(None)),
    }
    req
}

pub fn request_error_body(errors: Vec<ServerError>, default_code: &str) -> Value {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|e| {
            let mut v =
                serde_json::to_value(&e).unwrap_or_else(|_| json!({ "message": e.message }));
            if let Value::Object(o) = &mut v {
                let ext = o.entry("extensions").or_insert_with(|| json!({}));
                if let Value::Object(ext) = ext {
                    ext.entry("code").or_insert_with(|| json!(default_code));
                }
            }
            v
        })
        .collect();
    json!({ "errors": errors })
}

/// An error answered before GraphQL execution (the caller could not be
/// loaded): its status (503 for a database that cannot answer) and body.
pub fn early_error(e: &crate::error::AppError) -> (actix_web::http::StatusCode, Value) {
    use actix_web::http::StatusCode;
    let status = match e {
        crate::error::AppError::Unavailable { .. } | crate::error::AppError::Timeout => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::OK,
    };
    let error = serde_json::to_value(crate::graphql::server_error(e)).unwrap_or_else(
        |_| json!({ "message": e.to_string(), "extensions": { "code": e.code() } }),
    );
    (status, json!({ "errors": [error] }))
}

/// A browser page may open a socket only from an allowed origin, or from
/// the server's own (GraphiQL): cookies are not used, but a socket is not
/// covered by CORS, so the Origin is checked here. Clients that are not
/// browsers send no Origin.
pub fn origin_allowed(req: &HttpRequest, allowed: &[String]) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let own_host = origin.split_once("://").map(|(_, rest)| rest);
    host.is_some_and(|h| own_host.is_some_and(|o| o.eq_ignore_ascii_case(h)))
}
