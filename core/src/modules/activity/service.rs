//! Activity queries and commands.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{activity, opportunity, user};
use sea_orm::sea_query::{Alias, Asterisk, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, ExprTrait,
    FromQueryResult, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{
    ActivityFilter, ActivityKind, CreateActivityInput, UpdateActivityInput, kinds_in_mask,
    kinds_mask,
};
use crate::auth::AuthContext;
use crate::domain::Role;
use crate::domain::parse_id;
use crate::error::{AppError, AppResult};
use crate::events::{ActivityEventKind as Kind, Event};
use crate::modules::contact::service as contacts;
use crate::modules::opportunity::service as opportunities;
use crate::pagination::{
    Page, decode_cursor, encode_cursor, page_size, saturating_i64, split_page,
};
use crate::reader::Reader;
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<activity::Model> {
    scope
        .find_id::<activity::Entity>(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("activity"))
}

fn subject(raw: &str) -> AppResult<String> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > 200 {
        return Err(AppError::bad_input(
            "subject",
            "subject must be 1 to 200 characters",
        ));
    }
    Ok(s.to_string())
}

fn note(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        Some(n) if n.chars().count() > 20_000 => Err(AppError::bad_input(
            "note",
            "note must be at most 20000 characters",
        )),
        Some(n) if n.trim().is_empty() => Ok(None),
        other => Ok(other.map(str::to_string)),
    }
}

/// The times an activity of `kind` may carry, checked against each other.
/// When an activity happens: a TASK is due, an EVENT starts and ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct Times {
    pub due_at: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

fn check_times(kind: ActivityKind, t: Times) -> AppResult<Times> {
    let not_for = |field: &'static str| {
        Err(AppError::bad_input(
            field,
            format!("{field} does not apply to a {}", kind.as_str()),
        ))
    };
    match kind {
        ActivityKind::Task => {
            if t.starts_at.is_some() {
                return not_for("startsAt");
            }
            if t.ends_at.is_some() {
                return not_for("endsAt");
            }
            if t.due_at.is_none() {
                return Err(AppError::bad_input("dueAt", "a TASK needs dueAt"));
            }
            Ok(t)
        }
        ActivityKind::Event => {
            if t.due_at.is_some() {
                return not_for("dueAt");
            }
            let Some(start) = t.starts_at else {
                return Err(AppError::bad_input("startsAt", "an EVENT needs startsAt"));
            };
            let end = t.ends_at.unwrap_or(start + Duration::hours(1));
            if end < start {
                return Err(AppError::bad_input(
                    "endsAt",
                    "endsAt must not be before startsAt",
                ));
            }
            Ok(Times {
                due_at: None,
                starts_at: Some(start),
                ends_at: Some(end),
            })
        }
        ActivityKind::Call | ActivityKind::Note => {
            for (f, v) in [
                ("dueAt", t.due_at),
                ("startsAt", t.starts_at),
                ("endsAt", t.ends_at),
            ] {
                if v.is_some() {
                    return not_for(f);
                }
            }
            Ok(t)
        }
    }
}

fn at_of(t: &Times, created: DateTime<Utc>) -> DateTime<Utc> {
    t.due_at.or(t.starts_at).unwrap_or(created)
}

async fn assignee<C: ConnectionTrait>(conn: &C, scope: TenantScope, id: &str) -> AppResult<Uuid> {
    let u = scope
        .find_id::<user::Entity>(parse_id(id, "user")?)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if !u.active {
        return Err(AppError::bad_input(
            "assigneeId",
            "assigneeId names an inactive user",
        ));
    }
    Ok(u.id)
}

