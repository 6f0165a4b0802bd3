use crate::graphql::patch;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};

use crate::error::GqlResult;
use crate::loaders::{ContactKey, SourceKey, load_one};
use crate::modules::opportunity::types::OpportunityConnection;
use crate::modules::pipeline::types::SourceGql;
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
}

/// Fields left out stay as they are; `null` clears email, phone or company.
#[derive(InputObject)]
pub struct UpdateContactInput {
    pub name: Option<String>,
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub company_id: MaybeUndefined<ID>,
    pub lifecycle: Option<ContactLifecycle>,
}

#[derive(InputObject, Default)]
pub struct ContactFilter {
    pub kind: Option<ContactKind>,
    pub lifecycle: Option<ContactLifecycle>,
    /// Case-insensitive, on name and email.
    pub search: Option<String>,
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
        }
    }
}

impl From<ContactFilter> for crm_core::modules::contact::model::ContactFilter {
    fn from(i: ContactFilter) -> Self {
        Self {
            kind: i.kind.map(Into::into),
            lifecycle: i.lifecycle.map(Into::into),
            search: i.search,
        }
    }
}
