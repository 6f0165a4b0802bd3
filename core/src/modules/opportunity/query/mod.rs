//! Reading opportunities: filters, keyset pages, and the aggregates, all
//! computed by the database. Amount arithmetic follows `crate::money`.
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    contact, exchange_rate, opportunity, opportunity_contact, opportunity_team, stage, user,
};
use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, JoinType, LikeExpr, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, ExprTrait, FromQueryResult, Order,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{LATE, LOST, OPEN, OpportunitySortField, SortDirection, WON};
use crate::auth::TenantSettings;
use crate::domain::like_pattern;
use crate::error::{AppError, AppResult};
use crate::money::{convert_sql, rate_sql};
use crate::pagination::{ListKey, Page, decode_cursor, encode_cursor, saturating_i64, split_page};
use crate::reader::Reader;
use crate::tenancy::TenantScope;

mod cursor;
mod loaders;
use cursor::{Cursor, bad_cursor, cursor_value, dir_name, field_name, row_sort_value};
pub use loaders::*;

/// The effective probability of a row (needs `stages` joined).
const PROB_SQL: &str = "(CASE opportunities.status WHEN 'WON' THEN 100 WHEN 'LOST' THEN 0 ELSE COALESCE(opportunities.probability_override, stages.probability) END)";

fn weighted_sql() -> String {
    format!("((opportunities.potential_cents * {PROB_SQL} + 50) / 100)")
}

/// Converted potential and weighted potential, in tenant-currency cents.
pub(crate) fn potential_sql(settings: &TenantSettings) -> String {
    convert_sql(
        "opportunities.potential_cents",
        &rate_sql(&settings.currency),
    )
}
pub(crate) fn weighted_converted_sql(settings: &TenantSettings) -> String {
    convert_sql(&weighted_sql(), &rate_sql(&settings.currency))
}

/// Joins the stage (for its probability) and the exchange rate of the
/// row's currency.
pub(crate) fn join_money(q: &mut SelectStatement) {
    q.join(
        JoinType::InnerJoin,
        stage::Entity,
        Expr::col((stage::Entity, stage::Column::Id))
            .equals((opportunity::Entity, opportunity::Column::StageId)),
    )
    .join(
        JoinType::LeftJoin,
        exchange_rate::Entity,
        Condition::all()
            .add(
                Expr::col((exchange_rate::Entity, exchange_rate::Column::TenantId))
                    .equals((opportunity::Entity, opportunity::Column::TenantId)),
            )
            .add(
                Expr::col((exchange_rate::Entity, exchange_rate::Column::Currency))
                    .equals((opportunity::Entity, opportunity::Column::Currency)),
            ),
    );
}

/// Statuses as SQL. OPEN and LATE are derived: LATE is an open row whose
/// due date is before today in the tenant's zone.
pub fn status_condition(mask: u8, today: NaiveDate) -> Option<Condition> {
    if mask & (OPEN | LATE | WON | LOST) == (OPEN | LATE | WON | LOST) {
        return None;
    }
    // what the stored status alone decides, as one IN the indexes can use:
    // OPEN and LATE together are every stored OPEN row
    let mut stored = Vec::new();
    if mask & (OPEN | LATE) == (OPEN | LATE) {
        stored.push(opportunity::Status::Open);
    }
    if mask & WON != 0 {
        stored.push(opportunity::Status::Won);
    }
    if mask & LOST != 0 {
        stored.push(opportunity::Status::Lost);
    }
    let mut any = Condition::any();
    if !stored.is_empty() {
        any = any.add(opportunity::Column::Status.is_in(stored));
    }
    if mask & (OPEN | LATE) == OPEN {
        any = any.add(
            Condition::all()
                .add(opportunity::Column::Status.eq(opportunity::Status::Open))
                .add(
                    Condition::any()
                        .add(opportunity::Column::DueDate.is_null())
                        .add(opportunity::Column::DueDate.gte(today)),
                ),
        );
    }
    if mask & (OPEN | LATE) == LATE {
        any = any.add(
            Condition::all()
                .add(opportunity::Column::Status.eq(opportunity::Status::Open))
                .add(opportunity::Column::DueDate.lt(today)),
        );
    }
    if mask == 0 {
        any = any.add(Expr::cust("1 = 0"));
    }
    Some(any)
}

/// Reference, title or a contact's name contains `search`.
pub fn search_condition(search: &str) -> Condition {
    let pat = like_pattern(search);
    let like = |e: Expr| e.like(LikeExpr::new(pat.clone()).escape('\\'));
    let contact_match = Query::select()
        .expr(Expr::val(1))
        .from(opportunity_contact::Entity)
        .inner_join(
            contact::Entity,
            Expr::col((contact::Entity, contact::Column::Id)).equals((
                opportunity_contact::Entity,
                opportunity_contact::Column::ContactId,
            )),
        )
        .and_where(
            Expr::col((
                opportunity_contact::Entity,
                opportunity_contact::Column::OpportunityId,
            ))
            .equals((opportunity::Entity, opportunity::Column::Id)),
        )
        .and_where(like(
            Func::lower(Expr::col((contact::Entity, contact::Column::Name))).into(),
        ))
        .take();
    Condition::any()
        .add(like(
            Func::lower(Expr::col((
                opportunity::Entity,
                opportunity::Column::Reference,
            )))
            .into(),
        ))
        .add(like(
            Func::lower(Expr::col((opportunity::Entity, opportunity::Column::Title))).into(),
        ))
        .add(Expr::exists(contact_match))
}

