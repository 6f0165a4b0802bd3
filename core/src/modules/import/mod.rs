//! CSV imports of contacts and opportunities. A file is uploaded once and
//! kept in chunks of whole records (`upload`), its columns are mapped
//! (suggested from the header, English and French), then a run checks
//! (dry run) or imports every row in the background (`run`): each row
//! through the same commands as the API, so a bad row is reported and
//! never stops the others, and a row whose external id exists updates it.
use chrono::{DateTime, Utc};
use entity::{import_chunk, import_error, import_job};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::AuthContext;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

pub mod mapping;
pub mod parse;
mod rows;
mod run;
mod upload;

pub use mapping::{ColumnMapping, Target};
pub use run::{MAX_RUNS, start};
pub use upload::{MAX_BYTES, MAX_ROWS, Upload};

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportEntity {
    Opportunity,
    Contact,
}

impl ImportEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opportunity => "OPPORTUNITY",
            Self::Contact => "CONTACT",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "OPPORTUNITY" => Ok(Self::Opportunity),
            "CONTACT" => Ok(Self::Contact),
            other => Err(AppError::Internal(
                format!("unknown import entity {other}").into(),
            )),
        }
    }
}

/// Where an import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportStatus {
    /// The file is still arriving.
    Uploading,
    /// The file is here: map its columns, then dry-run or start it.
    Uploaded,
    /// A dry run is checking every row.
    Validating,
    /// A dry run finished: its errors are listed; start it for real.
    Validated,
    Running,
    Completed,
    Cancelled,
    /// Stopped by a failure of the server, not of a row (see the log).
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "UPLOADING",
            Self::Uploaded => "UPLOADED",
            Self::Validating => "VALIDATING",
            Self::Validated => "VALIDATED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        [
            Self::Uploading,
            Self::Uploaded,
            Self::Validating,
            Self::Validated,
            Self::Running,
            Self::Completed,
            Self::Cancelled,
            Self::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| AppError::Internal(format!("unknown import status {s}").into()))
    }
    /// A run is going on (or was, until its instance stopped).
    pub fn is_running(self) -> bool {
        matches!(self, Self::Validating | Self::Running)
    }
}

/// A running job writes its heartbeat after every batch: one silent for
/// this long was stopped with its instance, and may be started again: a
/// real run then goes on after its last committed batch.
pub const STALE_AFTER_SECS: i64 = 120;

/// The status a client is shown: a run whose heartbeat stopped is FAILED.
pub fn status(job: &import_job::Model, at: DateTime<Utc>) -> AppResult<ImportStatus> {
    let s = ImportStatus::from_db(&job.status)?;
    let stale = job
        .heartbeat_at
        .is_none_or(|h| (at - h).num_seconds() > STALE_AFTER_SECS);
    Ok(if s.is_running() && stale {
        ImportStatus::Failed
    } else {
        s
    })
}

/// How cells are read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOptions {
    pub number_format: parse::NumberFormat,
    pub date_format: parse::DateFormat,
    /// Opportunities without a STAGE column (or cell) go here; default:
    /// the first stage of the first pipeline.
    pub default_stage: Option<Uuid>,
}

/// Rows with errors kept per run; the count goes on.
pub const MAX_KEPT_ERRORS: u64 = 1_000;

fn may_import(auth: AuthContext) -> AppResult<()> {
    match auth.role {
        Role::Admin | Role::Manager => Ok(()),
        Role::Sales => Err(AppError::Forbidden),
    }
}

/// An import of the tenant (NOT_FOUND for any other).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<import_job::Model> {
    scope.get::<import_job::Entity, _>(conn, id, "import").await
}

/// An import the caller may see: ADMIN and MANAGER see the tenant's.
pub async fn get(state: &AppState, auth: AuthContext, id: Uuid) -> AppResult<import_job::Model> {
    may_import(auth).map_err(|_| AppError::NotFound("import"))?;
    find(&state.db, TenantScope(auth.tenant), id).await
}

/// The tenant's imports, newest first (at most `limit`).
pub async fn list(
    state: &AppState,
    auth: AuthContext,
    limit: u64,
) -> AppResult<Vec<import_job::Model>> {
    may_import(auth)?;
    Ok(TenantScope(auth.tenant)
        .find::<import_job::Entity>()
        .filter(import_job::Column::Status.ne(ImportStatus::Uploading.as_str()))
        .order_by_desc(import_job::Column::CreatedAt)
        .order_by_desc(import_job::Column::Id)
        .limit(limit)
        .all(&state.db)
        .await?)
}

