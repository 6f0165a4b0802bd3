//! Creating, updating, completing and deleting activities; the overdue sweep.
use super::*;
use crate::domain::{ContactId, OpportunityId};

/// An activity is a sign of life for its opportunity (see isRotting):
/// records it and answers the opportunity, changed.
pub(super) async fn touch_opportunity<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    opp: Option<Uuid>,
) -> AppResult<Option<opportunity::Model>> {
    match opp {
        Some(id) => opportunities::touch_activity_in(conn, scope, id, now()).await,
        None => Ok(None),
    }
}

/// The events of a change to an activity and, when it touched its
/// opportunity (lastActivityAt, isRotting), of that too.
pub(super) fn events_with(
    auth: AuthContext,
    kind: Kind,
    a: &activity::Model,
    touched: Option<opportunity::Model>,
) -> Vec<Event> {
    let mut events = vec![event(auth, kind, a)];
    if let Some(o) = touched {
        events.push(opportunities::event(
            auth,
            crate::events::OpportunityEventKind::Updated,
            &o,
        ));
    }
    events
}

/// Creates a task, event, call or note, on an opportunity the caller may
/// change and/or a contact. It is a sign of life for its opportunity
/// (lastActivityAt, isRotting), written in the same transaction.
pub async fn create(
    state: &AppState,
    auth: AuthContext,
    input: CreateActivityInput,
) -> AppResult<activity::Model> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let subject = subject(&input.subject)?;
    let note = note(input.note.as_deref())?;
    let times = check_times(
        input.kind,
        Times {
            due_at: input.due_at,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
        },
    )?;
    let opp = match &input.opportunity_id {
        Some(id) => {
            let o = opportunities::find(db, scope, OpportunityId::parse(id)?.0).await?;
            opportunities::ensure_can_change(db, auth, &o).await?;
            Some(o.id)
        }
        None => None,
    };
    let contact = match &input.contact_id {
        Some(id) => Some(contacts::find(db, scope, ContactId::parse(id)?.0).await?.id),
        None => None,
    };
    let assignee = match &input.assignee_id {
        Some(id) => assignee(db, scope, id).await?,
        None => auth.user.0,
    };
    let done = input.done.unwrap_or(matches!(
        input.kind,
        ActivityKind::Call | ActivityKind::Note
    ));
    let txn = crate::db::begin_write(db).await?;
    let (created, touched) = insert_in(
        &txn,
        scope,
        NewActivity {
            kind: input.kind,
            subject,
            note,
            opportunity: opp,
            contact,
            assignee,
            created_by: auth.user.0,
            times,
            done,
        },
    )
    .await?;
    crate::events::commit_with(
        &state.events,
        txn,
        events_with(auth, Kind::Created, &created, touched),
    )
    .await?;
    Ok(created)
}

/// An activity whose fields are already checked (subject and note
/// trimmed, times coherent for its kind, links found in the tenant).
pub struct NewActivity {
    pub kind: ActivityKind,
    pub subject: String,
    pub note: Option<String>,
    pub opportunity: Option<Uuid>,
    pub contact: Option<Uuid>,
    pub assignee: Uuid,
    pub created_by: Uuid,
    pub times: Times,
    pub done: bool,
}

