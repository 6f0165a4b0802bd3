//! CSV export: `GET /export/opportunities.csv` and `/export/contacts.csv`
//! with the Bearer token, the same `filter` and `orderBy` as the GraphQL
//! lists (JSON in the query string), or a saved `view`. The file is
//! streamed a page at a time (constant memory whatever its size), UTF-8
//! with a BOM as spreadsheet software expects, RFC 4180 quoting, and text
//! cells that a spreadsheet would run as a formula neutralised.
use std::collections::HashMap;
use std::sync::Arc;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::InputType;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use crate::auth::{AuthContext, TenantSettings};
use crate::error::{AppError, AppResult};
use crate::reader::Reader;
use crate::state::AppState;
use crate::tenancy::TenantScope;
use crm_core::modules::export::{self, Cell};

/// Rows per page (and per chunk of the body).
const PAGE: u64 = 500;

/// Exports running at once on this instance: each holds a database
/// connection for its whole run.
static RUNNING: Semaphore = Semaphore::const_new(2);

/// A refused transport request: its status and the GraphQL-shaped error.
pub(super) fn error(e: &AppError) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(e.rest_status())
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    let mut resp = HttpResponse::build(status);
    if let AppError::RateLimited { retry_after_secs } = e {
        resp.insert_header(("retry-after", retry_after_secs.to_string()));
    }
    resp.json(json!({ "errors": [crate::graphql::server_error(e)] }))
}

/// A GraphQL input given as JSON in the query string, checked exactly as
/// the GraphQL API checks it.
fn parse_input<T: InputType>(
    params: &HashMap<String, String>,
    name: &'static str,
) -> AppResult<Option<T>> {
    let Some(raw) = params.get(name) else {
        return Ok(None);
    };
    let bad = |m: String| AppError::bad_input(name, format!("{name}: {m}"));
    let json: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| bad(format!("not JSON ({e})")))?;
    T::parse(Some(
        async_graphql::Value::from_json(json).map_err(|e| bad(e.to_string()))?,
    ))
    .map(Some)
    .map_err(|e| bad(e.into_server_error(async_graphql::Pos::default()).message))
}

/// What a spreadsheet would run as a formula starts with one of these:
/// such a text cell gets a leading apostrophe (OWASP's advice).
fn neutralise(cell: Cell) -> String {
    match cell {
        Cell::Value(v) => v,
        Cell::Text(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{t}"),
        Cell::Text(t) => t,
    }
}

fn csv_chunk(rows: Vec<Vec<Cell>>, bom_and_header: Option<&[String]>) -> AppResult<Bytes> {
    let mut out = Vec::new();
    if bom_and_header.is_some() {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    if let Some(h) = bom_and_header {
        w.write_record(h).map_err(AppError::internal)?;
    }
    for r in rows {
        w.write_record(r.into_iter().map(neutralise))
            .map_err(AppError::internal)?;
    }
    let out = w
        .into_inner()
        .map_err(|e| AppError::internal(e.into_error()))?;
    Ok(Bytes::from(out))
}

/// Who asks, or the answer that stops them.
async fn caller(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(AuthContext, TenantSettings), HttpResponse> {
    match super::request::authenticate(state, super::request::bearer(req)).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(error(&AppError::Unauthenticated)),
        Err(e) => Err(error(&e)),
    }
}

/// Pages of rows a producer sends into the body.
type Tx = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Streams what `produce` sends, run as the caller's tenant (row-level
/// security applies) on a task of its own; a client that goes away stops
/// it at its next page.
fn stream<F>(state: &Arc<AppState>, auth: AuthContext, name: &str, produce: F) -> HttpResponse
where
    F: FnOnce(Tx) -> futures_util::future::BoxFuture<'static, AppResult<()>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let tenant = crate::tenancy::RequestTenant {
        tenant: Some(auth.tenant),
        app_filter: state.tenant_filter,
    };
    let clock = state.clock;
    let failed = tx.clone();
    tokio::spawn(crate::clock::run_on(
        clock,
        crate::tenancy::run_as(tenant, async move {
            if let Err(e) = produce(tx).await {
                tracing::error!(error = %e, "export failed part way");
                // the status is sent: a broken body is all that is left
                let _ = failed
                    .send(Err(std::io::Error::other("export failed")))
                    .await;
            }
        }),
    ));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("cache-control", "no-store"))
        .streaming(body)
}

async fn send(tx: &Tx, chunk: Bytes) -> AppResult<bool> {
    Ok(tx.send(Ok(chunk)).await.is_ok())
}

