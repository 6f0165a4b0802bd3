//! Live opportunity events.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::service::find;
use super::types::{Opportunity, user_opt};
use crate::auth::ContextAuth;
use crate::domain::PipelineId;
use crate::domain::TenantId;
use crate::error::{AppError, GqlResult, ToGraphql};
use crate::events::{Event, OpportunityEventKind, Subject, load_shared};
use crate::graphql::ContextState;
use crate::modules::account::types::UserGql;
use crate::modules::pipeline::service::find_pipeline;
use crate::tenancy::TenantScope;

/// What happened to an opportunity.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(
    name = "OpportunityEventKind",
    remote = "crate::events::OpportunityEventKind"
)]
pub enum OpportunityEventKindGql {
    Created,
    Updated,
    /// Moved to another stage (possibly of another pipeline).
    StageChanged,
    Won,
    Lost,
    Reopened,
    /// Raised by the server when an open opportunity's due date passes in
    /// the tenant's time zone.
    BecameLate,
    Deleted,
}

/// Something happened to one of your tenant's opportunities. The event
/// carries ids; `opportunity` resolves the opportunity as it is when the
/// event is delivered.
pub struct OpportunityEvent {
    event: Arc<Event>,
    kind: OpportunityEventKind,
    id: Uuid,
}

#[Object]
impl OpportunityEvent {
    async fn kind(&self) -> OpportunityEventKindGql {
        self.kind.into()
    }
    async fn opportunity_id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// Pass it as `after` when you subscribe again to resume right after
    /// this event (and to `changes` to continue from here).
    async fn cursor(&self) -> String {
        crate::events::cursor(self.event.seq)
    }
    /// The opportunity now; null once it is deleted.
    async fn opportunity(&self, ctx: &Context<'_>) -> GqlResult<Option<Opportunity>> {
        let db = &ctx.state()?.db;
        let scope = TenantScope(TenantId(self.event.tenant));
        let row = load_shared(&self.event.loaded.opportunity, find(db, scope, self.id)).await?;
        Ok(row.map(Opportunity))
    }
    /// Who caused it; null for events the server raises itself (BECAME_LATE)
    /// and for opportunities created through intake.
    async fn actor(&self, ctx: &Context<'_>) -> GqlResult<Option<UserGql>> {
        user_opt(ctx, self.event.actor).await
    }
    /// When it was committed.
    async fn at(&self) -> DateTime<Utc> {
        self.event.at
    }
}

#[derive(Default)]
pub struct OpportunitySubscription;

#[Subscription]
impl OpportunitySubscription {
    /// Changes to your tenant's opportunities, as they are committed.
    /// With `pipelineId`, only that pipeline's board: an opportunity moved
    /// out of it is included (with the new pipeline). NOT_FOUND when the
    /// pipeline is not one of your tenant's. Every event carries a
    /// `cursor`: subscribe again with `after` set to the last one you
    /// received and the server first replays what you missed, in order,
    /// then goes live, with no gap and no duplicate. CURSOR_EXPIRED when
    /// `after` is older than the event log keeps: refetch, then subscribe
    /// without it.
    async fn opportunity_events(
        &self,
        ctx: &Context<'_>,
        pipeline_id: Option<ID>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = OpportunityEvent> + use<>> {
        let auth = ctx.auth().map_err(|e| e.extend())?;
        let state = ctx.state().map_err(|e| e.extend())?;
        let wanted = match &pipeline_id {
            Some(id) => {
                let id = PipelineId::parse(id)
                    .map(|i| i.0)
                    .map_err(|e: AppError| e.extend())?;
                Some(
                    find_pipeline(&state.db, TenantScope(auth.tenant), id)
                        .await
                        .map_err(|e| e.extend())?
                        .id,
                )
            }
            None => None,
        };
        let events = crate::modules::changes::follow(ctx, after.as_deref()).await?;
        Ok(events.filter_map(move |event| {
            let item = match &event.subject {
                Subject::Opportunity {
                    kind,
                    id,
                    pipeline,
                    left_pipeline,
                } if wanted.is_none_or(|w| *pipeline == w || *left_pipeline == Some(w)) => {
                    Some(OpportunityEvent {
                        kind: *kind,
                        id: *id,
                        event: event.clone(),
                    })
                }
                _ => None,
            };
            std::future::ready(item)
        }))
    }
}
