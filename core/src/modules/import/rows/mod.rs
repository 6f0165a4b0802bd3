//! One row of a file becomes a contact or an opportunity through the same
//! commands as the API (so the same checks, history and events), after
//! its names are matched: stages and pipelines, owners (by email or name),
//! sources, tags (created when missing) and select options (by label).
use std::collections::HashMap;

use entity::{contact, custom_field_option, opportunity, pipeline, source, stage, tag, user};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sea_orm::ExprTrait;
use sea_orm::sea_query::Func;

mod contact_row;
mod opportunity_row;

use super::parse::{self, fold};
use super::run::Run;
use super::*;
use crate::domain::{ContactId, Email, OpportunityId, Patch, StageId};
use crate::modules::contact::model::{ContactInput, ContactKind, UpdateContactInput};
use crate::modules::contact::service as contacts;
use crate::modules::custom_field::FieldKind;
use crate::modules::custom_field::value::RawValue;
use crate::modules::opportunity::model::{
    CreateOpportunityInput, OpportunityContactInput, UpdateOpportunityInput,
};
use crate::modules::opportunity::service as opportunities;
use crate::state::{InTxn, Store};
use entity::opportunity::Status;

/// What became of a row.
pub(super) enum Outcome {
    Created,
    Updated,
}

/// Why a row was refused, and the column at fault when one is.
pub(super) struct RowError {
    pub column: Option<String>,
    pub error: AppError,
}

impl From<AppError> for RowError {
    fn from(error: AppError) -> Self {
        Self {
            column: None,
            error,
        }
    }
}

type RowResult<T> = Result<T, RowError>;

/// A custom field as an import fills it.
struct Field {
    kind: FieldKind,
    /// Folded label → option id.
    options: Vec<(String, Uuid)>,
}

/// The tenant's names, read once per run.
pub(super) struct Rows<'a> {
    run: &'a Run,
    columns: Vec<(Target, usize)>,
    headers: Vec<String>,
    /// (folded pipeline name, folded stage name, stage id), board order.
    stages: Vec<(String, String, Uuid)>,
    default_stage: Option<Uuid>,
    /// (email, folded name, id) of the active users.
    users: Vec<(String, String, Uuid)>,
    sources: Vec<(String, Uuid)>,
    /// Lower-cased name → id; grows as tags are created.
    tags: HashMap<String, Uuid>,
    /// Tags the current row created: forgotten when its savepoint is
    /// rolled back.
    new_tags: Vec<String>,
    fields: HashMap<String, Field>,
}

