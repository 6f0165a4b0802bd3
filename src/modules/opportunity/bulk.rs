//! Bulk operations as GraphQL shows them: one change to many
//! opportunities, with a per-row answer and a dry run.
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::service::{self, BulkChange, BulkTarget, RowOutcome};
use super::types::{Opportunity, OpportunityFilter};
use crate::auth::{ContextAuth, RoleGuard};
use crate::error::{AppError, GqlResult};
use crate::graphql::ContextState;
use crate::modules::custom_field::{CustomFieldValueInput, raw};

/// The status a bulk change moves rows to. Rows already there are left
/// as they are.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkStatus {
    /// Reopens WON and LOST rows.
    Open,
    Won,
    /// Needs `lostReason`.
    Lost,
}

/// What a bulk update does to each row; what is left out stays.
#[derive(InputObject)]
pub struct BulkOpportunityChangeInput {
    pub owner_id: Option<ID>,
    /// Any open stage of any pipeline.
    pub stage_id: Option<ID>,
    pub status: Option<BulkStatus>,
    /// 1 to 500 characters, with status LOST.
    pub lost_reason: Option<String>,
    pub add_tag_ids: Option<Vec<ID>>,
    pub remove_tag_ids: Option<Vec<ID>>,
    /// Sets the fields named (a value with no member clears it).
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
}

/// One row of a bulk operation.
#[derive(SimpleObject)]
pub struct BulkRowResult {
    pub id: ID,
    pub ok: bool,
    /// The fields that changed, or would on a dry run (history names:
    /// owner, stage, status, tags, custom.<key>, …; `deleted` for a
    /// deletion). Empty when the row already was as asked.
    pub changes: Vec<String>,
    /// The row after the change (null on a dry run, a deletion or an
    /// error).
    pub opportunity: Option<Opportunity>,
    /// The row's error: the code and message the single mutation answers
    /// (FORBIDDEN, CONFLICT, BAD_USER_INPUT, …).
    pub code: Option<String>,
    pub message: Option<String>,
}

/// A bulk operation's answer: one row per opportunity, in list order.
#[derive(SimpleObject)]
pub struct BulkOpportunityResult {
    pub dry_run: bool,
    pub matched: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub rows: Vec<BulkRowResult>,
}

impl BulkOpportunityResult {
    fn from_rows(rows: Vec<RowOutcome>, dry_run: bool) -> Self {
        let rows: Vec<BulkRowResult> = rows
            .into_iter()
            .map(|r| match r.result {
                Ok((m, changes)) => BulkRowResult {
                    id: ID(r.id.to_string()),
                    ok: true,
                    changes,
                    opportunity: m.map(Opportunity),
                    code: None,
                    message: None,
                },
                Err(e) => {
                    let message = match &e {
                        // a database failure's detail stays in the log
                        AppError::Internal(_) => {
                            tracing::error!(error = %e, "bulk row failed");
                            "internal error".to_string()
                        }
                        other => other.to_string(),
                    };
                    BulkRowResult {
                        id: ID(r.id.to_string()),
                        ok: false,
                        changes: Vec::new(),
                        opportunity: None,
                        code: Some(e.code().to_string()),
                        message: Some(message),
                    }
                }
            })
            .collect();
        let n = |c: usize| i32::try_from(c).unwrap_or(i32::MAX);
        let count = |ok: bool| n(rows.iter().filter(|r| r.ok == ok).count());
        Self {
            dry_run,
            matched: n(rows.len()),
            succeeded: count(true),
            failed: count(false),
            rows,
        }
    }
}

fn target(ids: Option<Vec<ID>>, filter: Option<OpportunityFilter>) -> Result<BulkTarget, AppError> {
    match (ids, filter) {
        (Some(ids), None) => Ok(BulkTarget::Ids(ids.into_iter().map(|i| i.0).collect())),
        (None, Some(f)) => Ok(BulkTarget::Filter(Box::new(f.into()))),
        _ => Err(AppError::bad_input(
            "ids",
            "give either ids (at most 500) or a filter, not both",
        )),
    }
}

#[derive(Default)]
pub struct BulkMutation;

#[Object]
impl BulkMutation {
    /// Applies one change to up to 500 opportunities, listed by `ids` or
    /// matched by `filter`. Each row goes through the same rules as the
    /// single mutations (roles, history, events) in its own transaction:
    /// a row that fails (FORBIDDEN, …) is reported and the others go on.
    /// With `dryRun`, answers what would change and writes nothing.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 500)")]
    async fn bulk_update_opportunities(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        filter: Option<OpportunityFilter>,
        change: BulkOpportunityChangeInput,
        #[graphql(default)] dry_run: bool,
    ) -> GqlResult<BulkOpportunityResult> {
        use entity::opportunity::Status;
        let target = target(ids, filter)?;
        let change = BulkChange {
            owner_id: change.owner_id.map(|x| x.0),
            stage_id: change.stage_id.map(|x| x.0),
            status: change.status.map(|s| match s {
                BulkStatus::Open => Status::Open,
                BulkStatus::Won => Status::Won,
                BulkStatus::Lost => Status::Lost,
            }),
            lost_reason: change.lost_reason,
            add_tag_ids: change
                .add_tag_ids
                .map(|v| v.into_iter().map(|x| x.0).collect()),
            remove_tag_ids: change
                .remove_tag_ids
                .map(|v| v.into_iter().map(|x| x.0).collect()),
            custom_fields: raw(change.custom_fields),
        };
        let rows = service::bulk_update(
            ctx.state()?,
            ctx.auth()?,
            ctx.tenant_settings()?,
            target,
            change,
            dry_run,
        )
        .await?;
        Ok(BulkOpportunityResult::from_rows(rows, dry_run))
    }

    /// Deletes up to 500 opportunities (and their activities), each in its
    /// own transaction. ADMIN and MANAGER only.
    #[graphql(
        guard = "RoleGuard::MANAGERS",
        complexity = "crate::pagination::list_complexity(child_complexity, 500)"
    )]
    async fn bulk_delete_opportunities(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        filter: Option<OpportunityFilter>,
        #[graphql(default)] dry_run: bool,
    ) -> GqlResult<BulkOpportunityResult> {
        let target = target(ids, filter)?;
        let rows = service::bulk_delete(
            ctx.state()?,
            ctx.auth()?,
            ctx.tenant_settings()?,
            target,
            dry_run,
        )
        .await?;
        Ok(BulkOpportunityResult::from_rows(rows, dry_run))
    }
}
