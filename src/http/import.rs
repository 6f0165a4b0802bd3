//! CSV upload: `POST /import/opportunities.csv` and `/import/contacts.csv`
//! with the Bearer token (ADMIN or MANAGER) and the file as the body
//! (`?fileName=` names it). The body is read as it arrives and stored in
//! chunks of whole records, never whole in memory. Answers 201 with the
//! import's id, row count, header and suggested mapping; map and start it
//! with the `startImport` mutation.
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;

use super::export::error;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crm_core::modules::import::{self as service, ImportEntity, Upload};

/// Uploads received at once on this instance.
static RECEIVING: Semaphore = Semaphore::const_new(2);

/// A client that sends nothing for this long is cut off.
const IDLE: Duration = Duration::from_secs(30);

pub async fn opportunities(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    body: web::Payload,
) -> HttpResponse {
    receive(
        req,
        state.get_ref().clone(),
        body,
        ImportEntity::Opportunity,
    )
    .await
}

pub async fn contacts(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    body: web::Payload,
) -> HttpResponse {
    receive(req, state.get_ref().clone(), body, ImportEntity::Contact).await
}

async fn receive(
    req: HttpRequest,
    state: Arc<AppState>,
    mut body: web::Payload,
    entity: ImportEntity,
) -> HttpResponse {
    let (auth, _) = match super::request::authenticate(&state, super::request::bearer(&req)).await {
        Ok(Some(c)) => c,
        Ok(None) => return error(&AppError::Unauthenticated),
        Err(e) => return error(&e),
    };
    let Ok(_permit) = RECEIVING.try_acquire() else {
        return error(&AppError::RateLimited {
            retry_after_secs: 5,
        });
    };
    if req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > service::MAX_BYTES)
    {
        return error(&AppError::bad_input(
            "file",
            format!(
                "the file is larger than {} MiB: split it",
                service::MAX_BYTES / 1024 / 1024
            ),
        ));
    }
    let file_name =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("fileName").cloned())
            .unwrap_or_else(|| "import.csv".into());
    let tenant = crate::tenancy::RequestTenant {
        tenant: Some(auth.tenant),
        app_filter: state.tenant_filter,
    };
    let done = crate::tenancy::run_as(tenant, async {
        let mut upload = Upload::begin(&state, auth, entity, &file_name).await?;
        let read: AppResult<()> = async {
            loop {
                let piece = tokio::time::timeout(IDLE, body.next()).await.map_err(|_| {
                    AppError::bad_input("file", "the upload stalled: send it again")
                })?;
                match piece {
                    None => return Ok(()),
                    Some(Ok(bytes)) => upload.push(&state.db, &bytes).await?,
                    Some(Err(e)) => {
                        return Err(AppError::bad_input(
                            "file",
                            format!("the upload broke off: {e}"),
                        ));
                    }
                }
            }
        }
        .await;
        let finished = match read {
            Ok(()) => upload.finish(&state).await,
            Err(e) => {
                upload.abandon(&state).await;
                Err(e)
            }
        }?;
        let suggested = service::suggestion(&state, auth, &finished).await?;
        AppResult::Ok((finished, suggested))
    })
    .await;
    let (job, suggested) = match done {
        Ok(d) => d,
        Err(e) => return error(&e),
    };
    let headers = service::headers(&job);
    let columns: Vec<serde_json::Value> = suggested
        .into_iter()
        .map(|(i, t)| {
            json!({
                "column": i,
                "header": headers.get(i),
                "target": t.map(|t| t.label()),
            })
        })
        .collect();
    HttpResponse::Created().json(json!({
        "id": job.id.to_string(),
        "entity": job.entity,
        "status": job.status,
        "fileName": job.file_name,
        "totalRows": job.total_rows,
        "headers": headers,
        "suggestedMapping": columns,
    }))
}