/// The opportunity is linked to `contact`.
pub fn contact_condition(contact: Uuid) -> Condition {
    let sub = Query::select()
        .expr(Expr::val(1))
        .from(opportunity_contact::Entity)
        .and_where(
            Expr::col((
                opportunity_contact::Entity,
                opportunity_contact::Column::OpportunityId,
            ))
            .equals((opportunity::Entity, opportunity::Column::Id)),
        )
        .and_where(
            Expr::col((
                opportunity_contact::Entity,
                opportunity_contact::Column::ContactId,
            ))
            .eq(contact),
        )
        .take();
    Condition::all().add(Expr::exists(sub))
}

pub use crate::modules::custom_field::sort::CustomSort;

/// A resolved list request: which rows (without paging) and in what order.
#[derive(Clone)]
pub struct ListQuery {
    pub scope: TenantScope,
    pub condition: Condition,
    pub field: OpportunitySortField,
    pub direction: SortDirection,
    /// With `OpportunitySortField::CustomField`: which field.
    pub custom: Option<CustomSort>,
    /// Which list this is, as its cursors carry it.
    pub list: ListKey,
}

impl ListQuery {
    fn sort_expr(&self, settings: &TenantSettings, backend: sea_orm::DatabaseBackend) -> Expr {
        match (self.field, &self.custom) {
            (OpportunitySortField::CustomField, Some(c)) => c.expr(backend),
            _ => Expr::cust(self.sort_sql(settings)),
        }
    }

    fn sort_sql(&self, settings: &TenantSettings) -> String {
        match self.field {
            // resolved by `sort_expr`; without a field, creation order
            OpportunitySortField::CustomField => "opportunities.created_at".into(),
            OpportunitySortField::DueDate => {
                "COALESCE(opportunities.due_date, '9999-12-31')".into()
            }
            OpportunitySortField::CreatedAt => "opportunities.created_at".into(),
            OpportunitySortField::UpdatedAt => "opportunities.updated_at".into(),
            OpportunitySortField::Potential => potential_sql(settings),
            OpportunitySortField::WeightedPotential => weighted_converted_sql(settings),
            OpportunitySortField::Title => "LOWER(opportunities.title)".into(),
        }
    }

    fn base(&self) -> Select<opportunity::Entity> {
        let mut select = self
            .scope
            .find::<opportunity::Entity>()
            .filter(self.condition.clone());
        join_money(QueryTrait::query(&mut select));
        select
    }
}

/// The order of a board column unless the client asks for another.
pub const COLUMN_ORDER: (OpportunitySortField, SortDirection) =
    (OpportunitySortField::CreatedAt, SortDirection::Desc);

/// A board column's list: the stage's opportunities with the statuses of
/// `mask`, in `order` (newest first by default).
pub fn stage_column(
    scope: TenantScope,
    stage: Uuid,
    mask: u8,
    today: chrono::NaiveDate,
    order: (OpportunitySortField, SortDirection),
) -> ListQuery {
    let mut condition = Condition::all().add(opportunity::Column::StageId.eq(stage));
    if let Some(c) = status_condition(mask, today) {
        condition = condition.add(c);
    }
    let (field, direction) = order;
    ListQuery {
        scope,
        condition,
        field,
        direction,
        custom: None,
        list: ListKey::of(&("stage", stage, mask, field, direction)),
    }
}

/// The opportunities a contact is on, newest first.
pub fn contact_opportunities(scope: TenantScope, contact: Uuid) -> ListQuery {
    let (field, direction) = COLUMN_ORDER;
    ListQuery {
        scope,
        condition: contact_condition(contact),
        field,
        direction,
        custom: None,
        list: ListKey::of(&("contact", contact, field, direction)),
    }
}

/// A board column's first page from its batched rows (`first + 1` of them
/// at most, newest first), with the cursors later pages of `q` continue
/// from.
pub fn column_page(
    q: &ListQuery,
    rows: Vec<(serde_json::Value, opportunity::Model)>,
    first: u64,
) -> OpportunityPage {
    let more = rows.len() as u64 > first;
    let rows: Vec<_> = rows
        .into_iter()
        // page sizes are at most MAX_PAGE; the fallback keeps every row
        .take(usize::try_from(first).unwrap_or(usize::MAX))
        .map(|(v, m)| (column_cursor(&q.list, v, m.id), m))
        .collect();
    Page::new(rows, more, ())
}

