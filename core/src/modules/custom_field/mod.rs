//! Custom fields: what a tenant tracks of its own on opportunities and
//! contacts (contract length, product line, region). The only module that
//! writes `custom_fields`, `custom_field_options` and the value tables;
//! `value` holds the values, which the opportunity and contact commands
//! write through `value::set_in` inside their own transactions.
mod filter;
mod read;
pub mod sort;
pub mod value;

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use entity::{custom_field, custom_field_option};

use crate::auth::AuthContext;
use crate::domain::{CustomFieldId, CustomFieldOptionId};
use crate::error::{AppError, AppResult};
use crate::reader::Reader;
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

/// What a field is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldEntity {
    Opportunity,
    Contact,
}

impl FieldEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldEntity::Opportunity => "OPPORTUNITY",
            FieldEntity::Contact => "CONTACT",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "OPPORTUNITY" => Ok(FieldEntity::Opportunity),
            "CONTACT" => Ok(FieldEntity::Contact),
            other => Err(AppError::Internal(
                format!("unknown custom field entity {other:?} in database").into(),
            )),
        }
    }
}

/// The kind of a field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    Text,
    Number,
    Money,
    Date,
    Boolean,
    Select,
    MultiSelect,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "TEXT",
            FieldKind::Number => "NUMBER",
            FieldKind::Money => "MONEY",
            FieldKind::Date => "DATE",
            FieldKind::Boolean => "BOOLEAN",
            FieldKind::Select => "SELECT",
            FieldKind::MultiSelect => "MULTI_SELECT",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        Ok(match s {
            "TEXT" => FieldKind::Text,
            "NUMBER" => FieldKind::Number,
            "MONEY" => FieldKind::Money,
            "DATE" => FieldKind::Date,
            "BOOLEAN" => FieldKind::Boolean,
            "SELECT" => FieldKind::Select,
            "MULTI_SELECT" => FieldKind::MultiSelect,
            other => {
                return Err(AppError::Internal(
                    format!("unknown custom field kind {other:?} in database").into(),
                ));
            }
        })
    }
    pub fn has_options(self) -> bool {
        matches!(self, FieldKind::Select | FieldKind::MultiSelect)
    }
}

/// A field's kind as stored.
pub fn kind_of(f: &custom_field::Model) -> AppResult<FieldKind> {
    FieldKind::from_db(&f.kind)
}

/// At most this many fields per entity, and options per field.
pub const MAX_FIELDS: u64 = 200;
pub const MAX_OPTIONS: usize = 200;

/// A key: 1 to 32 of a-z, 0-9 and `_`, starting with a letter. Stable:
/// inputs, filters and CSV columns name the field by it.
pub fn key(raw: &str) -> AppResult<String> {
    let k = raw.trim();
    let ok = (1..=32).contains(&k.len())
        && k.starts_with(|c: char| c.is_ascii_lowercase())
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(AppError::bad_input(
            "key",
            "key must be 1 to 32 of a-z, 0-9 and _, starting with a letter",
        ));
    }
    Ok(k.to_string())
}

/// 1 to 100 characters, no control characters.
pub fn label(field: &'static str, raw: &str) -> AppResult<String> {
    let l = crate::domain::required_text(field, raw, 100)?;
    if l.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(l)
}

/// What an admin defines.
pub struct NewField {
    pub entity: FieldEntity,
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub position: Option<i32>,
    /// Labels of the choices of a SELECT or MULTI_SELECT, in order.
    pub options: Vec<String>,
}

/// What an admin changes; None leaves it.
#[derive(Default)]
pub struct FieldPatch {
    pub label: Option<String>,
    pub kind: Option<FieldKind>,
    pub required: Option<bool>,
    pub position: Option<i32>,
    pub archived: Option<bool>,
}

