//! The opportunity lists' keyset cursors: the sort value and id of a
//! row, typed back into bind values when a page continues after it.
use super::*;

#[derive(Serialize, Deserialize)]
pub(super) struct Cursor {
    pub(super) f: String,
    pub(super) d: String,
    pub(super) v: serde_json::Value,
    pub(super) id: Uuid,
}

pub(super) fn field_name(f: OpportunitySortField) -> &'static str {
    match f {
        OpportunitySortField::DueDate => "DUE_DATE",
        OpportunitySortField::CreatedAt => "CREATED_AT",
        OpportunitySortField::UpdatedAt => "UPDATED_AT",
        OpportunitySortField::Potential => "POTENTIAL",
        OpportunitySortField::WeightedPotential => "WEIGHTED_POTENTIAL",
        OpportunitySortField::Title => "TITLE",
        OpportunitySortField::CustomField => "CUSTOM_FIELD",
    }
}

/// How a list's sort value is typed.
enum Typed {
    Date,
    Instant,
    Int,
    Text,
}

fn typed(q: &ListQuery) -> Typed {
    use crate::modules::custom_field::sort::Typed as K;
    match (q.field, q.custom.map(|c| c.typed())) {
        (OpportunitySortField::DueDate, _) => Typed::Date,
        (OpportunitySortField::CreatedAt | OpportunitySortField::UpdatedAt, _) => Typed::Instant,
        (OpportunitySortField::Potential | OpportunitySortField::WeightedPotential, _) => {
            Typed::Int
        }
        (OpportunitySortField::Title, _) => Typed::Text,
        (OpportunitySortField::CustomField, Some(K::Date)) => Typed::Date,
        (OpportunitySortField::CustomField, Some(K::Text)) => Typed::Text,
        (OpportunitySortField::CustomField, Some(K::Int)) => Typed::Int,
        (OpportunitySortField::CustomField, None) => Typed::Instant,
    }
}

pub(super) fn dir_name(d: SortDirection) -> &'static str {
    match d {
        SortDirection::Asc => "ASC",
        SortDirection::Desc => "DESC",
    }
}

pub(super) fn bad_cursor() -> AppError {
    AppError::bad_input("after", "after is not a cursor of this list and order")
}

/// The cursor's sort value as a bind value of the right type.
pub(super) fn cursor_value(q: &ListQuery, v: &serde_json::Value) -> AppResult<Value> {
    Ok(match typed(q) {
        Typed::Date => {
            let s = v.as_str().ok_or_else(bad_cursor)?;
            Value::from(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad_cursor())?)
        }
        Typed::Instant => {
            let s = v.as_str().ok_or_else(bad_cursor)?;
            Value::from(
                DateTime::parse_from_rfc3339(s)
                    .map_err(|_| bad_cursor())?
                    .with_timezone(&Utc),
            )
        }
        Typed::Int => Value::from(v.as_i64().ok_or_else(bad_cursor)?),
        Typed::Text => Value::from(v.as_str().ok_or_else(bad_cursor)?.to_string()),
    })
}

pub(super) fn row_sort_value(
    q: &ListQuery,
    row: &sea_orm::QueryResult,
) -> AppResult<serde_json::Value> {
    Ok(match typed(q) {
        Typed::Date => {
            let d: NaiveDate = row.try_get("", "sort_key")?;
            serde_json::Value::from(d.format("%Y-%m-%d").to_string())
        }
        Typed::Instant => {
            let d: DateTime<Utc> = row.try_get("", "sort_key")?;
            serde_json::Value::from(d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        Typed::Int => {
            let n: i64 = row.try_get("", "sort_key")?;
            serde_json::Value::from(n)
        }
        Typed::Text => {
            let s: String = row.try_get("", "sort_key")?;
            serde_json::Value::from(s)
        }
    })
}
