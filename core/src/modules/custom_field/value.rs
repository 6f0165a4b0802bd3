//! Custom-field values: checked against their field's definition, stored
//! one typed cell per row (see the value entities), read back per page in
//! three statements, and compared in SQL by the list filters.
use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, ExprTrait, FromQueryResult, QueryFilter};
use uuid::Uuid;

use entity::{custom_field, custom_field_option};

use super::{FieldEntity, FieldKind, kind_of};
use crate::error::{AppError, AppResult};
use crate::tenancy::TenantScope;

/// The row a value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    Opportunity(Uuid),
    Contact(Uuid),
}

impl Owner {
    pub fn id(self) -> Uuid {
        match self {
            Owner::Opportunity(id) | Owner::Contact(id) => id,
        }
    }
    pub fn entity(self) -> FieldEntity {
        match self {
            Owner::Opportunity(_) => FieldEntity::Opportunity,
            Owner::Contact(_) => FieldEntity::Contact,
        }
    }
}

/// The value table of an entity and its owner column.
pub fn table(entity: FieldEntity) -> (&'static str, &'static str) {
    match entity {
        FieldEntity::Opportunity => ("opportunity_field_values", "opportunity_id"),
        FieldEntity::Contact => ("contact_field_values", "contact_id"),
    }
}

/// NUMBER values are kept exactly to 4 decimals.
pub const NUMBER_SCALE: u32 = 4;
const NUMBER_MAX: i64 = 100_000_000_000_000;

/// A value as a client writes it, by key: the member its field's kind
/// takes, or none of them to clear it.
#[derive(Clone, Debug, Default, Hash, serde::Serialize)]
pub struct RawValue {
    pub key: String,
    pub text: Option<String>,
    pub number: Option<Decimal>,
    pub amount: Option<Decimal>,
    pub date: Option<NaiveDate>,
    pub boolean: Option<bool>,
    pub option_ids: Option<Vec<String>>,
}

/// One stored cell.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    pub option_id: Option<Uuid>,
    pub text: Option<String>,
    pub num: Option<i64>,
    pub date: Option<NaiveDate>,
}

impl Cell {
    fn empty() -> Self {
        Self {
            option_id: None,
            text: None,
            num: None,
            date: None,
        }
    }
}

/// A value checked against its field: its cells, none when cleared.
#[derive(Clone, Debug)]
pub struct Checked {
    pub field: custom_field::Model,
    pub cells: Vec<Cell>,
}

pub(super) fn bad(key: &str, message: impl std::fmt::Display) -> AppError {
    AppError::bad_input("customFields", format!("{key}: {message}"))
}

/// At most this many values in one write.
pub const MAX_VALUES: usize = 200;

/// Checks client values against the fields of `entity`: the key exists
/// and is not archived, the member matches the kind, the value is in
/// range, choices belong to the field and are not archived, a required
/// field is not cleared. Every error is BAD_USER_INPUT naming the key.
pub async fn check<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    entity: FieldEntity,
    raws: &[RawValue],
) -> AppResult<Vec<Checked>> {
    if raws.len() > MAX_VALUES {
        return Err(AppError::bad_input(
            "customFields",
            format!("at most {MAX_VALUES} values"),
        ));
    }
    let mut out: Vec<Checked> = Vec::new();
    for raw in raws {
        let field = super::by_key(conn, scope, entity, raw.key.trim()).await?;
        if out.iter().any(|c| c.field.id == field.id) {
            return Err(bad(&field.key, "given twice"));
        }
        if field.archived {
            return Err(bad(&field.key, "the field is archived"));
        }
        let cells = cells(conn, scope, &field, raw).await?;
        if cells.is_empty() && field.required {
            return Err(bad(&field.key, "a value is required"));
        }
        out.push(Checked { field, cells });
    }
    Ok(out)
}

