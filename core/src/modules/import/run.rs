//! Running an import: a task of its own reads the file a chunk at a time
//! and hands each row to `rows`, writing progress (and announcing it) as
//! it goes; a cancel is seen at the next batch.
use std::sync::Arc;

use super::*;
use crate::auth::TenantSettings;
use crate::events::{Event, Subject};

/// Rows committed together, each in a savepoint of its own: one commit
/// (one WAL flush) per batch instead of several per row. Progress is
/// written, and a cancel seen, after each batch.
const BATCH: u64 = 100;

/// Longest a batch stays open: it holds the tenant's write locks (the
/// opportunity numbering, the event log's head), so the tenant's users'
/// own writes wait at most about this long behind an import.
const BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(200);

/// An open batch of rows.
struct Batch {
    txn: sea_orm::DatabaseTransaction,
    since: std::time::Instant,
    rows: u64,
    /// The kept rows' events, recorded when the batch commits.
    events: Vec<Event>,
}

/// Runs going on at once on one instance.
pub const MAX_RUNS: usize = 2;

/// Starts a run of an uploaded import with `mapping`: a dry run checks
/// every row without writing; a real run imports. Answers at once: the
/// run goes on in the background (follow it with `importJob`).
#[allow(clippy::too_many_arguments)]
pub async fn start(
    state: &Arc<AppState>,
    auth: AuthContext,
    settings: TenantSettings,
    id: Uuid,
    mapping: Vec<ColumnMapping>,
    options: ImportOptions,
    dry_run: bool,
) -> AppResult<import_job::Model> {
    let job = get(state, auth, id).await?;
    let scope = TenantScope(auth.tenant);
    let entity = ImportEntity::from_db(&job.entity)?;
    let shown = status(&job, now())?;
    let startable = match shown {
        ImportStatus::Uploaded | ImportStatus::Validated => true,
        // a run stopped with its instance: its file is still here
        ImportStatus::Failed => ImportStatus::from_db(&job.status)?.is_running(),
        _ => false,
    };
    if !startable {
        return Err(AppError::Conflict(format!(
            "this import is {}: it cannot be started",
            shown.as_str()
        )));
    }
    let keys: Vec<String> = custom_fields(&state.db, scope, entity)
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    mapping::check(entity, &headers(&job), &mapping, &keys)?;
    if let Some(s) = options.default_stage {
        crate::modules::pipeline::service::find_open_stage(&state.db, scope, s, "defaultStageId")
            .await?;
    }
    let Ok(permit) = state.import_runs.clone().try_acquire_owned() else {
        return Err(AppError::RateLimited {
            retry_after_secs: 30,
        });
    };
    // a real run whose instance stopped goes on after the last batch it
    // committed (its counts and errors are the rows already done)
    let resume = shown == ImportStatus::Failed && !job.dry_run && !dry_run;
    let next = if dry_run {
        ImportStatus::Validating
    } else {
        ImportStatus::Running
    };
    let ts = now();
    let mut claim = scope
        .update_many::<import_job::Entity>()
        .col_expr(import_job::Column::Status, Expr::value(next.as_str()))
        .col_expr(import_job::Column::DryRun, Expr::value(dry_run))
        .col_expr(
            import_job::Column::Mapping,
            Expr::value(Some(to_json(&mapping)?)),
        )
        .col_expr(
            import_job::Column::Options,
            Expr::value(Some(to_json(&options)?)),
        )
        .col_expr(import_job::Column::StartedAt, Expr::value(Some(ts)))
        .col_expr(
            import_job::Column::FinishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(import_job::Column::HeartbeatAt, Expr::value(Some(ts)))
        .filter(import_job::Column::Id.eq(job.id))
        .filter(import_job::Column::Status.eq(job.status.clone()));
    if !resume {
        for c in [
            import_job::Column::ProcessedRows,
            import_job::Column::CreatedCount,
            import_job::Column::UpdatedCount,
            import_job::Column::ErrorCount,
        ] {
            claim = claim.col_expr(c, Expr::value(0));
        }
    }
    if claim.exec(&state.db).await?.rows_affected == 0 {
        return Err(AppError::Conflict(
            "this import was started or cancelled meanwhile".into(),
        ));
    }
    if !resume {
        scope
            .delete_many::<import_error::Entity>()
            .filter(import_error::Column::JobId.eq(job.id))
            .exec(&state.db)
            .await?;
    }
    announce(state, auth.tenant.0, job.id).await?;
    let run = Run {
        state: state.clone(),
        auth,
        settings,
        job: job.id,
        entity,
        mapping,
        options,
        dry_run,
    };
    let tenant = crate::tenancy::RequestTenant {
        tenant: Some(auth.tenant),
        app_filter: state.tenant_filter,
    };
    let clock = crate::clock::current();
    tokio::spawn(crate::clock::run_on(
        clock,
        crate::tenancy::run_as(tenant, async move {
            let _permit = permit;
            run.go().await;
        }),
    ));
    find(&state.db, scope, id).await
}

/// A mapping or options, as stored.
fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}

