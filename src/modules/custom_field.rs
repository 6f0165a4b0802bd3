//! Custom fields as GraphQL shows them: definitions (ADMIN), and values
//! typed in the schema (a union member per kind), never an untyped blob.
use async_graphql::{Context, Enum, ID, InputObject, Object, Union};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, RoleGuard, TenantSettings};
use crate::domain::{CustomFieldId, CustomFieldOptionId};
use crate::error::{AppError, GqlResult};
use crate::graphql::ContextState;
use crate::loaders::load_one;
use crate::money::Money;
use crate::scalars::{Date, Decimal};
use crate::tenancy::TenantScope;
use crm_core::modules::custom_field::{self as service, FieldOptionsKey, value};

/// What a custom field is on.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::custom_field::FieldEntity")]
pub enum CustomFieldEntity {
    Opportunity,
    Contact,
}

/// The kind of a custom field's values.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::custom_field::FieldKind")]
pub enum CustomFieldKind {
    /// Up to 500 characters.
    Text,
    /// Exact to 4 decimals.
    Number,
    /// In the tenant currency, to the cent.
    Money,
    Date,
    Boolean,
    /// One of the field's options.
    Select,
    /// Any of the field's options.
    MultiSelect,
}

/// A field a tenant tracks of its own on opportunities or contacts.
pub struct CustomField(pub entity::custom_field::Model);