/// The fields of the tenant, by entity then position.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    entity: Option<FieldEntity>,
    include_archived: bool,
) -> AppResult<Vec<custom_field::Model>> {
    let mut q = scope.find::<custom_field::Entity>();
    if let Some(e) = entity {
        q = q.filter(custom_field::Column::Entity.eq(e.as_str()));
    }
    if !include_archived {
        q = q.filter(custom_field::Column::Archived.eq(false));
    }
    Ok(q.order_by_asc(custom_field::Column::Entity)
        .order_by_asc(custom_field::Column::Position)
        .order_by_asc(custom_field::Column::Key)
        .all(conn)
        .await?)
}

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: CustomFieldId,
) -> AppResult<custom_field::Model> {
    scope
        .get::<custom_field::Entity, _>(conn, id.0, "custom field")
        .await
}

/// The field with `key` on `entity` (BAD_USER_INPUT naming the key when
/// there is none: keys are the client's own words, not IDs).
pub async fn by_key<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    entity: FieldEntity,
    key: &str,
) -> AppResult<custom_field::Model> {
    scope
        .find::<custom_field::Entity>()
        .filter(custom_field::Column::Entity.eq(entity.as_str()))
        .filter(custom_field::Column::Key.eq(key))
        .one(conn)
        .await?
        .ok_or_else(|| {
            AppError::bad_input("customFields", format!("no custom field with key {key:?}"))
        })
}

