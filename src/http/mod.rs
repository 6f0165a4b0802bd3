//! The HTTP surface: GraphQL over HTTP, GraphiQL, health probes, CORS.
pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod import;
pub mod request;
pub mod ws;

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::config::Settings;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql::post))
            // the WebSocket upgrade first: a GET that asks for one
            .route(
                web::get()
                    .guard(actix_web::guard::fn_guard(|ctx| ws::is_upgrade(ctx.head())))
                    .to(ws::upgrade),
            )
            .route(web::get().to(graphql::get))
            .default_service(web::to(graphql::method_not_allowed)),
    )
    .route(
        "/calendar/{token}",
        web::get().to(crate::modules::activity::calendar::feed),
    )
    .service(
        web::resource("/intake")
            .route(web::post().to(crate::modules::intake::http::post))
            .default_service(web::to(crate::modules::intake::http::method_not_allowed)),
    )
    .route(
        "/export/opportunities.csv",
        web::get().to(export::opportunities),
    )
    .route("/export/contacts.csv", web::get().to(export::contacts))
    .route(
        "/import/opportunities.csv",
        web::post().to(import::opportunities),
    )
    .route("/import/contacts.csv", web::post().to(import::contacts))
    .route("/graphiql/{version}/{file}", web::get().to(graphiql::asset))
    .route("/healthz", web::get().to(healthz))
    .route("/readyz", web::get().to(readyz));
}

/// Only origins on the allow-list get CORS headers. Requests from other
/// origins still reach the server (a same-origin GraphiQL sends an Origin
/// header too) but browsers will not let foreign pages read the answers,
/// and a foreign preflight gets no Access-Control-Allow-Origin.
pub fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers(
            crate::config::CORS_DEFAULT_HEADERS
                .iter()
                .copied()
                .chain(settings.cors_allowed_headers.iter().map(String::as_str)),
        )
        .expose_headers([header::HeaderName::from_static("x-request-id")])
        .block_on_origin_mismatch(false)
        .max_age(3600);
    for origin in &settings.cors_allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Answers a handler's panic with a JSON 500 instead of dropping the
/// connection (the panic hook has logged it). GraphQL requests never get
/// here: their boundary answers INTERNAL inside a normal response.
pub fn catch_panics<S>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<
    Output = Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error>,
> + use<S>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
            Error = actix_web::Error,
        >,
{
    use futures_util::FutureExt;
    let fut = srv.call(req);
    async move {
        match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
            Ok(answer) => answer,
            Err(_) => {
                let body = HttpResponse::InternalServerError().json(serde_json::json!({
                    "errors": [{ "message": "internal error", "extensions": { "code": crate::error::codes::INTERNAL } }]
                }));
                Err(actix_web::error::InternalError::from_response("panic", body).into())
            }
        }
    }
}

/// Headers every answer carries: no MIME sniffing, no referrer leaking a
/// calendar-feed token, no framing.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "reason": "database" }))
        }
    }
}
