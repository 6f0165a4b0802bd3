//! CSV export: the cells of opportunities and contacts, a page at a time,
//! with every relation of a page read in one statement each (stage,
//! pipeline, owner, source, primary contact, tags, custom fields), so an
//! export of a million rows holds one page in memory. The transport
//! writes them as CSV.
use std::collections::HashMap;

use uuid::Uuid;

use entity::{contact, custom_field, opportunity, pipeline, source, stage, tag, user};

use crate::error::AppResult;
use crate::modules::custom_field::value::{self, FieldValue};
use crate::modules::custom_field::{self as fields, FieldEntity};
use crate::modules::opportunity::model::{OpportunityStatus, derive_status, probability_of};
use crate::modules::opportunity::query::PrimaryContactKey;
use crate::modules::tag::{ContactTagsKey, OpportunityTagsKey};
use crate::reader::Reader;

/// One cell. Text a user typed may start with a character spreadsheet
/// software reads as a formula; the transport neutralises those. Values
/// the server formats itself (numbers, dates, enums) never do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Value(String),
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}
fn value(s: impl Into<String>) -> Cell {
    Cell::Value(s.into())
}
fn opt_text(s: Option<&str>) -> Cell {
    text(s.unwrap_or_default())
}

/// A sheet's columns: the built-in ones, then one per custom field (by
/// label, in the fields' order).
pub struct Sheet {
    pub header: Vec<String>,
    fields: Vec<custom_field::Model>,
}

const OPPORTUNITY_COLUMNS: &[&str] = &[
    "Reference",
    "Title",
    "Pipeline",
    "Stage",
    "Status",
    "Potential",
    "Currency",
    "Probability",
    "Weighted potential",
    "Due date",
    "Owner",
    "Owner email",
    "Source",
    "Primary contact",
    "Tags",
    "Lost reason",
    "Closed at",
    "Created at",
    "Updated at",
];

const CONTACT_COLUMNS: &[&str] = &[
    "Name",
    "Kind",
    "Lifecycle",
    "Email",
    "Phone",
    "Company",
    "Source",
    "Tags",
    "Created at",
];

async fn sheet(reader: &Reader, entity: FieldEntity, columns: &[&str]) -> AppResult<Sheet> {
    let fields = fields::list(&reader.state.db, reader.scope, Some(entity), false).await?;
    let header = columns
        .iter()
        .map(|c| (*c).to_string())
        .chain(fields.iter().map(|f| f.label.clone()))
        .collect();
    Ok(Sheet { header, fields })
}

pub async fn opportunity_sheet(reader: &Reader) -> AppResult<Sheet> {
    sheet(reader, FieldEntity::Opportunity, OPPORTUNITY_COLUMNS).await
}

pub async fn contact_sheet(reader: &Reader) -> AppResult<Sheet> {
    sheet(reader, FieldEntity::Contact, CONTACT_COLUMNS).await
}

fn money(cents: i64) -> Cell {
    value(format!("{:.2}", rust_decimal::Decimal::new(cents, 2)))
}

