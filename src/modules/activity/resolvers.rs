use async_graphql::{Context, ID, Object};

use super::types::{
    Activity, ActivityConnection, ActivityFilter, CreateActivityInput, Document, DocumentInput,
    UpdateActivityInput, UpdateDocumentInput,
};
use super::{calendar, documents, service};
use crate::auth::ContextAuth;
use crate::domain::{ActivityId, DocumentId};
use crate::error::GqlResult;
use crate::graphql::ContextState;
use crate::pagination::connection_complexity;
use crate::tenancy::TenantScope;

#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// Activities by when they happen (dueAt, startsAt or createdAt by
    /// kind), soonest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<ActivityConnection> {
        Ok(service::list(
            ctx.state()?,
            ctx.auth()?,
            filter.unwrap_or_default().into(),
            first,
            after,
        )
        .await?
        .into())
    }

    /// NOT_FOUND (and null) when it does not exist in your tenant.
    async fn activity(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Activity>> {
        let auth = ctx.auth()?;
        let a = service::find(
            &ctx.state()?.db,
            TenantScope(auth.tenant),
            ActivityId::parse(&id)?.0,
        )
        .await?;
        Ok(Some(Activity(a)))
    }

    /// Your secret iCalendar feed URL (events and open tasks assigned to
    /// you), or null while it is off. Anyone with the URL can read the
    /// feed: rotate it if it leaks.
    async fn calendar_feed_url(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(calendar::url(ctx.state()?, ctx.auth()?).await?)
    }
}

#[derive(Default)]
pub struct ActivityMutation;

#[Object]
impl ActivityMutation {
    /// A TASK needs dueAt; an EVENT needs startsAt (endsAt defaults to one
    /// hour later); a CALL or NOTE is done when created unless
    /// `done: false`. SALES may add activities only to opportunities it can
    /// change.
    async fn create_activity(
        &self,
        ctx: &Context<'_>,
        input: CreateActivityInput,
    ) -> GqlResult<Activity> {
        Ok(Activity(
            service::create(ctx.state()?, ctx.auth()?, input.into()).await?,
        ))
    }

    /// SALES may edit only activities it created or is assigned.
    async fn update_activity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateActivityInput,
    ) -> GqlResult<Activity> {
        let id = ActivityId::parse(&id)?;
        Ok(Activity(
            service::update(ctx.state()?, ctx.auth()?, id, input.into()).await?,
        ))
    }

    async fn complete_activity(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Activity> {
        let id = ActivityId::parse(&id)?;
        Ok(Activity(
            service::set_done(ctx.state()?, ctx.auth()?, id, true).await?,
        ))
    }

    async fn reopen_activity(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Activity> {
        let id = ActivityId::parse(&id)?;
        Ok(Activity(
            service::set_done(ctx.state()?, ctx.auth()?, id, false).await?,
        ))
    }

    async fn delete_activity(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let id = ActivityId::parse(&id)?;
        service::delete(ctx.state()?, ctx.auth()?, id).await?;
        Ok(true)
    }

    /// Starts in DRAFT. `useAsPotential` copies amount and currency into the
    /// opportunity's potential in the same transaction.
    async fn create_document(
        &self,
        ctx: &Context<'_>,
        input: DocumentInput,
    ) -> GqlResult<Document> {
        Ok(Document(
            documents::create(
                ctx.state()?,
                ctx.auth()?,
                ctx.tenant_settings()?,
                input.into(),
            )
            .await?,
        ))
    }

    async fn update_document(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDocumentInput,
    ) -> GqlResult<Document> {
        let id = DocumentId::parse(&id)?;
        Ok(Document(
            documents::update(ctx.state()?, ctx.auth()?, id, input.into()).await?,
        ))
    }

    async fn delete_document(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let id = DocumentId::parse(&id)?;
        Ok(documents::delete(ctx.state()?, ctx.auth()?, id).await?)
    }

    /// Turns your calendar feed on with a new secret URL (the old one stops
    /// working) and returns it.
    async fn rotate_calendar_feed(&self, ctx: &Context<'_>) -> GqlResult<String> {
        Ok(calendar::rotate(ctx.state()?, ctx.auth()?).await?)
    }

    /// Turns your calendar feed off: its URL answers 404.
    async fn disable_calendar_feed(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        Ok(calendar::disable(ctx.state()?, ctx.auth()?).await?)
    }
}