/// The first `limit` row errors of an import's last run, by row.
pub async fn errors<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    job: Uuid,
    limit: u64,
) -> AppResult<Vec<import_error::Model>> {
    Ok(scope
        .find::<import_error::Entity>()
        .filter(import_error::Column::JobId.eq(job))
        .order_by_asc(import_error::Column::Row)
        .order_by_asc(import_error::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Stops an import: a run stops at its next batch (what it imported
/// stays); the file is dropped. CONFLICT once it has finished.
pub async fn cancel(state: &AppState, auth: AuthContext, id: Uuid) -> AppResult<import_job::Model> {
    let job = get(state, auth, id).await?;
    let scope = TenantScope(auth.tenant);
    let done = [
        ImportStatus::Completed,
        ImportStatus::Cancelled,
        ImportStatus::Failed,
    ];
    let cancelled = scope
        .update_many::<import_job::Entity>()
        .col_expr(
            import_job::Column::Status,
            Expr::value(ImportStatus::Cancelled.as_str()),
        )
        .col_expr(import_job::Column::FinishedAt, Expr::value(Some(now())))
        .filter(import_job::Column::Id.eq(job.id))
        .filter(import_job::Column::Status.is_not_in(done.iter().map(|s| s.as_str())))
        .exec(&state.db)
        .await?;
    if cancelled.rows_affected == 0 {
        return Err(AppError::Conflict(format!(
            "this import has already ended ({})",
            job.status
        )));
    }
    drop_file(&state.db, scope, job.id).await?;
    run::announce(state, auth.tenant.0, job.id).await?;
    find(&state.db, scope, id).await
}

/// Deletes an import's uploaded chunks.
async fn drop_file<C: ConnectionTrait>(conn: &C, scope: TenantScope, job: Uuid) -> AppResult<()> {
    scope
        .delete_many::<import_chunk::Entity>()
        .filter(import_chunk::Column::JobId.eq(job))
        .exec(conn)
        .await?;
    Ok(())
}

/// The header row of an import, as uploaded.
pub fn headers(job: &import_job::Model) -> Vec<String> {
    serde_json::from_str(&job.headers).unwrap_or_default()
}

/// The mapping of its last run, if it ran.
pub fn mapping_of(job: &import_job::Model) -> Vec<ColumnMapping> {
    job.mapping
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default()
}

/// The options of its last run.
pub fn options_of(job: &import_job::Model) -> ImportOptions {
    job.options
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default()
}

/// The tenant's custom fields an `entity` import can fill: (key, label).
pub async fn custom_fields<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    entity: ImportEntity,
) -> AppResult<Vec<(String, String)>> {
    let fe = match entity {
        ImportEntity::Opportunity => crate::modules::custom_field::FieldEntity::Opportunity,
        ImportEntity::Contact => crate::modules::custom_field::FieldEntity::Contact,
    };
    Ok(
        crate::modules::custom_field::list(conn, scope, Some(fe), false)
            .await?
            .into_iter()
            .map(|f| (f.key, f.label))
            .collect(),
    )
}

/// The mapping suggested for an import's header.
pub async fn suggestion(
    state: &AppState,
    auth: AuthContext,
    job: &import_job::Model,
) -> AppResult<Vec<(usize, Option<Target>)>> {
    let entity = ImportEntity::from_db(&job.entity)?;
    let custom = custom_fields(&state.db, TenantScope(auth.tenant), entity).await?;
    Ok(mapping::suggest(entity, &headers(job), &custom))
}

/// Percentage of the rows processed by the last run.
pub fn percent(job: &import_job::Model) -> i32 {
    if job.total_rows <= 0 {
        return 0;
    }
    let p = i64::from(job.processed_rows) * 100 / i64::from(job.total_rows);
    i32::try_from(p.clamp(0, 100)).unwrap_or(100)
}

/// Inserts a row error (the first `MAX_KEPT_ERRORS` of a run are kept).
async fn record_error<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    job: Uuid,
    row: i32,
    column: Option<String>,
    e: &AppError,
) -> AppResult<()> {
    let message: String = match e {
        // what the server failed at is logged, not shown
        AppError::Internal(_) | AppError::Shared(_) => {
            "the server could not import this row".into()
        }
        other => other.to_string(),
    };
    scope
        .stamp(import_error::ActiveModel {
            id: Set(Uuid::new_v4()),
            job_id: Set(job),
            row: Set(row),
            column: Set(column),
            code: Set(e.code().to_string()),
            message: Set(message.chars().take(500).collect()),
            ..Default::default()
        })
        .insert(conn)
        .await?;
    Ok(())
}