/// Inserts an activity in the caller's transaction and records the sign
/// of life on its opportunity; answers both, for the caller to publish
/// after commit. The one place an activity row is created.
pub async fn insert_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    new: NewActivity,
) -> AppResult<(activity::Model, Option<opportunity::Model>)> {
    let ts = now();
    let at = at_of(&new.times, ts);
    let created = scope
        .stamp(activity::ActiveModel {
            id: Set(Uuid::new_v4()),
            kind: Set(new.kind.as_str().into()),
            subject: Set(new.subject),
            note: Set(new.note),
            opportunity_id: Set(new.opportunity),
            contact_id: Set(new.contact),
            assignee_id: Set(new.assignee),
            created_by: Set(new.created_by),
            due_at: Set(new.times.due_at),
            starts_at: Set(new.times.starts_at),
            ends_at: Set(new.times.ends_at),
            at: Set(at),
            at_ms: Set(at.timestamp_millis()),
            done: Set(new.done),
            completed_at: Set(new.done.then_some(ts)),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(conn)
        .await?;
    let touched = touch_opportunity(conn, scope, new.opportunity).await?;
    Ok((created, touched))
}

/// The event of a change `auth` made to `a`.
pub(super) fn event(auth: AuthContext, kind: Kind, a: &activity::Model) -> Event {
    Event::activity(auth.tenant.0, Some(auth.user.0), kind, a)
}

/// Edits an activity (SALES only those it created or is assigned); the edit
/// is a sign of life for its opportunity.
pub async fn update(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::ActivityId,
    input: UpdateActivityInput,
) -> AppResult<activity::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let cur = find(db, scope, id).await?;
    ensure_own(auth, &cur)?;
    let kind = ActivityKind::from_db(&cur.kind)?;
    let mut update = scope
        .update_many::<activity::Entity>()
        .col_expr(activity::Column::UpdatedAt, Expr::value(now()))
        .filter(activity::Column::Id.eq(cur.id));
    if let Some(s) = &input.subject {
        update = update.col_expr(activity::Column::Subject, Expr::value(subject(s)?));
    }
    if input.note.is_some() {
        update = update.col_expr(
            activity::Column::Note,
            Expr::value(note(input.note.as_deref())?),
        );
    }
    if let Some(a) = &input.assignee_id {
        update = update.col_expr(
            activity::Column::AssigneeId,
            Expr::value(assignee(db, scope, a).await?),
        );
    }
    if input.due_at.is_some() || input.starts_at.is_some() || input.ends_at.is_some() {
        // an EVENT moved without a new end keeps its duration
        let ends_at = match (input.starts_at, input.ends_at, cur.starts_at, cur.ends_at) {
            (Some(ns), None, Some(os), Some(oe)) => Some(ns + (oe - os)),
            (_, Some(e), _, _) => Some(e),
            (_, None, _, e) => e,
        };
        let given = |new: Option<DateTime<Utc>>, old: Option<DateTime<Utc>>| new.or(old);
        let t = match kind {
            ActivityKind::Task => Times {
                due_at: given(input.due_at, cur.due_at),
                starts_at: input.starts_at,
                ends_at: input.ends_at,
            },
            ActivityKind::Event => Times {
                due_at: input.due_at,
                starts_at: given(input.starts_at, cur.starts_at),
                ends_at,
            },
            _ => Times {
                due_at: input.due_at,
                starts_at: input.starts_at,
                ends_at: input.ends_at,
            },
        };
        let t = check_times(kind, t)?;
        let at = at_of(&t, cur.created_at);
        update = update
            .col_expr(activity::Column::DueAt, Expr::value(t.due_at))
            .col_expr(activity::Column::StartsAt, Expr::value(t.starts_at))
            .col_expr(activity::Column::EndsAt, Expr::value(t.ends_at))
            .col_expr(activity::Column::At, Expr::value(at))
            .col_expr(activity::Column::AtMs, Expr::value(at.timestamp_millis()));
    }
    let txn = crate::db::begin_write(db).await?;
    update.exec(&txn).await?;
    let touched = touch_opportunity(&txn, scope, cur.opportunity_id).await?;
    let changed = find(&txn, scope, id).await?;
    crate::events::commit_with(
        &state.events,
        txn,
        events_with(auth, Kind::Updated, &changed, touched),
    )
    .await?;
    Ok(changed)
}

/// Marks an activity done or not done; completing it is a sign of life for
/// its opportunity.
pub async fn set_done(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::ActivityId,
    done: bool,
) -> AppResult<activity::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let cur = find(&state.db, scope, id).await?;
    ensure_own(auth, &cur)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let ts = now();
    scope
        .update_many::<activity::Entity>()
        .col_expr(activity::Column::Done, Expr::value(done))
        .col_expr(
            activity::Column::CompletedAt,
            Expr::value(done.then_some(ts)),
        )
        // a reopened task that is past due becomes overdue again
        .col_expr(
            activity::Column::OverdueMarkedDue,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(activity::Column::UpdatedAt, Expr::value(ts))
        .filter(activity::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let touched = touch_opportunity(&txn, scope, cur.opportunity_id).await?;
    let changed = find(&txn, scope, id).await?;
    let kind = if done { Kind::Completed } else { Kind::Updated };
    crate::events::commit_with(
        &state.events,
        txn,
        events_with(auth, kind, &changed, touched),
    )
    .await?;
    Ok(changed)
}

/// Deletes an activity (SALES only those it created or is assigned).
pub async fn delete(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::ActivityId,
) -> AppResult<activity::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let cur = find(&state.db, scope, id).await?;
    ensure_own(auth, &cur)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let res = scope
        .delete_many::<activity::Entity>()
        .filter(activity::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("activity"));
    }
    crate::events::commit_with(&state.events, txn, vec![event(auth, Kind::Deleted, &cur)]).await?;
    Ok(cur)
}

/// Claims the open tasks whose `dueAt` has passed and that no
/// BECAME_OVERDUE was raised for yet, across tenants (a background job).
/// The mark records the `dueAt` it was raised for, so a conditional UPDATE
/// claims each transition once, and moving the due time re-arms it.
pub async fn claim_became_overdue<C: ConnectionTrait>(db: &C, limit: u64) -> AppResult<Vec<Event>> {
    let pending = Condition::all()
        .add(activity::Column::Kind.eq("TASK"))
        .add(activity::Column::Done.eq(false))
        .add(activity::Column::DueAt.lt(now()));
    let claimed = crate::db::claim::<activity::Entity, _>(
        db,
        pending,
        activity::Column::Id,
        activity::Column::OverdueMarkedDue,
        activity::Column::DueAt,
        limit,
    )
    .await?;
    Ok(claimed
        .iter()
        .map(|a| Event::activity(a.tenant_id, None, Kind::BecameOverdue, a))
        .collect())
}
