//! Live activity events.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::service::find;
use super::types::Activity;
use crate::auth::ContextAuth;
use crate::domain::OpportunityId;
use crate::domain::TenantId;
use crate::error::{AppError, GqlResult, ToGraphql};
use crate::events::{ActivityEventKind, Event, Subject, load_shared};
use crate::graphql::ContextState;
use crate::modules::account::types::UserGql;
use crate::modules::opportunity::service as opportunities;
use crate::modules::opportunity::types::user_opt;
use crate::tenancy::TenantScope;

/// What happened to an activity.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(
    name = "ActivityEventKind",
    remote = "crate::events::ActivityEventKind"
)]
pub enum ActivityEventKindGql {
    Created,
    Updated,
    Completed,
    /// Raised by the server when an open task's `dueAt` passes.
    BecameOverdue,
    Deleted,
}

/// Something happened to one of your tenant's activities.
pub struct ActivityEvent {
    event: Arc<Event>,
    kind: ActivityEventKind,
    id: Uuid,
    opportunity: Option<Uuid>,
}

#[Object]
impl ActivityEvent {
    async fn kind(&self) -> ActivityEventKindGql {
        self.kind.into()
    }
    async fn activity_id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// Pass it as `after` when you subscribe again to resume right after
    /// this event (and to `changes` to continue from here).
    async fn cursor(&self) -> String {
        crate::events::cursor(self.event.seq)
    }
    /// The activity now; null once it is deleted.
    async fn activity(&self, ctx: &Context<'_>) -> GqlResult<Option<Activity>> {
        let db = &ctx.state()?.db;
        let scope = TenantScope(TenantId(self.event.tenant));
        let row = load_shared(&self.event.loaded.activity, find(db, scope, self.id)).await?;
        Ok(row.map(Activity))
    }
    /// The opportunity whose timeline it is on, if any.
    async fn opportunity_id(&self) -> Option<ID> {
        self.opportunity.map(|o| ID(o.to_string()))
    }
    /// Who caused it; null for events the server raises itself
    /// (BECAME_OVERDUE).
    async fn actor(&self, ctx: &Context<'_>) -> GqlResult<Option<UserGql>> {
        user_opt(ctx, self.event.actor).await
    }
    /// When it was committed.
    async fn at(&self) -> DateTime<Utc> {
        self.event.at
    }
}

#[derive(Default)]
pub struct ActivitySubscription;

#[Subscription]
impl ActivitySubscription {
    /// Changes to your tenant's activities, as they are committed. With
    /// `opportunityId`, only that opportunity's timeline. NOT_FOUND when
    /// the opportunity is not one of your tenant's. Every event carries a
    /// `cursor`: subscribe again with `after` set to the last one you
    /// received and the server first replays what you missed, in order,
    /// then goes live, with no gap and no duplicate. CURSOR_EXPIRED when
    /// `after` is older than the event log keeps.
    async fn activity_events(
        &self,
        ctx: &Context<'_>,
        opportunity_id: Option<ID>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = ActivityEvent> + use<>> {
        let auth = ctx.auth().map_err(|e| e.extend())?;
        let state = ctx.state().map_err(|e| e.extend())?;
        let wanted = match &opportunity_id {
            Some(id) => {
                let id = OpportunityId::parse(id)
                    .map(|i| i.0)
                    .map_err(|e: AppError| e.extend())?;
                Some(
                    opportunities::find(&state.db, TenantScope(auth.tenant), id)
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
                Subject::Activity {
                    kind,
                    id,
                    opportunity,
                } if wanted.is_none_or(|w| *opportunity == Some(w)) => Some(ActivityEvent {
                    kind: *kind,
                    id: *id,
                    opportunity: *opportunity,
                    event: event.clone(),
                }),
                _ => None,
            };
            std::future::ready(item)
        }))
    }
}