/// A page of opportunities (its totals are loaded on their own).
pub type OpportunityPage = Page<opportunity::Model>;

/// One page, ordered by the sort value then id (so ties are stable), after
/// the cursor if any.
pub async fn page(
    db: &DatabaseConnection,
    q: &ListQuery,
    settings: &TenantSettings,
    first: u64,
    after: Option<&str>,
) -> AppResult<OpportunityPage> {
    let stmt = page_statement(db.get_database_backend(), q, settings, first, after)?;
    let raw = db.query_all_raw(stmt).await?;
    let (raw, more) = split_page(raw, first);
    let mut rows = Vec::with_capacity(raw.len());
    for r in raw {
        let m = opportunity::Model::from_query_result(&r, "")?;
        let cursor = Cursor {
            f: field_name(q.field).into(),
            d: dir_name(q.direction).into(),
            v: row_sort_value(q, &r)?,
            id: m.id,
        };
        rows.push((encode_cursor(&q.list, &cursor), m));
    }
    Ok(Page::new(rows, more, ()))
}

/// The statement of one page (`first + 1` rows, for `hasNextPage`): what
/// `page` runs, and what the plan tests EXPLAIN.
pub fn page_statement(
    backend: sea_orm::DatabaseBackend,
    q: &ListQuery,
    settings: &TenantSettings,
    first: u64,
    after: Option<&str>,
) -> AppResult<sea_orm::Statement> {
    let sort = q.sort_expr(settings, backend);
    let order = match q.direction {
        SortDirection::Asc => Order::Asc,
        SortDirection::Desc => Order::Desc,
    };
    let mut select = q.base().column_as(sort.clone(), "sort_key");
    if let Some(after) = after {
        let c: Cursor = decode_cursor(&q.list, after)?;
        if c.f != field_name(q.field) || c.d != dir_name(q.direction) {
            return Err(bad_cursor());
        }
        let v = cursor_value(q, &c.v)?;
        // a row comparison, so that the index on (…, sort key, id) is
        // entered at the cursor instead of scanned from the start
        let row = Expr::tuple([
            sort.clone(),
            Expr::col((opportunity::Entity, opportunity::Column::Id)),
        ]);
        let at = Expr::tuple([Expr::val(v), Expr::val(c.id)]);
        select = select.filter(match q.direction {
            SortDirection::Asc => row.gt(at),
            SortDirection::Desc => row.lt(at),
        });
    }
    Ok(select
        .order_by(sort, order.clone())
        .order_by(opportunity::Column::Id, order)
        .limit(first + 1)
        .build(backend))
}

/// Count, potential and weighted potential, in tenant-currency cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub count: i64,
    pub potential_cents: i64,
    pub weighted_cents: i64,
}

#[derive(FromQueryResult)]
struct TotalsRow {
    n: i64,
    p: i64,
    w: i64,
}

#[derive(FromQueryResult)]
struct GroupedTotalsRow {
    k: Uuid,
    n: i64,
    p: i64,
    w: i64,
}

fn with_totals(
    select: Select<opportunity::Entity>,
    settings: &TenantSettings,
) -> Select<opportunity::Entity> {
    select
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(
            Expr::cust(format!(
                "CAST(COALESCE(SUM({}), 0) AS BIGINT)",
                potential_sql(settings)
            )),
            "p",
        )
        .column_as(
            Expr::cust(format!(
                "CAST(COALESCE(SUM({}), 0) AS BIGINT)",
                weighted_converted_sql(settings)
            )),
            "w",
        )
}

/// Totals over every row of the list (not just a page): one statement.
pub async fn totals(
    db: &DatabaseConnection,
    q: &ListQuery,
    settings: &TenantSettings,
) -> AppResult<Totals> {
    let row = with_totals(q.base(), settings)
        .into_model::<TotalsRow>()
        .one(db)
        .await?;
    Ok(row
        .map(|r| Totals {
            count: r.n,
            potential_cents: r.p,
            weighted_cents: r.w,
        })
        .unwrap_or_default())
}

async fn grouped_totals(
    loader: &Reader,
    group: opportunity::Column,
    keys: &[Uuid],
    condition: Option<Condition>,
) -> AppResult<HashMap<Uuid, Totals>> {
    let mut select = loader
        .scope
        .find::<opportunity::Entity>()
        .filter(group.is_in(keys.iter().copied()));
    if let Some(c) = condition {
        select = select.filter(c);
    }
    join_money(QueryTrait::query(&mut select));
    let rows = with_totals(select, &loader.settings)
        .column_as(group, "k")
        .group_by(group)
        .into_model::<GroupedTotalsRow>()
        .all(&loader.state.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.k,
                Totals {
                    count: r.n,
                    potential_cents: r.p,
                    weighted_cents: r.w,
                },
            )
        })
        .collect())
}