async fn cells<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    field: &custom_field::Model,
    raw: &RawValue,
) -> AppResult<Vec<Cell>> {
    let kind = kind_of(field)?;
    let key = field.key.as_str();
    let given = [
        ("text", raw.text.is_some()),
        ("number", raw.number.is_some()),
        ("amount", raw.amount.is_some()),
        ("date", raw.date.is_some()),
        ("boolean", raw.boolean.is_some()),
        ("optionIds", raw.option_ids.is_some()),
    ];
    let wanted = match kind {
        FieldKind::Text => "text",
        FieldKind::Number => "number",
        FieldKind::Money => "amount",
        FieldKind::Date => "date",
        FieldKind::Boolean => "boolean",
        FieldKind::Select | FieldKind::MultiSelect => "optionIds",
    };
    if let Some((other, _)) = given.iter().find(|(n, set)| *set && *n != wanted) {
        return Err(bad(
            key,
            format!("a {} field takes `{wanted}`, not `{other}`", kind.as_str()),
        ));
    }
    let one = |c: Cell| vec![c];
    Ok(match kind {
        FieldKind::Text => match raw.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => vec![],
            Some(t) if t.chars().count() > 500 => {
                return Err(bad(key, "text must be at most 500 characters"));
            }
            Some(t) if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
                return Err(bad(key, "text must not contain control characters"));
            }
            Some(t) => one(Cell {
                text: Some(t.to_string()),
                ..Cell::empty()
            }),
        },
        FieldKind::Number => match raw.number {
            None => vec![],
            Some(n) => one(Cell {
                num: Some(scale_number(key, n)?),
                ..Cell::empty()
            }),
        },
        FieldKind::Money => match raw.amount {
            None => vec![],
            Some(a) => one(Cell {
                num: Some(
                    crate::money::parse_amount("customFields", a)
                        .map_err(|_| bad(key, "amount must be 0 to 1000000000.00"))?,
                ),
                ..Cell::empty()
            }),
        },
        FieldKind::Date => match raw.date {
            None => vec![],
            Some(d) => one(Cell {
                date: Some(d),
                ..Cell::empty()
            }),
        },
        FieldKind::Boolean => match raw.boolean {
            None => vec![],
            Some(b) => one(Cell {
                num: Some(i64::from(b)),
                ..Cell::empty()
            }),
        },
        FieldKind::Select | FieldKind::MultiSelect => {
            let ids = raw.option_ids.as_deref().unwrap_or_default();
            if kind == FieldKind::Select && ids.len() > 1 {
                return Err(bad(key, "a SELECT field takes one option"));
            }
            let options = options_of(conn, scope, field, ids).await?;
            if let Some(o) = options.iter().find(|o| o.archived) {
                return Err(bad(key, format!("option {:?} is archived", o.label)));
            }
            let chosen: Vec<Uuid> = options.iter().map(|o| o.id).collect();
            chosen
                .into_iter()
                .map(|id| Cell {
                    option_id: Some(id),
                    ..Cell::empty()
                })
                .collect()
        }
    })
}

/// Client-given option ids as options of `field`, deduplicated, in the
/// given order: an id that names no option of the tenant is NOT_FOUND
/// (like any foreign id), an option of another field BAD_USER_INPUT.
pub(super) async fn options_of<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    field: &custom_field::Model,
    ids: &[String],
) -> AppResult<Vec<custom_field_option::Model>> {
    let mut wanted: Vec<Uuid> = Vec::new();
    for id in ids {
        let id = crate::domain::CustomFieldOptionId::parse(id)?.0;
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let found = scope
        .find::<custom_field_option::Entity>()
        .filter(custom_field_option::Column::Id.is_in(wanted.iter().copied()))
        .all(conn)
        .await?;
    if found.len() != wanted.len() {
        return Err(AppError::NotFound("custom field option"));
    }
    if found.iter().any(|o| o.field_id != field.id) {
        return Err(bad(&field.key, "an option of another field"));
    }
    let mut ordered = Vec::with_capacity(found.len());
    for id in wanted {
        if let Some(o) = found.iter().find(|o| o.id == id) {
            ordered.push(o.clone());
        }
    }
    Ok(ordered)
}

/// A NUMBER as stored: rounded half away from zero to 4 decimals, scaled.
pub fn scale_number(key: &str, n: Decimal) -> AppResult<i64> {
    let out_of_range = || bad(key, "number must be between -10^10 and 10^10");
    if n.abs() > Decimal::from(NUMBER_MAX) {
        return Err(out_of_range());
    }
    n.round_dp_with_strategy(NUMBER_SCALE, RoundingStrategy::MidpointAwayFromZero)
        .checked_mul(Decimal::from(10_i64.pow(NUMBER_SCALE)))
        .and_then(|s| s.to_i64())
        .filter(|s| s.abs() <= NUMBER_MAX)
        .ok_or_else(out_of_range)
}

/// A stored NUMBER back as a decimal.
pub fn number(scaled: i64) -> Decimal {
    Decimal::new(scaled, NUMBER_SCALE).normalize()
}

/// Every required, unarchived field of `entity` has a value among
/// `given` (for a new row).
pub async fn check_required<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    entity: FieldEntity,
    given: &[Checked],
) -> AppResult<()> {
    let required = scope
        .find::<custom_field::Entity>()
        .filter(custom_field::Column::Entity.eq(entity.as_str()))
        .filter(custom_field::Column::Required.eq(true))
        .filter(custom_field::Column::Archived.eq(false))
        .all(conn)
        .await?;
    for f in required {
        if !given
            .iter()
            .any(|g| g.field.id == f.id && !g.cells.is_empty())
        {
            return Err(bad(&f.key, "a value is required"));
        }
    }
    Ok(())
}

