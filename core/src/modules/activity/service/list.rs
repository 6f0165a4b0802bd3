//! The activity list and an opportunity's timeline, keyset-paged.
use super::*;
use crate::domain::{ContactId, OpportunityId, UserId};

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
pub(super) struct AtCursor {
    pub(super) ms: i64,
    pub(super) id: Uuid,
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
    let list = ListKey::of(&("activities", &filter));
    let mut cond = Condition::all();
    let mask = kinds_mask(filter.kinds.as_deref());
    if mask != 15 {
        cond = cond.add(activity::Column::Kind.is_in(kinds_in_mask(mask)));
    }
    if let Some(id) = &filter.opportunity_id {
        let o = opportunities::find(db, scope, OpportunityId::parse(id)?.0).await?;
        cond = cond.add(activity::Column::OpportunityId.eq(o.id));
    }
    if let Some(id) = &filter.contact_id {
        let c = contacts::find(db, scope, ContactId::parse(id)?.0).await?;
        cond = cond.add(activity::Column::ContactId.eq(c.id));
    }
    if let Some(id) = &filter.assignee_id {
        let u = scope
            .find_id::<user::Entity>(UserId::parse(id)?.0)
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
        let c: AtCursor = decode_cursor(&list, &a)?;
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
                encode_cursor(
                    &list,
                    &AtCursor {
                        ms: m.at_ms,
                        id: m.id,
                    },
                ),
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
pub(super) const DONE_SQL: &str = "(CASE WHEN activities.done THEN 1 ELSE 0 END)";

pub(super) const KEY_SQL: &str =
    "(CASE WHEN activities.done THEN -activities.at_ms ELSE activities.at_ms END)";

#[derive(Serialize, Deserialize)]
pub(super) struct TimelineCursor {
    pub(super) d: i64,
    pub(super) k: i64,
    pub(super) id: Uuid,
}

/// Which timeline: one opportunity's activities of the kinds in `mask`.
fn timeline_list(opp: Uuid, mask: u8) -> ListKey {
    ListKey::of(&("timeline", opp, mask))
}

pub(super) fn timeline_cursor(list: &ListKey, a: &activity::Model) -> String {
    let d = i64::from(a.done);
    encode_cursor(
        list,
        &TimelineCursor {
            d,
            k: if a.done { -a.at_ms } else { a.at_ms },
            id: a.id,
        },
    )
}

pub(super) fn timeline_condition(opp: Uuid, mask: u8) -> Condition {
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
        let c: TimelineCursor = decode_cursor(&timeline_list(opp, mask), &a)?;
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
    let list = timeline_list(opp, mask);
    let rows: Vec<_> = rows
        .into_iter()
        .map(|m| (timeline_cursor(&list, &m), m))
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

/// A timeline's first page from rows its batched loader fetched.
pub fn timeline_from_rows(
    scope: TenantScope,
    opp: Uuid,
    mask: u8,
    first: u64,
    rows: Vec<activity::Model>,
) -> ActivityPage {
    let more = rows.len() as u64 > first;
    let list = timeline_list(opp, mask);
    let rows: Vec<_> = rows
        .into_iter()
        // page sizes are at most MAX_PAGE; the fallback keeps every row
        .take(usize::try_from(first).unwrap_or(usize::MAX))
        .map(|m| (timeline_cursor(&list, &m), m))
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