/// Defines a field (ADMIN), with its choices.
pub async fn create(
    state: &AppState,
    auth: AuthContext,
    new: NewField,
) -> AppResult<custom_field::Model> {
    let scope = TenantScope(auth.tenant);
    if new.kind.has_options() == new.options.is_empty() && new.kind.has_options() {
        return Err(AppError::bad_input(
            "options",
            "a SELECT or MULTI_SELECT field needs at least one option",
        ));
    }
    if !new.kind.has_options() && !new.options.is_empty() {
        return Err(AppError::bad_input(
            "options",
            "only SELECT and MULTI_SELECT fields have options",
        ));
    }
    if new.options.len() > MAX_OPTIONS {
        return Err(AppError::bad_input(
            "options",
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let existing = scope
        .find::<custom_field::Entity>()
        .filter(custom_field::Column::Entity.eq(new.entity.as_str()))
        .count(&txn)
        .await?;
    if existing >= MAX_FIELDS {
        return Err(AppError::bad_input(
            "entity",
            format!("at most {MAX_FIELDS} custom fields per entity"),
        ));
    }
    let ts = now();
    let position = new
        .position
        .unwrap_or_else(|| i32::try_from(existing).unwrap_or(i32::MAX));
    let field = scope
        .stamp(custom_field::ActiveModel {
            id: Set(Uuid::new_v4()),
            entity: Set(new.entity.as_str().to_string()),
            key: Set(new.key),
            label: Set(new.label),
            kind: Set(new.kind.as_str().to_string()),
            required: Set(new.required),
            position: Set(position),
            archived: Set(false),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(&txn)
        .await?;
    for (i, l) in new.options.into_iter().enumerate() {
        insert_option(
            &txn,
            scope,
            field.id,
            l,
            i32::try_from(i).unwrap_or(i32::MAX),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(field)
}

async fn insert_option<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    field: Uuid,
    label: String,
    position: i32,
) -> AppResult<custom_field_option::Model> {
    Ok(scope
        .stamp(custom_field_option::ActiveModel {
            id: Set(Uuid::new_v4()),
            field_id: Set(field),
            label: Set(label),
            position: Set(position),
            archived: Set(false),
            ..Default::default()
        })
        .insert(conn)
        .await?)
}

/// Changes a field (ADMIN). Its kind can change only while no row has a
/// value for it: values are never converted behind the user's back.
pub async fn update(
    state: &AppState,
    auth: AuthContext,
    id: CustomFieldId,
    patch: FieldPatch,
) -> AppResult<custom_field::Model> {
    let scope = TenantScope(auth.tenant);
    let txn = crate::db::begin_write(&state.db).await?;
    let cur = find(&txn, scope, id).await?;
    let cur_kind = kind_of(&cur)?;
    let mut m: custom_field::ActiveModel = cur.clone().into();
    if let Some(kind) = patch.kind.filter(|k| *k != cur_kind) {
        if value::count_for(&txn, scope, &cur).await? > 0 {
            return Err(AppError::bad_input(
                "kind",
                format!("{} already has values: its kind cannot change", cur.key),
            ));
        }
        if kind.has_options() != cur_kind.has_options() {
            return Err(AppError::bad_input(
                "kind",
                "a field with options and one without cannot change into each other; define a new field",
            ));
        }
        m.kind = Set(kind.as_str().to_string());
    }
    if let Some(l) = patch.label {
        m.label = Set(l);
    }
    if let Some(r) = patch.required {
        m.required = Set(r);
    }
    if let Some(p) = patch.position {
        m.position = Set(p);
    }
    if let Some(a) = patch.archived {
        m.archived = Set(a);
    }
    m.updated_at = Set(now());
    let out = m.update(&txn).await?;
    txn.commit().await?;
    Ok(out)
}

/// Adds a choice at the end of a SELECT or MULTI_SELECT field (ADMIN).
pub async fn add_option(
    state: &AppState,
    auth: AuthContext,
    id: CustomFieldId,
    label: String,
) -> AppResult<custom_field_option::Model> {
    let scope = TenantScope(auth.tenant);
    let txn = crate::db::begin_write(&state.db).await?;
    let field = find(&txn, scope, id).await?;
    if !kind_of(&field)?.has_options() {
        return Err(AppError::bad_input(
            "fieldId",
            "only SELECT and MULTI_SELECT fields have options",
        ));
    }
    let n = scope
        .find::<custom_field_option::Entity>()
        .filter(custom_field_option::Column::FieldId.eq(field.id))
        .count(&txn)
        .await?;
    if n >= MAX_OPTIONS as u64 {
        return Err(AppError::bad_input(
            "label",
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let o = insert_option(
        &txn,
        scope,
        field.id,
        label,
        i32::try_from(n).unwrap_or(i32::MAX),
    )
    .await?;
    txn.commit().await?;
    Ok(o)
}

/// Renames, moves or archives a choice (ADMIN). Rows that have it keep it:
/// an archived choice still shows, it just cannot be chosen again.
pub async fn update_option(
    state: &AppState,
    auth: AuthContext,
    id: CustomFieldOptionId,
    label: Option<String>,
    position: Option<i32>,
    archived: Option<bool>,
) -> AppResult<custom_field_option::Model> {
    let scope = TenantScope(auth.tenant);
    let cur = scope
        .get::<custom_field_option::Entity, _>(&state.db, id.0, "custom field option")
        .await?;
    let mut m: custom_field_option::ActiveModel = cur.into();
    if let Some(l) = label {
        m.label = Set(l);
    }
    if let Some(p) = position {
        m.position = Set(p);
    }
    if let Some(a) = archived {
        m.archived = Set(a);
    }
    Ok(m.update(&state.db).await?)
}

/// The choices of a field, in order (archived ones included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldOptionsKey(pub Uuid);

/// A field by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CustomFieldKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `FieldOptionsKey` loader.
    pub async fn load_field_options(
        &self,
        keys: &[FieldOptionsKey],
    ) -> AppResult<HashMap<FieldOptionsKey, Vec<custom_field_option::Model>>> {
        let rows = self
            .scope
            .find::<custom_field_option::Entity>()
            .filter(custom_field_option::Column::FieldId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(custom_field_option::Column::Position)
            .order_by_asc(custom_field_option::Column::Id)
            .all(&self.state.db)
            .await?;
        let mut out: HashMap<_, Vec<_>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for o in rows {
            out.entry(FieldOptionsKey(o.field_id)).or_default().push(o);
        }
        Ok(out)
    }
}