#[Object]
impl CustomField {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Stable: inputs, filters and CSV columns name the field by it.
    async fn key(&self) -> &str {
        &self.0.key
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    async fn entity(&self) -> GqlResult<CustomFieldEntity> {
        Ok(service::FieldEntity::from_db(&self.0.entity)?.into())
    }
    async fn kind(&self) -> GqlResult<CustomFieldKind> {
        Ok(service::kind_of(&self.0)?.into())
    }
    /// New rows must have a value; existing ones cannot clear theirs.
    async fn required(&self) -> bool {
        self.0.required
    }
    /// Where forms and tables show it, ascending.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// Hidden from values and refused in inputs; its values are kept.
    async fn archived(&self) -> bool {
        self.0.archived
    }
    /// The choices of a SELECT or MULTI_SELECT field, in order, archived
    /// ones included (they stay on the rows that have them).
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 20)")]
    async fn options(&self, ctx: &Context<'_>) -> GqlResult<Vec<CustomFieldOption>> {
        let rows = load_one(ctx, FieldOptionsKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(CustomFieldOption).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One choice of a SELECT or MULTI_SELECT field.
#[derive(Clone)]
pub struct CustomFieldOption(pub entity::custom_field_option::Model);

#[Object]
impl CustomFieldOption {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// Cannot be chosen again; rows that have it keep it.
    async fn archived(&self) -> bool {
        self.0.archived
    }
}

/// A TEXT value.
pub struct TextValue(String);
#[Object]
impl TextValue {
    async fn text(&self) -> &str {
        &self.0
    }
}
/// A NUMBER value.
pub struct NumberValue(rust_decimal::Decimal);
#[Object]
impl NumberValue {
    async fn number(&self) -> Decimal {
        Decimal(self.0)
    }
}
/// A MONEY value, in the tenant currency.
pub struct MoneyValue(Money);
#[Object]
impl MoneyValue {
    async fn money(&self) -> &Money {
        &self.0
    }
}
/// A DATE value.
pub struct DateValue(chrono::NaiveDate);
#[Object]
impl DateValue {
    async fn date(&self) -> Date {
        Date(self.0)
    }
}
/// A BOOLEAN value.
pub struct BooleanValue(bool);
#[Object]
impl BooleanValue {
    async fn boolean(&self) -> bool {
        self.0
    }
}
/// A SELECT value.
pub struct SelectValue(CustomFieldOption);
#[Object]
impl SelectValue {
    async fn option(&self) -> &CustomFieldOption {
        &self.0
    }
}
/// A MULTI_SELECT value: its options in the field's order.
pub struct MultiSelectValue(Vec<CustomFieldOption>);
#[Object]
impl MultiSelectValue {
    async fn options(&self) -> &[CustomFieldOption] {
        &self.0
    }
}

/// A custom field's value, one member per kind.
#[derive(Union)]
pub enum CustomValue {
    Text(TextValue),
    Number(NumberValue),
    Money(MoneyValue),
    Date(DateValue),
    Boolean(BooleanValue),
    Select(SelectValue),
    MultiSelect(MultiSelectValue),
}

/// One custom field's value on a row (fields without a value are left
/// out; archived fields too).
pub struct CustomFieldValue {
    field: CustomField,
    value: CustomValue,
}

#[Object]
impl CustomFieldValue {
    async fn field(&self) -> &CustomField {
        &self.field
    }
    async fn value(&self) -> &CustomValue {
        &self.value
    }
}

impl CustomFieldValue {
    /// The GraphQL form of loaded values (a stored value its kind cannot
    /// read is left out rather than failing the row).
    pub fn from_values(values: Vec<value::FieldValue>, settings: &TenantSettings) -> Vec<Self> {
        use service::FieldKind as K;
        values
            .into_iter()
            .filter_map(|v| {
                let kind = service::kind_of(&v.field).ok()?;
                let first = v.cells.first()?.clone();
                let value = match kind {
                    K::Text => CustomValue::Text(TextValue(first.text?)),
                    K::Number => CustomValue::Number(NumberValue(value::number(first.num?))),
                    K::Money => CustomValue::Money(MoneyValue(Money::from_cents(
                        first.num?,
                        settings.currency.as_str(),
                    ))),
                    K::Date => CustomValue::Date(DateValue(first.date?)),
                    K::Boolean => CustomValue::Boolean(BooleanValue(first.num? == 1)),
                    K::Select => CustomValue::Select(SelectValue(CustomFieldOption(
                        v.options.first()?.clone(),
                    ))),
                    K::MultiSelect => CustomValue::MultiSelect(MultiSelectValue(
                        v.options.into_iter().map(CustomFieldOption).collect(),
                    )),
                };
                Some(Self {
                    field: CustomField(v.field),
                    value,
                })
            })
            .collect()
    }
}

/// A value to write, by field key: set the member the field's kind takes
/// (`text`, `number`, `amount`, `date`, `boolean` or `optionIds`), or
/// none of them to clear the field. A wrong member, an unknown key or
/// option, or a bad value is BAD_USER_INPUT naming the key.
#[derive(InputObject, Clone, Debug)]
pub struct CustomFieldValueInput {
    pub key: String,
    pub text: Option<String>,
    pub number: Option<Decimal>,
    /// MONEY, in the tenant currency.
    pub amount: Option<Decimal>,
    pub date: Option<Date>,
    pub boolean: Option<bool>,
    /// SELECT: one option id; MULTI_SELECT: any number.
    pub option_ids: Option<Vec<ID>>,
}

impl From<CustomFieldValueInput> for value::RawValue {
    fn from(i: CustomFieldValueInput) -> Self {
        Self {
            key: i.key,
            text: i.text,
            number: i.number.map(|d| d.0),
            amount: i.amount.map(|d| d.0),
            date: i.date.map(|d| d.0),
            boolean: i.boolean,
            option_ids: i.option_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
        }
    }
}

/// Rows whose value of the field `key` passes: `equals` (TEXT, exact),
/// `min`/`max` (NUMBER, MONEY; inclusive), `from`/`to` (DATE; inclusive),
/// `boolean`, `anyOptionIds` (SELECT, MULTI_SELECT: has one of them), or
/// `isSet` (has a value, or with false has none).
#[derive(InputObject, Clone, Debug)]
pub struct CustomFieldFilter {
    pub key: String,
    pub equals: Option<String>,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub boolean: Option<bool>,
    pub any_option_ids: Option<Vec<ID>>,
    pub is_set: Option<bool>,
}

impl From<CustomFieldFilter> for value::RawFilter {
    fn from(i: CustomFieldFilter) -> Self {
        Self {
            key: i.key,
            equals: i.equals,
            min: i.min.map(|d| d.0),
            max: i.max.map(|d| d.0),
            from: i.from.map(|d| d.0),
            to: i.to.map(|d| d.0),
            boolean: i.boolean,
            any_option_ids: i
                .any_option_ids
                .map(|v| v.into_iter().map(|x| x.0).collect()),
            is_set: i.is_set,
        }
    }
}

/// Converts a list of GraphQL inputs into the domain's.
pub fn raw<I, T: From<I>>(v: Option<Vec<I>>) -> Option<Vec<T>> {
    v.map(|v| v.into_iter().map(Into::into).collect())
}

#[derive(InputObject)]
pub struct CreateCustomFieldInput {
    pub entity: CustomFieldEntity,
    /// 1 to 32 of a-z, 0-9 and _, starting with a letter; unique per entity.
    pub key: String,
    /// 1 to 100 characters.
    pub label: String,
    pub kind: CustomFieldKind,
    #[graphql(default)]
    pub required: bool,
    /// Default: after the others.
    pub position: Option<i32>,
    /// The choices of a SELECT or MULTI_SELECT field, in order.
    pub options: Option<Vec<String>>,
}

/// Fields left out stay as they are. The kind can change only while no
/// row has a value (and not between kinds with and without options).
#[derive(InputObject)]
pub struct UpdateCustomFieldInput {
    pub label: Option<String>,
    pub kind: Option<CustomFieldKind>,
    pub required: Option<bool>,
    pub position: Option<i32>,
    pub archived: Option<bool>,
}

/// Fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateCustomFieldOptionInput {
    pub label: Option<String>,
    pub position: Option<i32>,
    pub archived: Option<bool>,
}

#[derive(Default)]
pub struct CustomFieldQuery;

#[Object]
impl CustomFieldQuery {
    /// The tenant's custom fields, by entity then position.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 50)")]
    async fn custom_fields(
        &self,
        ctx: &Context<'_>,
        entity: Option<CustomFieldEntity>,
        #[graphql(default)] include_archived: bool,
    ) -> GqlResult<Vec<CustomField>> {
        let scope = TenantScope(ctx.auth()?.tenant);
        let rows = service::list(
            &ctx.state()?.db,
            scope,
            entity.map(Into::into),
            include_archived,
        )
        .await?;
        Ok(rows.into_iter().map(CustomField).collect())
    }
}

#[derive(Default)]
pub struct CustomFieldMutation;

fn option_labels(raw: Option<Vec<String>>) -> Result<Vec<String>, AppError> {
    raw.unwrap_or_default()
        .iter()
        .map(|l| service::label("options", l))
        .collect()
}

#[Object]
impl CustomFieldMutation {
    /// ADMIN only.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn create_custom_field(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomFieldInput,
    ) -> GqlResult<CustomField> {
        let new = service::NewField {
            entity: input.entity.into(),
            key: service::key(&input.key)?,
            label: service::label("label", &input.label)?,
            kind: input.kind.into(),
            required: input.required,
            position: input.position,
            options: option_labels(input.options)?,
        };
        Ok(CustomField(
            service::create(ctx.state()?, ctx.auth()?, new).await?,
        ))
    }

    /// ADMIN only.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_custom_field(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCustomFieldInput,
    ) -> GqlResult<CustomField> {
        let id = CustomFieldId::parse(&id)?;
        let patch = service::FieldPatch {
            label: input
                .label
                .as_deref()
                .map(|l| service::label("label", l))
                .transpose()?,
            kind: input.kind.map(Into::into),
            required: input.required,
            position: input.position,
            archived: input.archived,
        };
        Ok(CustomField(
            service::update(ctx.state()?, ctx.auth()?, id, patch).await?,
        ))
    }

    /// Adds a choice at the end of a SELECT or MULTI_SELECT field. ADMIN only.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn add_custom_field_option(
        &self,
        ctx: &Context<'_>,
        field_id: ID,
        label: String,
    ) -> GqlResult<CustomFieldOption> {
        let id = CustomFieldId::parse(&field_id)?;
        let label = service::label("label", &label)?;
        Ok(CustomFieldOption(
            service::add_option(ctx.state()?, ctx.auth()?, id, label).await?,
        ))
    }

    /// Renames, moves or archives a choice; rows that have it keep it.
    /// ADMIN only.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_custom_field_option(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCustomFieldOptionInput,
    ) -> GqlResult<CustomFieldOption> {
        let id = CustomFieldOptionId::parse(&id)?;
        let label = input
            .label
            .as_deref()
            .map(|l| service::label("label", l))
            .transpose()?;
        Ok(CustomFieldOption(
            service::update_option(
                ctx.state()?,
                ctx.auth()?,
                id,
                label,
                input.position,
                input.archived,
            )
            .await?,
        ))
    }
}
