//! Stage moves, won/lost/reopen, deletion, and the sweep that raises BECAME_LATE.
use super::*;
use entity::opportunity::Status;

/// Records a sign of life (an activity) on an opportunity, in the
/// caller's transaction, and answers it changed (see isRotting). Not a
/// change of the opportunity's own fields: no version bump, no history.
pub async fn touch_activity_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<Option<opportunity::Model>> {
    let changed = scope
        .update_many::<opportunity::Entity>()
        .col_expr(opportunity::Column::LastActivityAt, Expr::value(Some(at)))
        .filter(opportunity::Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    Ok(changed.into_iter().next())
}

/// Moves every opportunity of stage `from` into `to` inside the caller's
/// transaction (a stage deletion), writing exactly the history a
/// `moveOpportunity` writes for each: a stage change, a "stage" field
/// change, a "pipeline" one when the pipeline changes, and a version bump.
/// Answers the events to publish once the caller has committed. Refused
/// when there are opportunities and no (other) stage to take them.
pub async fn move_all_from_stage_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    actor: Option<Uuid>,
    from: &entity::stage::Model,
    to: Option<&entity::stage::Model>,
) -> AppResult<Vec<Event>> {
    let affected = scope
        .find::<opportunity::Entity>()
        .filter(opportunity::Column::StageId.eq(from.id))
        .all(conn)
        .await?;
    if affected.is_empty() {
        return Ok(Vec::new());
    }
    let Some(to) = to else {
        return Err(AppError::bad_input(
            "moveOpportunitiesTo",
            format!(
                "{} opportunities are in this stage: name a stage to move them to",
                affected.len()
            ),
        ));
    };
    if to.id == from.id {
        return Err(AppError::bad_input(
            "moveOpportunitiesTo",
            "cannot move opportunities into the stage being deleted",
        ));
    }
    let ts = now();
    bumped(scope, ts)
        .col_expr(opportunity::Column::StageId, Expr::value(to.id))
        .col_expr(opportunity::Column::PipelineId, Expr::value(to.pipeline_id))
        .col_expr(opportunity::Column::StageEnteredAt, Expr::value(ts))
        .filter(opportunity::Column::StageId.eq(from.id))
        .exec(conn)
        .await?;
    let mut stage_rows = Vec::with_capacity(affected.len());
    let mut field_rows = Vec::with_capacity(affected.len());
    for o in &affected {
        stage_rows.push(stage_row(scope, o.id, Some(from.id), to.id, actor, ts));
        field_rows.push(history_row(
            scope,
            o.id,
            actor,
            ts,
            "stage",
            Some(from.id.to_string()),
            Some(to.id.to_string()),
        ));
        if o.pipeline_id != to.pipeline_id {
            field_rows.push(history_row(
                scope,
                o.id,
                actor,
                ts,
                "pipeline",
                Some(o.pipeline_id.to_string()),
                Some(to.pipeline_id.to_string()),
            ));
        }
    }
    for chunk in stage_rows.chunks(500) {
        stage_change::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    for chunk in field_rows.chunks(500) {
        opportunity_change::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    Ok(affected
        .iter()
        .map(|o| {
            Event::opportunity(scope.0.0, actor, Kind::StageChanged, o)
                .moved(o.pipeline_id, to.pipeline_id)
        })
        .collect())
}

/// Moves an opportunity to another stage, possibly of another pipeline. The
/// stage history (and the pipeline history on a cross-pipeline move) is
/// written in the same transaction: the funnel and the sales cycle are
/// computed from it.
pub async fn move_to<S: Store>(
    state: &S,
    auth: AuthContext,
    id: crate::domain::OpportunityId,
    stage_id: crate::domain::StageId,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    let stage_id = stage_id.0;
    let id = id.0;
    let target =
        find_open_stage(state.conn(), TenantScope(auth.tenant), stage_id, "stageId").await?;
    apply(state, auth, id, expected, Kind::StageChanged, |cur| {
        Ok(stage_change(cur, &target))
    })
    .await
}

/// A move of `cur` into `target` (nothing when it is there already).
pub(super) fn stage_change(cur: &opportunity::Model, target: &entity::stage::Model) -> Change {
    {
        let mut c = Change::default();
        if cur.stage_id == target.id {
            return c;
        }
        c.history.push((
            "stage".into(),
            Some(cur.stage_id.to_string()),
            Some(target.id.to_string()),
        ));
        c.sets
            .push((opportunity::Column::StageId, Expr::value(target.id)));
        if cur.pipeline_id != target.pipeline_id {
            c.history.push((
                "pipeline".into(),
                Some(cur.pipeline_id.to_string()),
                Some(target.pipeline_id.to_string()),
            ));
            c.sets.push((
                opportunity::Column::PipelineId,
                Expr::value(target.pipeline_id),
            ));
        }
        c.stage = Some((cur.stage_id, target.id));
        c
    }
}

/// A move to status `to` (WON, LOST or OPEN): refused when the opportunity
/// is already there; sets closedAt (now when closing, cleared when
/// reopening) and lostReason (only LOST keeps one), with history.
pub(super) fn status_change(
    cur: &opportunity::Model,
    to: Status,
    lost_reason: Option<&str>,
) -> AppResult<Change> {
    if cur.status == to {
        return Err(AppError::bad_input(
            "id",
            format!("the opportunity is already {}", to.as_str().to_lowercase()),
        ));
    }
    let mut c = Change::default();
    c.field(
        "status",
        opportunity::Column::Status,
        Some(cur.status.as_str().to_string()),
        Some(to.as_str().to_string()),
    );
    if let Some(r) = lost_reason {
        c.history.push((
            "lostReason".into(),
            cur.lost_reason.clone(),
            Some(r.to_string()),
        ));
    }
    let closed_at = (to != Status::Open).then(now);
    c.sets
        .push((opportunity::Column::ClosedAt, Expr::value(closed_at)));
    if to == Status::Open {
        // reopened past its due date, it becomes LATE again
        c.sets.push((
            opportunity::Column::LateMarkedDue,
            Expr::value(Option::<chrono::NaiveDate>::None),
        ));
    }
    c.sets.push((
        opportunity::Column::LostReason,
        Expr::value(lost_reason.map(str::to_string)),
    ));
    c.won = to == Status::Won;
    Ok(c)
}

/// Marks an opportunity WON: its probability becomes 100 and its contacts
/// become clients.
pub async fn mark_won<S: Store>(
    state: &S,
    auth: AuthContext,
    id: crate::domain::OpportunityId,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    let id = id.0;
    apply(state, auth, id, expected, Kind::Won, |cur| {
        status_change(cur, Status::Won, None)
    })
    .await
}

/// Marks an opportunity LOST, with the reason the team learns from (1 to
/// 500 characters, required).
pub async fn mark_lost<S: Store>(
    state: &S,
    auth: AuthContext,
    id: crate::domain::OpportunityId,
    reason: &str,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    let id = id.0;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad_input(
            "reason",
            "a reason of 1 to 500 characters is required",
        ));
    }
    apply(state, auth, id, expected, Kind::Lost, |cur| {
        status_change(cur, Status::Lost, Some(reason))
    })
    .await
}

