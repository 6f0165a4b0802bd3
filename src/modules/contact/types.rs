use crate::graphql::patch;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};

use crate::error::GqlResult;
use crate::loaders::{ContactKey, SourceKey, load_one};
use crate::modules::custom_field::{CustomFieldFilter, CustomFieldValueInput, raw};
use crate::modules::opportunity::types::OpportunityConnection;
use crate::modules::pipeline::types::SourceGql;
use crate::modules::tag::TagFilter;
use crate::pagination::{Connection, Node, connection_complexity};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::contact::model::ContactKind")]
pub enum ContactKind {
    Person,
    Company,
}

/// A contact is a PROSPECT until one of its opportunities is won.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::contact::model::ContactLifecycle")]
pub enum ContactLifecycle {
    Prospect,
    Client,
}

/// A person or a company.
pub struct Contact(pub entity::contact::Model);

#[Object]
impl Contact {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> GqlResult<ContactKind> {
        Ok(crm_core::modules::contact::model::ContactKind::from_db(&self.0.kind)?.into())
    }
    /// Becomes CLIENT when one of its opportunities is won.
    async fn lifecycle(&self) -> GqlResult<ContactLifecycle> {
        Ok(crm_core::modules::contact::model::ContactLifecycle::from_db(&self.0.lifecycle)?.into())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its id in the system it was imported from, if any.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    /// Lower-cased.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The COMPANY a PERSON works for.
    async fn company(&self, ctx: &Context<'_>) -> GqlResult<Option<Contact>> {
        match self.0.company_id {
            Some(id) => Ok(load_one(ctx, ContactKey(id)).await?.map(Contact)),
            None => Ok(None),
        }
    }
    async fn source(&self, ctx: &Context<'_>) -> GqlResult<Option<SourceGql>> {
        match self.0.source_id {
            Some(id) => Ok(load_one(ctx, SourceKey(id)).await?.map(Into::into)),
            None => Ok(None),
        }
    }
    /// The opportunities this contact is on, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn opportunities(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<OpportunityConnection> {
        Ok(
            crate::modules::opportunity::resolvers::contact_opportunities(
                ctx, self.0.id, first, after,
            )
            .await?,
        )
    }
    /// Its tags, by name.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 5)")]
    async fn tags(&self, ctx: &Context<'_>) -> GqlResult<Vec<crate::modules::tag::Tag>> {
        let rows = load_one(ctx, crm_core::modules::tag::ContactTagsKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(crate::modules::tag::Tag).collect())
    }
    /// Its custom-field values, in the fields' order (fields without a
    /// value are left out).
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 10)")]
    async fn custom_fields(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<crate::modules::custom_field::CustomFieldValue>> {
        let values = load_one(
            ctx,
            crm_core::modules::custom_field::value::ContactValuesKey(self.0.id),
        )
        .await?
        .unwrap_or_default();
        Ok(crate::modules::custom_field::CustomFieldValue::from_values(
            values,
            crate::auth::ContextAuth::tenant_settings(ctx)?,
        ))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The contact list.
pub type ContactConnection = Connection<Contact>;

impl Node for Contact {
    type Row = entity::contact::Model;
    fn from_row(row: Self::Row) -> Self {
        Self(row)
    }
}

#[derive(InputObject)]
pub struct ContactInput {
    pub kind: ContactKind,
    /// 1 to 200 characters.
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// A COMPANY contact, for a PERSON.
    pub company_id: Option<ID>,
    pub source_id: Option<ID>,
    pub tag_ids: Option<Vec<ID>>,
    /// Every required contact field needs a value.
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
    /// Its id in the system it comes from (1 to 100 characters), unique
    /// in your tenant: a CSV import matches rows on it.
    pub external_id: Option<String>,
}

/// Fields left out stay as they are; `null` clears email, phone or company.
#[derive(InputObject)]
pub struct UpdateContactInput {
    pub name: Option<String>,
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub company_id: MaybeUndefined<ID>,
    pub lifecycle: Option<ContactLifecycle>,
    /// Replaces every tag.
    pub tag_ids: Option<Vec<ID>>,
    /// Sets the fields named (a value with no member clears it); the
    /// others stay.
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
    /// Its id in the system it comes from, unique in your tenant; `null`
    /// clears it.
    pub external_id: MaybeUndefined<String>,
}

/// What a contacts list is sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::contact::model::ContactSortField")]
pub enum ContactSortField {
    /// Case-insensitive.
    Name,
    /// By the custom field `customFieldKey` names: numbers, amounts and
    /// dates by value, text case-insensitively, options by their position,
    /// NO before YES; contacts without a value come last (first when
    /// descending).
    CustomField,
}

#[derive(InputObject, Clone)]
pub struct ContactOrder {
    pub field: ContactSortField,
    #[graphql(default_with = "Some(crate::modules::opportunity::types::SortDirection::Asc)")]
    pub direction: Option<crate::modules::opportunity::types::SortDirection>,
    /// With `CUSTOM_FIELD`: the key of a contact custom field.
    pub custom_field_key: Option<String>,
}

impl From<ContactOrder> for crm_core::modules::contact::model::ContactOrder {
    fn from(o: ContactOrder) -> Self {
        Self {
            field: o.field.into(),
            descending: o.direction
                == Some(crate::modules::opportunity::types::SortDirection::Desc),
            custom_field_key: o.custom_field_key,
        }
    }
}

#[derive(InputObject, Default)]
pub struct ContactFilter {
    pub kind: Option<ContactKind>,
    pub lifecycle: Option<ContactLifecycle>,
    /// Case-insensitive, on name and email.
    pub search: Option<String>,
    pub tags: Option<TagFilter>,
    /// Every one must pass (at most 10).
    pub custom_fields: Option<Vec<CustomFieldFilter>>,
}

// The GraphQL inputs and enums convert into the domain's at this boundary.

impl From<ContactInput> for crm_core::modules::contact::model::ContactInput {
    fn from(i: ContactInput) -> Self {
        Self {
            kind: i.kind.into(),
            name: i.name,
            email: i.email,
            phone: i.phone,
            company_id: i.company_id.map(|x| x.0),
            source_id: i.source_id.map(|x| x.0),
            tag_ids: i.tag_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
            custom_fields: raw(i.custom_fields),
            external_id: i.external_id,
        }
    }
}

impl From<UpdateContactInput> for crm_core::modules::contact::model::UpdateContactInput {
    fn from(i: UpdateContactInput) -> Self {
        Self {
            name: i.name,
            email: patch(i.email, |x| x),
            phone: patch(i.phone, |x| x),
            company_id: patch(i.company_id, |x| x.0),
            lifecycle: i.lifecycle.map(Into::into),
            tag_ids: i.tag_ids.map(|v| v.into_iter().map(|x| x.0).collect()),
            custom_fields: raw(i.custom_fields),
            external_id: patch(i.external_id, |x| x),
        }
    }
}

impl From<ContactFilter> for crm_core::modules::contact::model::ContactFilter {
    fn from(i: ContactFilter) -> Self {
        let (tags_any, tags_all) = TagFilter::split(i.tags);
        Self {
            kind: i.kind.map(Into::into),
            lifecycle: i.lifecycle.map(Into::into),
            search: i.search,
            tags_any,
            tags_all,
            custom_fields: raw(i.custom_fields),
        }
    }
}
