//! Reading custom-field values for pages of rows: three statements
//! whatever the number of rows.
use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, FromQueryResult, QueryFilter};
use uuid::Uuid;

use entity::{custom_field, custom_field_option};

use super::value::{Cell, Row, number, select_rows};
use super::{FieldEntity, FieldKind};
use crate::error::AppResult;
use crate::reader::Reader;
use crate::tenancy::TenantScope;

/// One field's value on one row, as GraphQL and CSV show it.
#[derive(Clone, Debug)]
pub struct FieldValue {
    pub field: custom_field::Model,
    pub cells: Vec<Cell>,
    /// The chosen options (SELECT, MULTI_SELECT), in the field's order.
    pub options: Vec<custom_field_option::Model>,
}

/// The values of many rows: values, fields and options, three statements
/// whatever the number of rows. Archived fields are left out; each row's
/// values come in the fields' order.
pub async fn load<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    entity: FieldEntity,
    owners: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<FieldValue>>> {
    let mut out: HashMap<Uuid, Vec<FieldValue>> = HashMap::new();
    if owners.is_empty() {
        return Ok(out);
    }
    let mut rows = Row::find_by_statement(
        conn.get_database_backend()
            .build(&select_rows(scope, entity, owners)),
    )
    .all(conn)
    .await?;
    rows.sort_by_key(|r| (r.owner, r.field_id));
    let field_ids: Vec<Uuid> = {
        let mut v: Vec<Uuid> = rows.iter().map(|r| r.field_id).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    if field_ids.is_empty() {
        return Ok(out);
    }
    let fields: HashMap<Uuid, custom_field::Model> = scope
        .find::<custom_field::Entity>()
        .filter(custom_field::Column::Id.is_in(field_ids))
        .filter(custom_field::Column::Archived.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let option_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.option_id).collect();
    let options: HashMap<Uuid, custom_field_option::Model> = if option_ids.is_empty() {
        HashMap::new()
    } else {
        scope
            .find::<custom_field_option::Entity>()
            .filter(custom_field_option::Column::Id.is_in(option_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect()
    };
    let mut grouped: HashMap<(Uuid, Uuid), Vec<Cell>> = HashMap::new();
    for r in &rows {
        if fields.contains_key(&r.field_id) {
            grouped
                .entry((r.owner, r.field_id))
                .or_default()
                .push(r.cell());
        }
    }
    for ((owner, field_id), cells) in grouped {
        let Some(field) = fields.get(&field_id) else {
            continue;
        };
        let mut chosen: Vec<custom_field_option::Model> = cells
            .iter()
            .filter_map(|c| c.option_id.and_then(|o| options.get(&o).cloned()))
            .collect();
        chosen.sort_by_key(|o| (o.position, o.id));
        out.entry(owner).or_default().push(FieldValue {
            field: field.clone(),
            cells,
            options: chosen,
        });
    }
    for values in out.values_mut() {
        values.sort_by(|a, b| {
            (a.field.position, &a.field.key).cmp(&(b.field.position, &b.field.key))
        });
    }
    Ok(out)
}

/// The custom-field values of an opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpportunityValuesKey(pub Uuid);

/// The custom-field values of a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContactValuesKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `OpportunityValuesKey` loader.
    pub async fn load_opportunity_values(
        &self,
        keys: &[OpportunityValuesKey],
    ) -> AppResult<HashMap<OpportunityValuesKey, Vec<FieldValue>>> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut found = load(&self.state.db, self.scope, FieldEntity::Opportunity, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                (
                    OpportunityValuesKey(id),
                    found.remove(&id).unwrap_or_default(),
                )
            })
            .collect())
    }

    /// The batch behind the GraphQL layer's `ContactValuesKey` loader.
    pub async fn load_contact_values(
        &self,
        keys: &[ContactValuesKey],
    ) -> AppResult<HashMap<ContactValuesKey, Vec<FieldValue>>> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut found = load(&self.state.db, self.scope, FieldEntity::Contact, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| (ContactValuesKey(id), found.remove(&id).unwrap_or_default()))
            .collect())
    }
}

/// The positions and labels of options, for history and CSV cells.
pub type Labels = HashMap<Uuid, (i32, String)>;

/// The option labels of `ids`, for history and CSV cells.
pub async fn option_labels<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    ids: Vec<Uuid>,
) -> AppResult<Labels> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(scope
        .find::<custom_field_option::Entity>()
        .filter(custom_field_option::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id, (o.position, o.label)))
        .collect())
}

/// A value as text: what history records and CSV exports.
pub fn display(kind: FieldKind, cells: &[Cell], labels: &Labels) -> Option<String> {
    let first = cells.first()?;
    Some(match kind {
        FieldKind::Text => first.text.clone().unwrap_or_default(),
        FieldKind::Number => number(first.num.unwrap_or(0)).to_string(),
        FieldKind::Money => format!("{:.2}", Decimal::new(first.num.unwrap_or(0), 2)),
        FieldKind::Date => first.date.map(|d| d.to_string()).unwrap_or_default(),
        FieldKind::Boolean => (first.num == Some(1)).to_string(),
        FieldKind::Select | FieldKind::MultiSelect => {
            let mut chosen: Vec<&(i32, String)> = cells
                .iter()
                .filter_map(|c| c.option_id.and_then(|o| labels.get(&o)))
                .collect();
            chosen.sort();
            chosen
                .into_iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    })
}
