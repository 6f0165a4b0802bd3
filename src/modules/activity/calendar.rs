//! `GET /calendar/{token}.ics`: the HTTP face of each user's calendar feed.
use std::sync::Arc;

use actix_web::{HttpResponse, web};

use crate::state::AppState;
pub use crm_core::modules::activity::calendar::*;

/// `GET /calendar/{token}.ics`. Unknown, rotated or disabled tokens (and
/// inactive users) are 404, with no hint which.
pub async fn feed(path: web::Path<String>, state: web::Data<Arc<AppState>>) -> HttpResponse {
    let not_found = || {
        HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found")
    };
    let Some(token) = path.strip_suffix(".ics") else {
        return not_found();
    };
    match crate::clock::run_on(state.clock, load_feed(&state, token)).await {
        Ok(Some(body)) => HttpResponse::Ok()
            .content_type("text/calendar; charset=utf-8")
            .insert_header(("cache-control", "private, max-age=300"))
            .body(body),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "calendar feed failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}
