//! List filters on custom fields, compared in SQL through the value
//! tables' (tenant, field, value, owner) indexes.
use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{Condition, ConnectionTrait, ExprTrait};
use uuid::Uuid;

use super::value::{bad, options_of, scale_number, table};
use super::{FieldEntity, FieldKind, kind_of};
use crate::error::AppResult;
use crate::tenancy::TenantScope;

/// A list filter on one custom field, as the client writes it.
#[derive(Clone, Debug, Default, Hash, serde::Serialize)]
pub struct RawFilter {
    pub key: String,
    /// TEXT: equal (exactly).
    pub equals: Option<String>,
    /// NUMBER, MONEY: inclusive bounds.
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    /// DATE: inclusive bounds.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// BOOLEAN.
    pub boolean: Option<bool>,
    /// SELECT, MULTI_SELECT: has at least one of these options.
    pub any_option_ids: Option<Vec<String>>,
    /// true: has a value; false: has none.
    pub is_set: Option<bool>,
}

/// At most this many custom-field filters in one list.
pub const MAX_FILTERS: usize = 10;

/// The rows of `entity` (whose id column is `id_col`) that pass a custom
/// field filter: `id IN (SELECT owner FROM values WHERE tenant, field,
/// comparison)`, served by the value table's (tenant, field, value, owner)
/// index.
pub async fn condition<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    entity: FieldEntity,
    id_col: Expr,
    f: &RawFilter,
) -> AppResult<Condition> {
    let field = super::by_key(conn, scope, entity, f.key.trim()).await?;
    let kind = kind_of(&field)?;
    let key = field.key.as_str();
    let (t, o) = table(entity);
    let mut sub = Query::select()
        .column(Alias::new(o))
        .from(Alias::new(t))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(scope.0.0))
        .and_where(Expr::col(Alias::new("field_id")).eq(field.id))
        .take();
    let col = |c: &str| Expr::col(Alias::new(c));
    let misfit = |member: &str| {
        bad(
            key,
            format!("`{member}` does not apply to a {} field", kind.as_str()),
        )
    };
    let mut compared = false;
    if let Some(e) = &f.equals {
        if kind != FieldKind::Text {
            return Err(misfit("equals"));
        }
        sub.and_where(col("text_value").eq(e.trim()));
        compared = true;
    }
    let bound = |d: Decimal| match kind {
        FieldKind::Number => scale_number(key, d),
        FieldKind::Money => Decimal::ONE_HUNDRED
            .checked_mul(d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
            .and_then(|c| c.to_i64())
            .ok_or_else(|| bad(key, "amount out of range")),
        _ => Err(misfit("min/max")),
    };
    if let Some(m) = f.min {
        sub.and_where(col("num_value").gte(bound(m)?));
        compared = true;
    }
    if let Some(m) = f.max {
        sub.and_where(col("num_value").lte(bound(m)?));
        compared = true;
    }
    if f.from.is_some() || f.to.is_some() {
        if kind != FieldKind::Date {
            return Err(misfit("from/to"));
        }
        if let Some(d) = f.from {
            sub.and_where(col("date_value").gte(d));
        }
        if let Some(d) = f.to {
            sub.and_where(col("date_value").lte(d));
        }
        compared = true;
    }
    if let Some(b) = f.boolean {
        if kind != FieldKind::Boolean {
            return Err(misfit("boolean"));
        }
        sub.and_where(col("num_value").eq(i64::from(b)));
        compared = true;
    }
    if let Some(ids) = &f.any_option_ids {
        if !kind.has_options() {
            return Err(misfit("anyOptionIds"));
        }
        let parsed: Vec<Uuid> = options_of(conn, scope, &field, ids)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        sub.and_where(col("option_id").is_in(parsed));
        compared = true;
    }
    match f.is_set {
        Some(false) if compared => Err(bad(
            key,
            "isSet: false cannot be combined with a comparison",
        )),
        Some(false) => Ok(Condition::all().add(id_col.not_in_subquery(sub))),
        Some(true) | None => {
            if !compared && f.is_set.is_none() {
                return Err(bad(key, "name a comparison or isSet"));
            }
            Ok(Condition::all().add(id_col.in_subquery(sub)))
        }
    }
}