/// `GET /export/opportunities.csv?filter=…&orderBy=…`
pub async fn opportunities(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    params: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let state = state.get_ref().clone();
    let (auth, settings) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Ok(permit) = RUNNING.try_acquire() else {
        return error(&AppError::RateLimited {
            retry_after_secs: 5,
        });
    };
    let tenant = crate::tenancy::RequestTenant {
        tenant: Some(auth.tenant),
        app_filter: state.tenant_filter,
    };
    let prepared = crate::tenancy::run_as(tenant, async {
        use crate::modules::opportunity::types::{OpportunityFilter, OpportunityOrder};
        let filter: Option<OpportunityFilter> = parse_input(&params, "filter")?;
        let order: Option<OpportunityOrder> = parse_input(&params, "orderBy")?;
        let view = params.get("view").map(|v| async_graphql::ID(v.clone()));
        let (filter, order) =
            crate::modules::saved_view::resolve(&state, auth, view.as_ref(), filter, order).await?;
        let filter = filter.unwrap_or_default();
        let q = crm_core::modules::opportunity::service::list_query(
            &state.db,
            auth,
            &settings,
            &filter.into(),
            order.map(Into::into),
        )
        .await?;
        let reader = Reader {
            state: state.clone(),
            scope: TenantScope(auth.tenant),
            settings: settings.clone(),
        };
        let sheet = export::opportunity_sheet(&reader).await?;
        AppResult::Ok((q, reader, sheet))
    })
    .await;
    let (q, reader, sheet) = match prepared {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    stream(&state, auth, "opportunities.csv", move |tx| {
        Box::pin(async move {
            let _permit = permit;
            if !send(&tx, csv_chunk(vec![], Some(&sheet.header))?).await? {
                return Ok(());
            }
            let mut after: Option<String> = None;
            loop {
                let page = crm_core::modules::opportunity::query::page(
                    &reader.state.db,
                    &q,
                    &reader.settings,
                    PAGE,
                    after.as_deref(),
                )
                .await?;
                let rows: Vec<_> = page.rows.into_iter().map(|(_, m)| m).collect();
                let cells = export::opportunity_rows(&reader, &sheet, &rows).await?;
                if !send(&tx, csv_chunk(cells, None)?).await? {
                    return Ok(());
                }
                if !page.page_info.has_next_page {
                    return Ok(());
                }
                after = page.page_info.end_cursor;
            }
        })
    })
}

/// `GET /export/contacts.csv?filter=…`
pub async fn contacts(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    params: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let state = state.get_ref().clone();
    let (auth, settings) = match caller(&req, &state).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Ok(permit) = RUNNING.try_acquire() else {
        return error(&AppError::RateLimited {
            retry_after_secs: 5,
        });
    };
    let scope = TenantScope(auth.tenant);
    let tenant = crate::tenancy::RequestTenant {
        tenant: Some(auth.tenant),
        app_filter: state.tenant_filter,
    };
    let prepared = crate::tenancy::run_as(tenant, async {
        use crate::modules::contact::types::ContactFilter;
        let filter: ContactFilter = parse_input(&params, "filter")?.unwrap_or_default();
        let cond = crm_core::modules::contact::service::condition(&state.db, scope, &filter.into())
            .await?;
        let reader = Reader {
            state: state.clone(),
            scope,
            settings: settings.clone(),
        };
        let sheet = export::contact_sheet(&reader).await?;
        AppResult::Ok((cond, reader, sheet))
    })
    .await;
    let (cond, reader, sheet) = match prepared {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    stream(&state, auth, "contacts.csv", move |tx| {
        Box::pin(async move {
            let _permit = permit;
            if !send(&tx, csv_chunk(vec![], Some(&sheet.header))?).await? {
                return Ok(());
            }
            let mut after = None;
            loop {
                let rows = crm_core::modules::contact::service::page_after(
                    &reader.state.db,
                    scope,
                    cond.clone(),
                    after,
                    PAGE,
                )
                .await?;
                let Some(last) = rows.last() else {
                    return Ok(());
                };
                after = Some((last.name.to_lowercase(), last.id));
                let full = rows.len() as u64 == PAGE;
                let cells = export::contact_rows(&reader, &sheet, &rows).await?;
                if !send(&tx, csv_chunk(cells, None)?).await? || !full {
                    return Ok(());
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_values_kept() {
        for f in ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"] {
            assert_eq!(neutralise(Cell::Text(f.into())), format!("'{f}"));
        }
        assert_eq!(neutralise(Cell::Text("Acme".into())), "Acme");
        assert_eq!(neutralise(Cell::Value("-12.5".into())), "-12.5");
    }
}