/// SALES edits only activities it created or is assigned.
fn ensure_own(auth: AuthContext, a: &activity::Model) -> AppResult<()> {
    if auth.role == Role::Sales && a.created_by != auth.user.0 && a.assignee_id != auth.user.0 {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// An activity is a sign of life for its opportunity (see isRotting):
/// records it and answers the opportunity, changed.
async fn touch_opportunity<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    opp: Option<Uuid>,
) -> AppResult<Option<opportunity::Model>> {
    match opp {
        Some(id) => opportunities::touch_activity_in(conn, scope, id, now()).await,
        None => Ok(None),
    }
}

/// Tells subscribers about a committed change of an activity and, when it
/// touched its opportunity (lastActivityAt, isRotting), of that too.
async fn publish_with(
    state: &AppState,
    auth: AuthContext,
    kind: Kind,
    a: &activity::Model,
    touched: Option<opportunity::Model>,
) {
    publish(state, auth, kind, a).await;
    if let Some(o) = touched {
        opportunities::publish(
            state,
            auth,
            crate::events::OpportunityEventKind::Updated,
            &o,
        )
        .await;
    }
}

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
            let o = opportunities::find(db, scope, parse_id(id, "opportunity")?).await?;
            opportunities::ensure_can_change(db, auth, &o).await?;
            Some(o.id)
        }
        None => None,
    };
    let contact = match &input.contact_id {
        Some(id) => Some(
            contacts::find(db, scope, parse_id(id, "contact")?)
                .await?
                .id,
        ),
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
    txn.commit().await?;
    publish_with(state, auth, Kind::Created, &created, touched).await;
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

/// Tells subscribers about a committed change.
async fn publish(state: &AppState, auth: AuthContext, kind: Kind, a: &activity::Model) {
    state
        .events
        .publish(Event::activity(auth.tenant.0, Some(auth.user.0), kind, a))
        .await;
}

pub async fn update(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    input: UpdateActivityInput,
) -> AppResult<activity::Model> {
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
    txn.commit().await?;
    publish_with(state, auth, Kind::Updated, &changed, touched).await;
    Ok(changed)
}

pub async fn set_done(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    done: bool,
) -> AppResult<activity::Model> {
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
    txn.commit().await?;
    let kind = if done { Kind::Completed } else { Kind::Updated };
    publish_with(state, auth, kind, &changed, touched).await;
    Ok(changed)
}

pub async fn delete(state: &AppState, auth: AuthContext, id: Uuid) -> AppResult<activity::Model> {
    let scope = TenantScope(auth.tenant);
    let cur = find(&state.db, scope, id).await?;
    ensure_own(auth, &cur)?;
    let res = scope
        .delete_many::<activity::Entity>()
        .filter(activity::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("activity"));
    }
    publish(state, auth, Kind::Deleted, &cur).await;
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

/// A page of activities with its total, counted only when asked for.
pub type ActivityPage = Page<activity::Model, TotalSource>;

/// A list's total, counted by the database only when asked for.
pub struct TotalSource {
    pub scope: TenantScope,
    pub condition: Condition,
}

impl TotalSource {
    pub async fn count<C: ConnectionTrait>(&self, conn: &C) -> AppResult<u64> {
        Ok(self
            .scope
            .find::<activity::Entity>()
            .filter(self.condition.clone())
            .count(conn)
            .await?)
    }
}

#[derive(Serialize, Deserialize)]
struct AtCursor {
    ms: i64,
    id: Uuid,
}

/// `activities(filter)`: by when they happen (dueAt / startsAt /
/// createdAt), soonest first.
pub async fn list(
    state: &AppState,
    auth: AuthContext,
    filter: ActivityFilter,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<ActivityPage> {
    let first = page_size(first)?;
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let mut cond = Condition::all();
    let mask = kinds_mask(filter.kinds.as_deref());
    if mask != 15 {
        cond = cond.add(activity::Column::Kind.is_in(kinds_in_mask(mask)));
    }
    if let Some(id) = &filter.opportunity_id {
        let o = opportunities::find(db, scope, parse_id(id, "opportunity")?).await?;
        cond = cond.add(activity::Column::OpportunityId.eq(o.id));
    }
    if let Some(id) = &filter.contact_id {
        let c = contacts::find(db, scope, parse_id(id, "contact")?).await?;
        cond = cond.add(activity::Column::ContactId.eq(c.id));
    }
    if let Some(id) = &filter.assignee_id {
        let u = scope
            .find_id::<user::Entity>(parse_id(id, "user")?)
            .one(db)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        cond = cond.add(activity::Column::AssigneeId.eq(u.id));
    }
    if let Some(d) = filter.done {
        cond = cond.add(activity::Column::Done.eq(d));
    }
    if let Some(o) = filter.overdue {
        let overdue = Condition::all()
            .add(activity::Column::Kind.eq("TASK"))
            .add(activity::Column::Done.eq(false))
            .add(activity::Column::DueAt.lt(now()));
        cond = cond.add(if o { overdue } else { overdue.not() });
    }
    if let Some(f) = filter.from {
        cond = cond.add(activity::Column::AtMs.gte(f.timestamp_millis()));
    }
    if let Some(t) = filter.to {
        cond = cond.add(activity::Column::AtMs.lt(t.timestamp_millis()));
    }
    let mut q = scope.find::<activity::Entity>().filter(cond.clone());
    if let Some(a) = after {
        let c: AtCursor = decode_cursor(&a)?;
        q = q.filter(
            Condition::any().add(activity::Column::AtMs.gt(c.ms)).add(
                Condition::all()
                    .add(activity::Column::AtMs.eq(c.ms))
                    .add(activity::Column::Id.gt(c.id)),
            ),
        );
    }
    let rows = q
        .order_by_asc(activity::Column::AtMs)
        .order_by_asc(activity::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let (rows, more) = split_page(rows, first);
    let rows: Vec<_> = rows
        .into_iter()
        .map(|m| {
            (
                encode_cursor(&AtCursor {
                    ms: m.at_ms,
                    id: m.id,
                }),
                m,
            )
        })
        .collect();
    Ok(Page::new(
        rows,
        more,
        TotalSource {
            scope,
            condition: cond,
        },
    ))
}

/// The timeline order: open items first, soonest first; then done items,
/// newest first. As SQL: (done, ±at_ms, id) ascending.
const DONE_SQL: &str = "(CASE WHEN activities.done THEN 1 ELSE 0 END)";
const KEY_SQL: &str =
    "(CASE WHEN activities.done THEN -activities.at_ms ELSE activities.at_ms END)";

#[derive(Serialize, Deserialize)]
struct TimelineCursor {
    d: i64,
    k: i64,
    id: Uuid,
}

fn timeline_cursor(a: &activity::Model) -> String {
    let d = i64::from(a.done);
    encode_cursor(&TimelineCursor {
        d,
        k: if a.done { -a.at_ms } else { a.at_ms },
        id: a.id,
    })
}

fn timeline_condition(opp: Uuid, mask: u8) -> Condition {
    let mut cond = Condition::all().add(activity::Column::OpportunityId.eq(opp));
    if mask != 15 {
        cond = cond.add(activity::Column::Kind.is_in(kinds_in_mask(mask)));
    }
    cond
}

/// `Opportunity.activities`: a later page, or any page for one opportunity.
pub async fn timeline(
    state: &AppState,
    auth: AuthContext,
    opp: Uuid,
    mask: u8,
    first: u64,
    after: Option<String>,
) -> AppResult<ActivityPage> {
    let scope = TenantScope(auth.tenant);
    let cond = timeline_condition(opp, mask);
    let mut q = scope.find::<activity::Entity>().filter(cond.clone());
    if let Some(a) = after {
        let c: TimelineCursor = decode_cursor(&a)?;
        let d = || Expr::cust(DONE_SQL);
        let k = || Expr::cust(KEY_SQL);
        q = q.filter(
            Condition::any()
                .add(d().gt(c.d))
                .add(Condition::all().add(d().eq(c.d)).add(k().gt(c.k)))
                .add(
                    Condition::all()
                        .add(d().eq(c.d))
                        .add(k().eq(c.k))
                        .add(activity::Column::Id.gt(c.id)),
                ),
        );
    }
    let rows = q
        .order_by(Expr::cust(DONE_SQL), Order::Asc)
        .order_by(Expr::cust(KEY_SQL), Order::Asc)
        .order_by_asc(activity::Column::Id)
        .limit(first + 1)
        .all(&state.db)
        .await?;
    let (rows, more) = split_page(rows, first);
    let rows: Vec<_> = rows.into_iter().map(|m| (timeline_cursor(&m), m)).collect();
    Ok(Page::new(
        rows,
        more,
        TotalSource {
            scope,
            condition: cond,
        },
    ))
}

pub fn timeline_from_rows(
    scope: TenantScope,
    opp: Uuid,
    mask: u8,
    first: u64,
    rows: Vec<activity::Model>,
) -> ActivityPage {
    let more = rows.len() as u64 > first;
    let rows: Vec<_> = rows
        .into_iter()
        // page sizes are at most MAX_PAGE; the fallback keeps every row
        .take(usize::try_from(first).unwrap_or(usize::MAX))
        .map(|m| (timeline_cursor(&m), m))
        .collect();
    Page::new(
        rows,
        more,
        TotalSource {
            scope,
            condition: timeline_condition(opp, mask),
        },
    )
}

/// The first page of many opportunities' timelines in one statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimelineKey {
    pub opportunity: Uuid,
    pub mask: u8,
    pub first: u64,
}

async fn ranked(
    loader: &Reader,
    opps: Vec<Uuid>,
    extra: Condition,
    order: &str,
    limit: u64,
) -> AppResult<Vec<activity::Model>> {
    let inner = loader
        .scope
        .find::<activity::Entity>()
        .filter(activity::Column::OpportunityId.is_in(opps))
        .filter(extra)
        .column_as(
            Expr::cust(format!(
                "ROW_NUMBER() OVER (PARTITION BY activities.opportunity_id ORDER BY {order})"
            )),
            "rn",
        )
        .into_query();
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("t"))
        .and_where(Expr::col(Alias::new("rn")).lte(saturating_i64(limit)))
        .order_by(Alias::new("rn"), Order::Asc)
        .take();
    let rows = loader.state.db.query_all(&outer).await?;
    rows.iter()
        .map(|r| activity::Model::from_query_result(r, "").map_err(AppError::from))
        .collect()
}

impl Reader {
    /// The batch behind the GraphQL layer's `TimelineKey` loader.
    pub async fn load_timeline(
        &self,
        keys: &[TimelineKey],
    ) -> AppResult<HashMap<TimelineKey, Vec<activity::Model>>> {
        let mut out: HashMap<TimelineKey, Vec<activity::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        let mut groups: Vec<(u8, u64)> = keys.iter().map(|k| (k.mask, k.first)).collect();
        groups.sort_unstable();
        groups.dedup();
        for (mask, first) in groups {
            let opps: Vec<Uuid> = keys
                .iter()
                .filter(|k| k.mask == mask && k.first == first)
                .map(|k| k.opportunity)
                .collect();
            let mut extra = Condition::all();
            if mask != 15 {
                extra = extra.add(activity::Column::Kind.is_in(kinds_in_mask(mask)));
            }
            let order = format!("{DONE_SQL}, {KEY_SQL}, activities.id");
            for a in ranked(self, opps, extra, &order, first + 1).await? {
                if let Some(opp) = a.opportunity_id
                    && let Some(list) = out.get_mut(&TimelineKey {
                        opportunity: opp,
                        mask,
                        first,
                    })
                {
                    list.push(a);
                }
            }
        }
        Ok(out)
    }
}

/// The earliest open TASK or upcoming EVENT of an opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NextActivityKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `NextActivityKey` loader.
    pub async fn load_next_activity(
        &self,
        keys: &[NextActivityKey],
    ) -> AppResult<HashMap<NextActivityKey, activity::Model>> {
        let ts = now();
        let pending = Condition::all().add(activity::Column::Done.eq(false)).add(
            Condition::any().add(activity::Column::Kind.eq("TASK")).add(
                Condition::all()
                    .add(activity::Column::Kind.eq("EVENT"))
                    .add(activity::Column::StartsAt.gte(ts)),
            ),
        );
        let rows = ranked(
            self,
            keys.iter().map(|k| k.0).collect(),
            pending,
            "activities.at_ms, activities.id",
            1,
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|a| a.opportunity_id.map(|o| (NextActivityKey(o), a)))
            .collect())
    }
}
