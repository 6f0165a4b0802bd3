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
pub(super) fn cursor_value(field: OpportunitySortField, v: &serde_json::Value) -> AppResult<Value> {
    Ok(match field {
        OpportunitySortField::DueDate => {
            let s = v.as_str().ok_or_else(bad_cursor)?;
            Value::from(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad_cursor())?)
        }
        OpportunitySortField::CreatedAt | OpportunitySortField::UpdatedAt => {
            let s = v.as_str().ok_or_else(bad_cursor)?;
            Value::from(
                DateTime::parse_from_rfc3339(s)
                    .map_err(|_| bad_cursor())?
                    .with_timezone(&Utc),
            )
        }
        OpportunitySortField::Potential | OpportunitySortField::WeightedPotential => {
            Value::from(v.as_i64().ok_or_else(bad_cursor)?)
        }
        OpportunitySortField::Title => Value::from(v.as_str().ok_or_else(bad_cursor)?.to_string()),
    })
}

pub(super) fn row_sort_value(
    field: OpportunitySortField,
    row: &sea_orm::QueryResult,
) -> AppResult<serde_json::Value> {
    Ok(match field {
        OpportunitySortField::DueDate => {
            let d: NaiveDate = row.try_get("", "sort_key")?;
            serde_json::Value::from(d.format("%Y-%m-%d").to_string())
        }
        OpportunitySortField::CreatedAt | OpportunitySortField::UpdatedAt => {
            let d: DateTime<Utc> = row.try_get("", "sort_key")?;
            serde_json::Value::from(d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        OpportunitySortField::Potential | OpportunitySortField::WeightedPotential => {
            let n: i64 = row.try_get("", "sort_key")?;
            serde_json::Value::from(n)
        }
        OpportunitySortField::Title => {
            let s: String = row.try_get("", "sort_key")?;
            serde_json::Value::from(s)
        }
    })
}