/// Reopens a WON or LOST opportunity: it is OPEN (or LATE) again.
pub async fn reopen<S: Store>(
    state: &S,
    auth: AuthContext,
    id: crate::domain::OpportunityId,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    let id = id.0;
    apply(state, auth, id, expected, Kind::Reopened, |cur| {
        status_change(cur, Status::Open, None)
    })
    .await
}

/// Deletes an opportunity and its activities; timeline subscribers hear of
/// each activity as well.
pub async fn delete(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::OpportunityId,
) -> AppResult<bool> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let txn = crate::db::begin_write(&state.db).await?;
    let current = find(&txn, scope, id).await?;
    // its activities go with it (ON DELETE CASCADE): timelines hear of it
    let activities = scope
        .find::<entity::activity::Entity>()
        .filter(entity::activity::Column::OpportunityId.eq(id))
        .all(&txn)
        .await?;
    let res = scope
        .delete_many::<opportunity::Entity>()
        .filter(opportunity::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("opportunity"));
    }
    let mut events = vec![event(auth, Kind::Deleted, &current)];
    events.extend(activities.iter().map(|a| {
        Event::activity(
            auth.tenant.0,
            Some(auth.user.0),
            crate::events::ActivityEventKind::Deleted,
            a,
        )
    }));
    crate::events::commit_with(&state.events, txn, events).await?;
    Ok(true)
}

/// Claims, for every tenant, up to `limit` (per time zone) open
/// opportunities whose due date has passed in the tenant's time zone and
/// that no BECAME_LATE was raised for yet. The mark is set by a conditional UPDATE, so of several instances
/// sweeping at once exactly one claims each transition. A background job,
/// not a request: it runs across tenants on purpose, and every event it
/// returns names its own tenant.
pub async fn claim_became_late<C: ConnectionTrait>(db: &C, limit: u64) -> AppResult<Vec<Event>> {
    use sea_orm::sea_query::Query;
    let zones: Vec<String> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Timezone)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut events = Vec::new();
    for zone in zones {
        let Ok(tz) = crate::domain::Timezone::parse("timezone", &zone) else {
            continue;
        };
        let today = tz.today_at(crate::clock::now());
        let pending = Condition::all()
            .add(opportunity::Column::Status.eq(Status::Open))
            .add(opportunity::Column::DueDate.lt(today))
            .add(
                opportunity::Column::TenantId.in_subquery(
                    Query::select()
                        .column(tenant::Column::Id)
                        .from(tenant::Entity)
                        .and_where(tenant::Column::Timezone.eq(zone.as_str()))
                        .to_owned(),
                ),
            );
        let claimed = crate::db::claim::<opportunity::Entity, _>(
            db,
            pending,
            opportunity::Column::Id,
            opportunity::Column::LateMarkedDue,
            opportunity::Column::DueDate,
            limit,
        )
        .await?;
        events.extend(
            claimed
                .iter()
                .map(|o| Event::opportunity(o.tenant_id, None, Kind::BecameLate, o)),
        );
    }
    Ok(events)
}
