//! Sorting a list by a custom field: the row's value as one sortable
//! scalar (numbers, amounts, yes/no and options by their position as
//! integers; dates; text case-insensitively), rows without a value last
//! (first when descending), and the keyset cursor's typed value.
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use super::{FieldEntity, FieldKind};
use crate::error::{AppError, AppResult};
use crate::tenancy::TenantScope;

/// A custom field a list sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomSort {
    pub entity: FieldEntity,
    pub field: Uuid,
    pub kind: FieldKind,
}

/// How a sort value is typed in a cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typed {
    Int,
    Date,
    Text,
}

impl CustomSort {
    /// The field of `entity` with `key` (BAD_USER_INPUT when there is none).
    pub async fn resolve<C: ConnectionTrait>(
        conn: &C,
        scope: TenantScope,
        entity: FieldEntity,
        key: &str,
    ) -> AppResult<Self> {
        let f = super::by_key(conn, scope, entity, key).await?;
        Ok(Self {
            entity,
            field: f.id,
            kind: FieldKind::from_db(&f.kind)?,
        })
    }

    pub fn typed(&self) -> Typed {
        match self.kind {
            FieldKind::Date => Typed::Date,
            FieldKind::Text => Typed::Text,
            _ => Typed::Int,
        }
    }

    /// The row's sort value, for the list's own table.
    pub fn expr(&self, backend: sea_orm::DatabaseBackend) -> Expr {
        let (values, owner, outer) = match self.entity {
            FieldEntity::Opportunity => (
                "opportunity_field_values",
                "opportunity_id",
                "opportunities",
            ),
            FieldEntity::Contact => ("contact_field_values", "contact_id", "contacts"),
        };
        // sea-query renumbers `$1` for PostgreSQL; SQLite would read it as
        // a named parameter, so it gets `?`
        let bind = match backend {
            sea_orm::DatabaseBackend::Postgres => "$1",
            _ => "?",
        };
        let value = |col: &str, join: &str| {
            format!(
                "(SELECT {col} FROM {values} v {join}WHERE v.tenant_id = {outer}.tenant_id AND v.{owner} = {outer}.id AND v.field_id = {bind})"
            )
        };
        let sql = match self.kind {
            FieldKind::Number | FieldKind::Money | FieldKind::Boolean => format!(
                "CAST(COALESCE({}, 9223372036854775807) AS BIGINT)",
                value("MIN(v.num_value)", "")
            ),
            FieldKind::Select | FieldKind::MultiSelect => format!(
                "CAST(COALESCE({}, 2147483647) AS BIGINT)",
                value(
                    "MIN(o.position)",
                    "JOIN custom_field_options o ON o.id = v.option_id "
                )
            ),
            FieldKind::Date => {
                format!("COALESCE({}, '9999-12-31')", value("MIN(v.date_value)", ""))
            }
            // '0' before a value, '1' for none: values first, in order
            FieldKind::Text => format!(
                "COALESCE({}, '1')",
                value("MIN('0' || LOWER(v.text_value))", "")
            ),
        };
        Expr::cust_with_values(sql, [self.field])
    }
}

/// A row's sort value (selected as `col`) as a cursor keeps it.
pub fn cursor_json(
    typed: Typed,
    row: &sea_orm::QueryResult,
    col: &str,
) -> AppResult<serde_json::Value> {
    Ok(match typed {
        Typed::Int => serde_json::Value::from(row.try_get::<i64>("", col)?),
        Typed::Date => serde_json::Value::from(
            row.try_get::<chrono::NaiveDate>("", col)?
                .format("%Y-%m-%d")
                .to_string(),
        ),
        Typed::Text => serde_json::Value::from(row.try_get::<String>("", col)?),
    })
}

/// A cursor's sort value as a bind value (None: not of this type).
pub fn cursor_bind(typed: Typed, v: &serde_json::Value) -> Option<Value> {
    match typed {
        Typed::Int => v.as_i64().map(Value::from),
        Typed::Date => v
            .as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(Value::from),
        Typed::Text => v.as_str().map(|s| Value::from(s.to_string())),
    }
}

/// BAD_USER_INPUT for a sort key given without CUSTOM_FIELD, or the reverse.
pub fn mismatch(custom: bool) -> AppError {
    AppError::bad_input(
        "customFieldKey",
        if custom {
            "sorting by CUSTOM_FIELD needs a customFieldKey"
        } else {
            "customFieldKey goes with field CUSTOM_FIELD"
        },
    )
}
