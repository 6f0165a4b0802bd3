//! Bulk operations: one change applied to up to 500 opportunities, each
//! row in its own transaction through the same `apply` as the single
//! mutations (roles, versions, history, events), so a failing row never
//! stops or half-applies the others, and no transaction spans the batch.
use super::*;
use crate::domain::{OpportunityId, StageId};
use crate::modules::custom_field::{FieldEntity, value};
use crate::modules::tag;
use entity::opportunity::Status;

/// At most this many rows per bulk operation.
pub const MAX_ROWS: usize = 500;

/// Which rows: listed ids, or every row a list filter matches.
pub enum BulkTarget {
    Ids(Vec<String>),
    Filter(Box<OpportunityFilter>),
}

/// What to do to each row; what is left out stays.
#[derive(Default)]
pub struct BulkChange {
    pub owner_id: Option<String>,
    pub stage_id: Option<String>,
    /// OPEN reopens; LOST needs `lost_reason`.
    pub status: Option<Status>,
    pub lost_reason: Option<String>,
    pub add_tag_ids: Option<Vec<String>>,
    pub remove_tag_ids: Option<Vec<String>>,
    pub custom_fields: Option<Vec<value::RawValue>>,
}

/// One row's outcome: the fields that changed (or would), or its error.
pub struct RowOutcome {
    pub id: Uuid,
    pub result: AppResult<(Option<opportunity::Model>, Vec<String>)>,
}

/// The rows a bulk operation works on, in a stable order: every listed id
/// must name an opportunity of the tenant (NOT_FOUND otherwise, nothing
/// done); a filter may match at most `MAX_ROWS`.
async fn rows(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    target: &BulkTarget,
) -> AppResult<Vec<Uuid>> {
    let scope = TenantScope(auth.tenant);
    let too_many = |what: &'static str| {
        AppError::bad_input(
            what,
            format!("at most {MAX_ROWS} opportunities at once: narrow it, or run it in batches"),
        )
    };
    match target {
        BulkTarget::Ids(ids) => {
            if ids.len() > MAX_ROWS {
                return Err(too_many("ids"));
            }
            let mut wanted: Vec<Uuid> = Vec::new();
            for id in ids {
                let id = OpportunityId::parse(id)?.0;
                if !wanted.contains(&id) {
                    wanted.push(id);
                }
            }
            let found = scope
                .find::<opportunity::Entity>()
                .filter(opportunity::Column::Id.is_in(wanted.iter().copied()))
                .count(&state.db)
                .await?;
            if usize::try_from(found).unwrap_or(usize::MAX) != wanted.len() {
                return Err(AppError::NotFound("opportunity"));
            }
            Ok(wanted)
        }
        BulkTarget::Filter(filter) => {
            let q = list_query(&state.db, auth, settings, filter, None).await?;
            let page = crate::modules::opportunity::query::page(
                &state.db,
                &q,
                settings,
                MAX_ROWS as u64,
                None,
            )
            .await?;
            if page.page_info.has_next_page {
                return Err(too_many("filter"));
            }
            Ok(page.rows.into_iter().map(|(_, m)| m.id).collect())
        }
    }
}

/// Applies `change` to every row of `target` (or, with `dry_run`, works
/// out what would change and rolls each row back). What the change names
/// is checked once, before any row: a bad owner, stage, tag or value
/// fails the whole request.
pub async fn bulk_update(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    target: BulkTarget,
    change: BulkChange,
    dry_run: bool,
) -> AppResult<Vec<RowOutcome>> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let owner = match &change.owner_id {
        Some(o) => Some(active_user(db, scope, o, "ownerId").await?.id),
        None => None,
    };
    let stage = match &change.stage_id {
        Some(s) => Some(find_open_stage(db, scope, StageId::parse(s)?.0, "stageId").await?),
        None => None,
    };
    let reason = match (change.status, change.lost_reason.as_deref().map(str::trim)) {
        (Some(Status::Lost), Some(r)) if !r.is_empty() && r.chars().count() <= 500 => {
            Some(r.to_string())
        }
        (Some(Status::Lost), _) => {
            return Err(AppError::bad_input(
                "lostReason",
                "marking LOST needs a reason of 1 to 500 characters",
            ));
        }
        (_, Some(_)) => {
            return Err(AppError::bad_input(
                "lostReason",
                "a lost reason goes with status LOST",
            ));
        }
        _ => None,
    };
    let add = tag::resolve(db, scope, change.add_tag_ids.as_deref().unwrap_or_default()).await?;
    let remove = tag::resolve(
        db,
        scope,
        change.remove_tag_ids.as_deref().unwrap_or_default(),
    )
    .await?;
    let custom = value::check(
        db,
        scope,
        FieldEntity::Opportunity,
        change.custom_fields.as_deref().unwrap_or_default(),
    )
    .await?;
    let kind = match (change.status, &stage) {
        (Some(Status::Won), _) => Kind::Won,
        (Some(Status::Lost), _) => Kind::Lost,
        (Some(Status::Open), _) => Kind::Reopened,
        (None, Some(_))
            if owner.is_none() && add.is_empty() && remove.is_empty() && custom.is_empty() =>
        {
            Kind::StageChanged
        }
        _ => Kind::Updated,
    };
    let tag_edit = (!add.is_empty() || !remove.is_empty()).then(|| (add.clone(), remove.clone()));
    let ids = rows(state, auth, settings, &target).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = apply_run(state, auth, id, None, kind, dry_run, |cur| {
            let mut c = Change {
                tag_edit: tag_edit.clone(),
                custom: custom.clone(),
                ..Change::default()
            };
            if let Some(o) = owner {
                c.field(
                    "owner",
                    opportunity::Column::OwnerId,
                    Some(cur.owner_id),
                    Some(o),
                );
            }
            if let Some(st) = &stage {
                c.merge(stage_change(cur, st));
            }
            // a row already in the asked status is left as it is
            if let Some(s) = change.status.filter(|s| *s != cur.status) {
                c.merge(status_change(cur, s, reason.as_deref())?);
            }
            Ok(c)
        })
        .await
        .map(|(m, fields)| ((!dry_run).then_some(m), fields));
        out.push(RowOutcome { id, result });
    }
    Ok(out)
}

/// Deletes every row of `target`, each in its own transaction (with a
/// dry run, answers which would go).
pub async fn bulk_delete(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    target: BulkTarget,
    dry_run: bool,
) -> AppResult<Vec<RowOutcome>> {
    let ids = rows(state, auth, settings, &target).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = if dry_run {
            Ok((None, vec!["deleted".to_string()]))
        } else {
            delete(state, auth, OpportunityId(id))
                .await
                .map(|_| (None, vec!["deleted".to_string()]))
        };
        out.push(RowOutcome { id, result });
    }
    Ok(out)
}