impl<'a> Rows<'a> {
    pub(super) async fn load(run: &'a Run) -> AppResult<Rows<'a>> {
        let db = &run.state.db;
        let scope = run.scope_of();
        let job = find(db, scope, run.job).await?;
        let pipelines: Vec<pipeline::Model> = scope
            .find::<pipeline::Entity>()
            .filter(pipeline::Column::Archived.eq(false))
            .order_by_asc(pipeline::Column::Position)
            .order_by_asc(pipeline::Column::Id)
            .all(db)
            .await?;
        let all_stages: Vec<stage::Model> = scope
            .find::<stage::Entity>()
            .filter(stage::Column::Deleted.eq(false))
            .order_by_asc(stage::Column::Position)
            .order_by_asc(stage::Column::Id)
            .all(db)
            .await?;
        let mut stages = Vec::new();
        for p in &pipelines {
            for s in all_stages.iter().filter(|s| s.pipeline_id == p.id) {
                stages.push((fold(&p.name), fold(&s.name), s.id));
            }
        }
        let users: Vec<(String, String, Uuid)> = scope
            .find::<user::Entity>()
            .select_only()
            .column(user::Column::Email)
            .column(user::Column::Name)
            .column(user::Column::Id)
            .filter(user::Column::Active.eq(true))
            .into_tuple::<(String, String, Uuid)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(e, n, id)| (e.to_lowercase(), fold(&n), id))
            .collect();
        let sources = scope
            .find::<source::Entity>()
            .filter(source::Column::Archived.eq(false))
            .all(db)
            .await?
            .into_iter()
            .map(|s| (fold(&s.name), s.id))
            .collect();
        let tags = scope
            .find::<tag::Entity>()
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.name_key, t.id))
            .collect();
        let fe = match run.entity {
            ImportEntity::Opportunity => crate::modules::custom_field::FieldEntity::Opportunity,
            ImportEntity::Contact => crate::modules::custom_field::FieldEntity::Contact,
        };
        let defs = crate::modules::custom_field::list(db, scope, Some(fe), false).await?;
        let options: Vec<custom_field_option::Model> = scope
            .find::<custom_field_option::Entity>()
            .filter(custom_field_option::Column::Archived.eq(false))
            .filter(custom_field_option::Column::FieldId.is_in(defs.iter().map(|d| d.id)))
            .all(db)
            .await?;
        let mut fields = HashMap::new();
        for d in defs {
            let opts = options
                .iter()
                .filter(|o| o.field_id == d.id)
                .map(|o| (fold(&o.label), o.id))
                .collect();
            fields.insert(
                d.key.clone(),
                Field {
                    kind: FieldKind::from_db(&d.kind)?,
                    options: opts,
                },
            );
        }
        Ok(Rows {
            run,
            columns: run
                .mapping
                .iter()
                .map(|m| (m.target.clone(), m.column))
                .collect(),
            headers: headers(&job),
            default_stage: run
                .options
                .default_stage
                .or_else(|| stages.first().map(|s| s.2)),
            stages,
            users,
            sources,
            tags,
            new_tags: Vec::new(),
            fields,
        })
    }

    /// The row's savepoint was rolled back: the tags it created are gone.
    pub(super) fn row_undone(&mut self) {
        for k in self.new_tags.drain(..) {
            self.tags.remove(&k);
        }
    }

    /// The row's savepoint was released: what it created stays.
    pub(super) fn row_kept(&mut self) {
        self.new_tags.clear();
    }

    /// The header of the column mapped to `t`.
    fn header(&self, t: &Target) -> Option<String> {
        let i = self.columns.iter().find(|(c, _)| c == t)?.1;
        self.headers.get(i).cloned()
    }

    /// An error naming the column of `t`.
    fn at(&self, t: &Target, error: AppError) -> RowError {
        RowError {
            column: self.header(t),
            error,
        }
    }

    fn bad(&self, t: &Target, message: String) -> RowError {
        self.at(t, AppError::bad_input("row", message))
    }

    /// The non-empty cell mapped to `t`.
    fn cell<'c>(&self, cells: &'c [String], t: &Target) -> Option<&'c str> {
        let i = self.columns.iter().find(|(c, _)| c == t)?.1;
        cells.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }

    /// Imports one row on `st`, the row's own savepoint of the batch: every
    /// read sees the rows before it, and the caller rolls the savepoint
    /// back when the row fails or the run is a dry run.
    pub(super) async fn one(&mut self, st: &InTxn<'_>, cells: &[String]) -> RowResult<Outcome> {
        match self.run.entity {
            ImportEntity::Opportunity => self.opportunity(st, cells).await,
            ImportEntity::Contact => self.contact(st, cells).await,
        }
    }

    fn external_id(&self, cells: &[String]) -> RowResult<Option<String>> {
        self.cell(cells, &Target::ExternalId)
            .map(|e| crate::domain::external_id(e).map_err(|e| self.at(&Target::ExternalId, e)))
            .transpose()
    }

    fn source(&self, cells: &[String]) -> RowResult<Option<Uuid>> {
        let Some(raw) = self.cell(cells, &Target::Source) else {
            return Ok(None);
        };
        let f = fold(raw);
        self.sources
            .iter()
            .find(|s| s.0 == f)
            .map(|s| Some(s.1))
            .ok_or_else(|| self.bad(&Target::Source, format!("no source is named {raw:?}")))
    }

    /// The tags named (separated by `,`, `;` or `|`), created when missing.
    async fn tags(&mut self, st: &InTxn<'_>, cells: &[String]) -> RowResult<Option<Vec<String>>> {
        let Some(raw) = self.cell(cells, &Target::Tags).map(str::to_string) else {
            return Ok(None);
        };
        let mut ids = Vec::new();
        for part in raw
            .split([',', ';', '|'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let name = crate::modules::tag::name(part).map_err(|e| self.at(&Target::Tags, e))?;
            let key = name.to_lowercase();
            let id = match self.tags.get(&key) {
                Some(id) => *id,
                None => {
                    let color = crate::modules::tag::DEFAULT_COLOR.to_string();
                    let made = crate::modules::tag::create(st, self.run.auth, name, color)
                        .await
                        .map_err(|e| self.at(&Target::Tags, e))?;
                    self.tags.insert(key.clone(), made.id);
                    self.new_tags.push(key);
                    made.id
                }
            };
            ids.push(id.to_string());
        }
        Ok(Some(ids))
    }

    /// The custom-field cells as the API takes them.
    fn custom(&self, cells: &[String]) -> RowResult<Option<Vec<RawValue>>> {
        let mut out = Vec::new();
        for (t, _) in &self.columns {
            let Target::Custom(key) = t else { continue };
            let Some(raw) = self.cell(cells, t) else {
                continue;
            };
            let Some(field) = self.fields.get(key) else {
                continue;
            };
            let bad = |what: &str| self.bad(t, format!("{key}: {raw:?} is not {what}"));
            let mut v = RawValue {
                key: key.clone(),
                ..RawValue::default()
            };
            let nf = self.run.options.number_format;
            match field.kind {
                FieldKind::Text => v.text = Some(raw.to_string()),
                FieldKind::Number => {
                    v.number = Some(parse::number(raw, nf).ok_or_else(|| bad("a number"))?);
                }
                FieldKind::Money => {
                    v.amount = Some(parse::amount(raw, nf).ok_or_else(|| bad("an amount"))?.0);
                }
                FieldKind::Date => {
                    v.date = Some(
                        parse::date(raw, self.run.options.date_format)
                            .ok_or_else(|| bad("a date"))?,
                    );
                }
                FieldKind::Boolean => {
                    v.boolean = Some(parse::boolean(raw).ok_or_else(|| bad("yes or no"))?);
                }
                FieldKind::Select | FieldKind::MultiSelect => {
                    let labels: Vec<&str> = if field.kind == FieldKind::Select {
                        vec![raw]
                    } else {
                        raw.split([',', ';', '|'])
                            .map(str::trim)
                            .filter(|p| !p.is_empty())
                            .collect()
                    };
                    let mut ids = Vec::new();
                    for l in labels {
                        let f = fold(l);
                        let id = field
                            .options
                            .iter()
                            .find(|o| o.0 == f)
                            .ok_or_else(|| {
                                self.bad(t, format!("{key}: no option is labelled {l:?}"))
                            })?
                            .1;
                        ids.push(id.to_string());
                    }
                    v.option_ids = Some(ids);
                }
            }
            out.push(v);
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// The COMPANY contact of that name (case-insensitive), if any.
    async fn company_named(&self, st: &InTxn<'_>, name: &str) -> AppResult<Option<contact::Model>> {
        let lower: sea_orm::sea_query::Expr = Func::lower(sea_orm::sea_query::Expr::col((
            contact::Entity,
            contact::Column::Name,
        )))
        .into();
        Ok(self
            .run
            .scope_of()
            .find::<contact::Entity>()
            .filter(contact::Column::Kind.eq(ContactKind::Company.as_str()))
            .filter(lower.eq(name.to_lowercase()))
            .order_by_asc(contact::Column::CreatedAt)
            .order_by_asc(contact::Column::Id)
            .one(st.conn())
            .await?)
    }

    /// The COMPANY contact of that name (case-insensitive), created when
    /// missing.
    async fn company(&self, st: &InTxn<'_>, name: &str) -> RowResult<Uuid> {
        if let Some(c) = self.company_named(st, name).await? {
            return Ok(c.id);
        }
        let input = ContactInput {
            kind: ContactKind::Company,
            name: name.to_string(),
            email: None,
            phone: None,
            company_id: None,
            source_id: None,
            tag_ids: None,
            custom_fields: None,
            external_id: None,
        };
        let made = contacts::create(st, self.run.auth, input)
            .await
            .map_err(|e| self.at(&Target::Company, e))?;
        Ok(made.id)
    }

    /// The contact with this email, if any (emails are stored lower-cased).
    async fn by_email(&self, st: &InTxn<'_>, email: &Email) -> AppResult<Option<contact::Model>> {
        Ok(self
            .run
            .scope_of()
            .find::<contact::Entity>()
            .filter(contact::Column::Email.eq(email.as_str()))
            .order_by_asc(contact::Column::CreatedAt)
            .order_by_asc(contact::Column::Id)
            .one(st.conn())
            .await?)
    }

    fn email(&self, cells: &[String], t: &Target) -> RowResult<Option<Email>> {
        self.cell(cells, t)
            .map(|e| Email::parse("email", e).map_err(|e| self.at(t, e)))
            .transpose()
    }
}
