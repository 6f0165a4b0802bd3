use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::{AppError, AppResult, GqlResult};
use crate::loaders::{ContactKey, SourceKey, load_one};
use crate::modules::opportunity::types::OpportunityConnection;
use crate::modules::pipeline::types::SourceGql;
use crate::pagination::{PageInfo, connection_complexity, count_i32};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactKind {
    Person,
    Company,
}

/// A contact is a PROSPECT until one of its opportunities is won.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactLifecycle {
    Prospect,
    Client,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "PERSON",
            Self::Company => "COMPANY",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "PERSON" => Ok(Self::Person),
            "COMPANY" => Ok(Self::Company),
            _ => Err(AppError::Internal(
                format!("unknown contact kind {s:?}").into(),
            )),
        }
    }
}

impl ContactLifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prospect => "PROSPECT",
            Self::Client => "CLIENT",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "PROSPECT" => Ok(Self::Prospect),
            "CLIENT" => Ok(Self::Client),
            _ => Err(AppError::Internal(
                format!("unknown lifecycle {s:?}").into(),
            )),
        }
    }
}

/// A person or a company.
pub struct Contact(pub entity::contact::Model);

#[Object]
impl Contact {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> GqlResult<ContactKind> {
        Ok(ContactKind::from_db(&self.0.kind)?)
    }
    /// Becomes CLIENT when one of its opportunities is won.
    async fn lifecycle(&self) -> GqlResult<ContactLifecycle> {
        Ok(ContactLifecycle::from_db(&self.0.lifecycle)?)
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

#[derive(SimpleObject)]
pub struct ContactEdge {
    pub cursor: String,
    pub node: Contact,
}

pub struct ContactConnection {
    pub edges: Vec<(String, entity::contact::Model)>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

#[Object]
impl ContactConnection {
    async fn edges(&self) -> Vec<ContactEdge> {
        self.edges
            .iter()
            .map(|(c, m)| ContactEdge {
                cursor: c.clone(),
                node: Contact(m.clone()),
            })
            .collect()
    }
    async fn nodes(&self) -> Vec<Contact> {
        self.edges.iter().map(|(_, m)| Contact(m.clone())).collect()
    }
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// Every match, not just this page.
    async fn total_count(&self) -> i32 {
        count_i32(self.total_count)
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
