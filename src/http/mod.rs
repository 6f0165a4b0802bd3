//! The HTTP surface: GraphQL over HTTP, GraphiQL, health probes, CORS.
pub mod graphql;
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
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::HeaderName::from_static("x-request-id")])
        .block_on_origin_mismatch(false)
        .max_age(3600);
    for origin in &settings.cors_allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
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