/// Tells subscribers (on every instance) that an import moved.
pub(super) async fn announce(state: &AppState, tenant: Uuid, job: Uuid) -> AppResult<()> {
    let txn = crate::db::begin_write(&state.db).await?;
    let event = Event::new(tenant, None, None, Subject::ImportJob { id: job });
    crate::events::commit_with(&state.events, txn, vec![event]).await?;
    Ok(())
}

/// What a run counts.
#[derive(Default)]
pub(super) struct Counts {
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub errors: u64,
}

/// One run of an import.
pub(super) struct Run {
    pub state: Arc<AppState>,
    pub auth: AuthContext,
    pub settings: TenantSettings,
    pub job: Uuid,
    pub entity: ImportEntity,
    pub mapping: Vec<ColumnMapping>,
    pub options: ImportOptions,
    pub dry_run: bool,
}

impl Run {
    fn scope(&self) -> TenantScope {
        TenantScope(self.auth.tenant)
    }
    pub(super) fn scope_of(&self) -> TenantScope {
        self.scope()
    }

    async fn go(self) {
        let end = match self.work().await {
            Ok(Some(done)) => Some(done),
            // cancelled: the cancel wrote the status
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = ?e, job = %self.job, "import: the run failed");
                Some(ImportStatus::Failed)
            }
        };
        if let Some(end) = end
            && let Err(e) = self.finish(end).await
        {
            tracing::error!(error = ?e, job = %self.job, "import: could not record the end of a run");
        }
        if let Err(e) = announce(&self.state, self.auth.tenant.0, self.job).await {
            tracing::warn!(error = ?e, job = %self.job, "import: could not announce the end of a run");
        }
    }

    async fn finish(&self, end: ImportStatus) -> AppResult<()> {
        let db = &self.state.db;
        self.scope()
            .update_many::<import_job::Entity>()
            .col_expr(import_job::Column::Status, Expr::value(end.as_str()))
            .col_expr(import_job::Column::FinishedAt, Expr::value(Some(now())))
            .filter(import_job::Column::Id.eq(self.job))
            .filter(import_job::Column::Status.is_in([
                ImportStatus::Validating.as_str(),
                ImportStatus::Running.as_str(),
            ]))
            .exec(db)
            .await?;
        if end != ImportStatus::Validated {
            drop_file(db, self.scope(), self.job).await?;
        }
        Ok(())
    }

    /// Every row, chunk by chunk. None when the import was cancelled.
    async fn work(&self) -> AppResult<Option<ImportStatus>> {
        let db = &self.state.db;
        let scope = self.scope();
        let job = find(db, scope, self.job).await?;
        let total = u64::try_from(job.total_rows).unwrap_or(0);
        let delimiter = job.delimiter.bytes().next().unwrap_or(b',');
        let mut rows = super::rows::Rows::load(self).await?;
        let n = |v: i32| u64::try_from(v).unwrap_or(0);
        // zero unless the run goes on from where a stopped one committed
        let mut counts = Counts {
            processed: n(job.processed_rows),
            created: n(job.created_count),
            updated: n(job.updated_count),
            errors: n(job.error_count),
        };
        let skip = counts.processed;
        let mut seen: u64 = 0;
        let mut kept = counts.errors.min(MAX_KEPT_ERRORS);
        let mut announced_percent = 0;
        let mut seq = 0;
        loop {
            // read between batches: no transaction is open (SQLite's
            // writer lock, a pool of one)
            let chunk = scope
                .find::<import_chunk::Entity>()
                .filter(import_chunk::Column::JobId.eq(self.job))
                .filter(import_chunk::Column::Seq.eq(seq))
                .one(db)
                .await?;
            let Some(chunk) = chunk else { break };
            seq += 1;
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(chunk.data.as_slice());
            let mut rec = csv::ByteRecord::new();
            let mut number = chunk.first_row;
            let mut batch: Option<Batch> = None;
            loop {
                if !rdr.read_byte_record(&mut rec).map_err(AppError::internal)? {
                    break;
                }
                seen += 1;
                if seen <= skip {
                    number += 1;
                    continue;
                }
                let open = match &mut batch {
                    Some(b) => b,
                    None => batch.insert(Batch {
                        txn: crate::db::begin_write(db).await?,
                        since: std::time::Instant::now(),
                        rows: 0,
                        events: Vec::new(),
                    }),
                };
                let cells = super::upload::cells(&rec);
                // each row in a savepoint: a failed row (or every row of a
                // dry run) is rolled back alone
                let sp = crate::db::begin_write(&open.txn).await?;
                let st = crate::state::InTxn::new(&sp);
                let done = rows.one(&st, &cells).await;
                let events = st.into_events();
                if done.is_ok() && !self.dry_run {
                    sp.commit().await?;
                    rows.row_kept();
                    open.events.extend(events);
                } else {
                    sp.rollback().await?;
                    rows.row_undone();
                }
                match done {
                    Ok(super::rows::Outcome::Created) => counts.created += 1,
                    Ok(super::rows::Outcome::Updated) => counts.updated += 1,
                    Err(e) => {
                        counts.errors += 1;
                        if kept < MAX_KEPT_ERRORS {
                            kept += 1;
                            record_error(&open.txn, scope, self.job, number, e.column, &e.error)
                                .await?;
                        }
                    }
                }
                number += 1;
                counts.processed += 1;
                open.rows += 1;
                if open.rows >= BATCH || open.since.elapsed() >= BATCH_TIME {
                    if let Some(b) = batch.take()
                        && !self.commit(b, &counts).await?
                    {
                        return Ok(None);
                    }
                    let p = counts.processed * 100 / total.max(1);
                    if p > announced_percent {
                        announced_percent = p;
                        announce(&self.state, self.auth.tenant.0, self.job).await?;
                    }
                }
            }
            if let Some(b) = batch.take()
                && !self.commit(b, &counts).await?
            {
                return Ok(None);
            }
        }
        if !self.progress(&self.state.db, &counts).await? {
            return Ok(None);
        }
        Ok(Some(if self.dry_run {
            ImportStatus::Validated
        } else {
            ImportStatus::Completed
        }))
    }

    /// Commits a batch with the counts it brings the run to (so a run
    /// that stops goes on from its last commit), then tells the event bus
    /// (its rows' events were recorded in it). False, with the batch
    /// rolled back, once the import was cancelled.
    async fn commit(&self, mut b: Batch, counts: &Counts) -> AppResult<bool> {
        if !self.progress(&b.txn, counts).await? {
            b.txn.rollback().await?;
            return Ok(false);
        }
        crate::events::log::record(&b.txn, &mut b.events).await?;
        b.txn.commit().await?;
        if !b.events.is_empty() {
            self.state.events.committed(self.auth.tenant.0);
        }
        Ok(true)
    }

    /// Writes the counts and the heartbeat; false once the import was
    /// cancelled (the run then stops).
    async fn progress<C: sea_orm::ConnectionTrait>(&self, conn: &C, c: &Counts) -> AppResult<bool> {
        let n = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
        let written = self
            .scope()
            .update_many::<import_job::Entity>()
            .col_expr(
                import_job::Column::ProcessedRows,
                Expr::value(n(c.processed)),
            )
            .col_expr(import_job::Column::CreatedCount, Expr::value(n(c.created)))
            .col_expr(import_job::Column::UpdatedCount, Expr::value(n(c.updated)))
            .col_expr(import_job::Column::ErrorCount, Expr::value(n(c.errors)))
            .col_expr(import_job::Column::HeartbeatAt, Expr::value(Some(now())))
            .filter(import_job::Column::Id.eq(self.job))
            .filter(import_job::Column::Status.is_in([
                ImportStatus::Validating.as_str(),
                ImportStatus::Running.as_str(),
            ]))
            .exec(conn)
            .await?;
        Ok(written.rows_affected > 0)
    }
}