#[derive(FromQueryResult)]
pub(super) struct Row {
    pub(super) owner: Uuid,
    pub(super) field_id: Uuid,
    pub(super) option_id: Option<Uuid>,
    text_value: Option<String>,
    num_value: Option<i64>,
    date_value: Option<NaiveDate>,
}

impl Row {
    pub(super) fn cell(&self) -> Cell {
        Cell {
            option_id: self.option_id,
            text: self.text_value.clone(),
            num: self.num_value,
            date: self.date_value,
        }
    }
}

pub(super) fn select_rows(
    scope: TenantScope,
    entity: FieldEntity,
    owners: &[Uuid],
) -> SelectStatement {
    let (t, o) = table(entity);
    Query::select()
        .expr_as(Expr::col(Alias::new(o)), Alias::new("owner"))
        .columns(
            [
                "field_id",
                "option_id",
                "text_value",
                "num_value",
                "date_value",
            ]
            .map(Alias::new),
        )
        .from(Alias::new(t))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(scope.0.0))
        .and_where(Expr::col(Alias::new(o)).is_in(owners.iter().copied()))
        // no ORDER BY: SQLite would satisfy it with a (tenant, field, ...)
        // index and read every value of the tenant; callers sort the few
        // rows they get
        .take()
}

/// Writes checked values of one row (inside the caller's transaction):
/// only fields whose value changed are rewritten. Answers the history of
/// what changed, as (`custom.<key>`, from, to).
pub async fn set_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    owner: Owner,
    values: &[Checked],
) -> AppResult<Vec<(String, Option<String>, Option<String>)>> {
    if values.is_empty() {
        return Ok(vec![]);
    }
    let (t, o) = table(owner.entity());
    let mut rows = Row::find_by_statement(conn.get_database_backend().build(&select_rows(
        scope,
        owner.entity(),
        &[owner.id()],
    )))
    .all(conn)
    .await?;
    rows.sort_by_key(|r| r.field_id);
    let mut current: HashMap<Uuid, Vec<Cell>> = HashMap::new();
    for r in &rows {
        current.entry(r.field_id).or_default().push(r.cell());
    }
    let mut history = Vec::new();
    let mut option_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.option_id).collect();
    for v in values {
        option_ids.extend(v.cells.iter().filter_map(|c| c.option_id));
    }
    let labels = option_labels(conn, scope, option_ids).await?;
    for v in values {
        let mut before = current.remove(&v.field.id).unwrap_or_default();
        let mut after = v.cells.clone();
        before.sort();
        after.sort();
        if before == after {
            continue;
        }
        let kind = kind_of(&v.field)?;
        history.push((
            format!("custom.{}", v.field.key),
            display(kind, &before, &labels),
            display(kind, &v.cells, &labels),
        ));
        conn.execute(
            &Query::delete()
                .from_table(Alias::new(t))
                .and_where(Expr::col(Alias::new("tenant_id")).eq(scope.0.0))
                .and_where(Expr::col(Alias::new(o)).eq(owner.id()))
                .and_where(Expr::col(Alias::new("field_id")).eq(v.field.id))
                .take(),
        )
        .await?;
        if v.cells.is_empty() {
            continue;
        }
        let mut insert = Query::insert();
        insert.into_table(Alias::new(t)).columns(
            [
                "id",
                "tenant_id",
                o,
                "field_id",
                "option_id",
                "text_value",
                "num_value",
                "date_value",
            ]
            .map(Alias::new),
        );
        for c in &v.cells {
            insert
                .values([
                    Expr::val(Uuid::new_v4()),
                    Expr::val(scope.0.0),
                    Expr::val(owner.id()),
                    Expr::val(v.field.id),
                    Expr::val(c.option_id),
                    Expr::val(c.text.clone()),
                    Expr::val(c.num),
                    Expr::val(c.date),
                ])
                .map_err(AppError::internal)?;
        }
        conn.execute(&insert).await?;
    }
    Ok(history)
}

/// How many rows have a value for `field` (a kind change needs none).
pub async fn count_for<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    field: &custom_field::Model,
) -> AppResult<i64> {
    let (t, _) = table(FieldEntity::from_db(&field.entity)?);
    let row = conn
        .query_one(
            &Query::select()
                .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
                .from(Alias::new(t))
                .and_where(Expr::col(Alias::new("tenant_id")).eq(scope.0.0))
                .and_where(Expr::col(Alias::new("field_id")).eq(field.id))
                .take(),
        )
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64>("", "n")?,
        None => 0,
    })
}

pub use super::filter::*;
pub use super::read::*;
