//! Request plumbing both GraphQL transports share (HTTP and WebSocket):
//! reading the bearer token, turning it into the caller, and attaching the
//! per-request data resolvers read. Neither transport imports the other.
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use async_graphql::{Request, ServerError};
use serde_json::{Value, json};

use crate::auth::{AuthContext, RequestAuth, TenantSettings};
use crate::domain::{CurrencyCode, Role, Timezone};
use crate::error::AppResult;
use crate::modules::account::service::active_user;
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
    let Some((user, tenant)) =
        active_user(state, identity.tenant, identity.user, identity.session).await?
    else {
        return Ok(None);
    };
    let Ok(role) = Role::from_db(&user.role) else {
        return Ok(None);
    };
    let (Ok(currency), Ok(timezone)) = (
        CurrencyCode::parse("currency", &tenant.currency),
        Timezone::parse("timezone", &tenant.timezone),
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

/// The address of the client, as the throttles key it: the peer's
/// address (a proxy in front should be the only peer, and is trusted to
/// be one address per client only when it says so in a later version).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl ClientAddr {
    pub fn of(req: &HttpRequest) -> Self {
        Self(req.peer_addr().map(|a| a.ip()))
    }
}

/// Per-request data every resolver may need: the caller, its tenant's
/// settings and the request's DataLoaders.
pub fn request_data(
    state: &Arc<AppState>,
    caller: Option<(AuthContext, TenantSettings)>,
    mut req: Request,
) -> Request {
    match caller {
        Some((auth, settings)) => {
            req = req
                .data(RequestAuth(Some(auth)))
                .data(crate::loaders::data_loader(
                    state.clone(),
                    auth,
                    settings.clone(),
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