fn tag_names(tags: Option<&Vec<tag::Model>>) -> Cell {
    text(
        tags.map(|t| {
            t.iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default(),
    )
}

/// The custom-field cells of one row, in the sheet's order.
fn custom_cells(sheet: &Sheet, values: Option<&Vec<FieldValue>>) -> AppResult<Vec<Cell>> {
    let mut out = Vec::with_capacity(sheet.fields.len());
    for f in &sheet.fields {
        let found = values.and_then(|v| v.iter().find(|v| v.field.id == f.id));
        let cell = match found {
            None => text(""),
            Some(v) => {
                let kind = fields::kind_of(f)?;
                let labels: value::Labels = v
                    .options
                    .iter()
                    .map(|o| (o.id, (o.position, o.label.clone())))
                    .collect();
                let shown = value::display(kind, &v.cells, &labels).unwrap_or_default();
                if kind == fields::FieldKind::Text || kind.has_options() {
                    text(shown)
                } else {
                    value(shown)
                }
            }
        };
        out.push(cell);
    }
    Ok(out)
}

/// The cells of a page of opportunities.
pub async fn opportunity_rows(
    reader: &Reader,
    sheet: &Sheet,
    rows: &[opportunity::Model],
) -> AppResult<Vec<Vec<Cell>>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let uniq = |f: &dyn Fn(&opportunity::Model) -> Option<Uuid>| {
        let mut v: Vec<Uuid> = rows.iter().filter_map(f).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let stages = reader
        .by_ids::<stage::Entity>(&uniq(&|r| Some(r.stage_id)))
        .await?;
    let pipelines = reader
        .by_ids::<pipeline::Entity>(&uniq(&|r| Some(r.pipeline_id)))
        .await?;
    let owners = reader
        .by_ids::<user::Entity>(&uniq(&|r| Some(r.owner_id)))
        .await?;
    let sources = reader
        .by_ids::<source::Entity>(&uniq(&|r| r.source_id))
        .await?;
    let keys: Vec<PrimaryContactKey> = ids.iter().map(|id| PrimaryContactKey(*id)).collect();
    let primary = reader.load_primary_contact(&keys).await?;
    let keys: Vec<OpportunityTagsKey> = ids.iter().map(|id| OpportunityTagsKey(*id)).collect();
    let tags = reader.load_opportunity_tags(&keys).await?;
    let custom: HashMap<Uuid, Vec<FieldValue>> = if sheet.fields.is_empty() {
        HashMap::new()
    } else {
        value::load(
            &reader.state.db,
            reader.scope,
            FieldEntity::Opportunity,
            &ids,
        )
        .await?
    };
    let today = reader.settings.today();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let st = stages.get(&r.stage_id);
        let (p, _) = probability_of(r, st.map_or(0, |s| s.probability));
        let owner = owners.get(&r.owner_id);
        let status = match derive_status(r, today) {
            OpportunityStatus::Open => "OPEN",
            OpportunityStatus::Late => "LATE",
            OpportunityStatus::Won => "WON",
            OpportunityStatus::Lost => "LOST",
        };
        let mut cells = vec![
            value(r.reference.clone()),
            text(r.title.clone()),
            opt_text(pipelines.get(&r.pipeline_id).map(|p| p.name.as_str())),
            opt_text(st.map(|s| s.name.as_str())),
            value(status),
            money(r.potential_cents),
            value(r.currency.clone()),
            value(p.to_string()),
            money(crate::money::weighted_cents(r.potential_cents, p)),
            value(r.due_date.map(|d| d.to_string()).unwrap_or_default()),
            opt_text(owner.map(|u| u.name.as_str())),
            opt_text(owner.map(|u| u.email.as_str())),
            opt_text(
                r.source_id
                    .and_then(|s| sources.get(&s))
                    .map(|s| s.name.as_str()),
            ),
            opt_text(
                primary
                    .get(&PrimaryContactKey(r.id))
                    .map(|c| c.name.as_str()),
            ),
            tag_names(tags.get(&OpportunityTagsKey(r.id))),
            opt_text(r.lost_reason.as_deref()),
            value(r.closed_at.map(|d| d.to_rfc3339()).unwrap_or_default()),
            value(r.created_at.to_rfc3339()),
            value(r.updated_at.to_rfc3339()),
        ];
        cells.extend(custom_cells(sheet, custom.get(&r.id))?);
        out.push(cells);
    }
    Ok(out)
}

/// The cells of a page of contacts.
pub async fn contact_rows(
    reader: &Reader,
    sheet: &Sheet,
    rows: &[contact::Model],
) -> AppResult<Vec<Vec<Cell>>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut companies: Vec<Uuid> = rows.iter().filter_map(|r| r.company_id).collect();
    companies.sort_unstable();
    companies.dedup();
    let companies = reader.by_ids::<contact::Entity>(&companies).await?;
    let mut src: Vec<Uuid> = rows.iter().filter_map(|r| r.source_id).collect();
    src.sort_unstable();
    src.dedup();
    let sources = reader.by_ids::<source::Entity>(&src).await?;
    let keys: Vec<ContactTagsKey> = ids.iter().map(|id| ContactTagsKey(*id)).collect();
    let tags = reader.load_contact_tags(&keys).await?;
    let custom: HashMap<Uuid, Vec<FieldValue>> = if sheet.fields.is_empty() {
        HashMap::new()
    } else {
        value::load(&reader.state.db, reader.scope, FieldEntity::Contact, &ids).await?
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut cells = vec![
            text(r.name.clone()),
            value(r.kind.clone()),
            value(r.lifecycle.clone()),
            opt_text(r.email.as_deref()),
            opt_text(r.phone.as_deref()),
            opt_text(
                r.company_id
                    .and_then(|c| companies.get(&c))
                    .map(|c| c.name.as_str()),
            ),
            opt_text(
                r.source_id
                    .and_then(|s| sources.get(&s))
                    .map(|s| s.name.as_str()),
            ),
            tag_names(tags.get(&ContactTagsKey(r.id))),
            value(r.created_at.to_rfc3339()),
        ];
        cells.extend(custom_cells(sheet, custom.get(&r.id))?);
        out.push(cells);
    }
    Ok(out)
}
