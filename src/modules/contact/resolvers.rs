use async_graphql::{Context, ID, Object};

use super::service;
use super::types::{
    Contact, ContactConnection, ContactFilter, ContactInput, ContactOrder, UpdateContactInput,
};
use crate::auth::ContextAuth;
use crate::domain::ContactId;
use crate::error::GqlResult;
use crate::graphql::ContextState;
use crate::pagination::connection_complexity;
use crate::tenancy::TenantScope;

#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// Contacts by name (case-insensitive), unless `orderBy` says otherwise.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        filter: Option<ContactFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        order_by: Option<ContactOrder>,
    ) -> GqlResult<ContactConnection> {
        let page = service::list(
            ctx.state()?,
            ctx.auth()?,
            filter.unwrap_or_default().into(),
            order_by.map(Into::into),
            first,
            after,
        )
        .await?;
        Ok(page.into())
    }

    /// NOT_FOUND (and null) when it does not exist in your tenant.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Contact>> {
        let auth = ctx.auth()?;
        let c = service::find(
            &ctx.state()?.db,
            TenantScope(auth.tenant),
            ContactId::parse(&id)?.0,
        )
        .await?;
        Ok(Some(Contact(c)))
    }
}

#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    async fn create_contact(&self, ctx: &Context<'_>, input: ContactInput) -> GqlResult<Contact> {
        Ok(Contact(
            service::create(ctx.state()?, ctx.auth()?, input.into()).await?,
        ))
    }

    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateContactInput,
    ) -> GqlResult<Contact> {
        let id = ContactId::parse(&id)?;
        Ok(Contact(
            service::update(ctx.state()?, ctx.auth()?, id, input.into()).await?,
        ))
    }

    /// ADMIN and MANAGER only. Refused while opportunities reference it.
    async fn delete_contact(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let auth = ctx.auth()?;
        let id = ContactId::parse(&id)?;
        Ok(service::delete(ctx.state()?, auth, id).await?)
    }
}
