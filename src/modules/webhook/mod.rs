//! Outgoing webhooks as GraphQL shows them: an ADMIN registers endpoints,
//! reads their delivery log and redelivers.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, RoleGuard};
use crate::domain::{WebhookDeliveryId, WebhookEndpointId};
use crate::error::{AppError, GqlResult};
use crate::graphql::ContextState;
use crate::modules::changes::EventKind;
use crate::tenancy::TenantScope;
use crm_core::modules::webhook as service;
use entity::{webhook_delivery, webhook_endpoint};

/// A URL your server receives events at, signed per Standard Webhooks.
pub struct WebhookEndpoint(webhook_endpoint::Model);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The kinds it receives; null for every kind.
    async fn event_kinds(&self) -> Option<Vec<EventKind>> {
        service::wanted(&self.0).map(|k| k.iter().filter_map(|n| EventKind::from_name(n)).collect())
    }
    /// False once an admin disabled it, or the server did after it kept
    /// failing (`disabledReason` says which). Enabling it again delivers
    /// what it missed, oldest first.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Failed attempts at its next event (0 when all is well).
    async fn failed_attempts(&self) -> i32 {
        self.0.attempt
    }
    /// When the next retry is due, while it is failing.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Its latest delivery attempts, newest first; `first` is 1..100.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> GqlResult<Vec<WebhookDelivery>> {
        if !(1..=100).contains(&first) {
            return Err(AppError::bad_input("first", "first must be 1 to 100").into());
        }
        let scope = TenantScope(ctx.auth()?.tenant);
        let rows = service::delivery::deliveries(
            &ctx.state()?.db,
            scope,
            self.0.id,
            u64::try_from(first).unwrap_or(20),
        )
        .await?;
        Ok(rows.into_iter().map(WebhookDelivery).collect())
    }
}

/// One attempt to deliver one event.
pub struct WebhookDelivery(webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The `webhook-id` header's event (the same across retries).
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }
    async fn event_kind(&self) -> Option<EventKind> {
        EventKind::from_name(&self.0.event_kind)
    }
    /// The event's place in your tenant's log (as in `changes`).
    async fn sequence(&self) -> i64 {
        self.0.event_seq
    }
    /// 1 for the first try; 0 for a manual redelivery.
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    /// Answered 2xx within 10 s.
    async fn succeeded(&self) -> bool {
        self.0.succeeded
    }
    /// The HTTP status answered, if any came.
    async fn response_code(&self) -> Option<i32> {
        self.0.response_code
    }
    async fn duration_ms(&self) -> i32 {
        self.0.duration_ms
    }
    /// Why it failed, in a few words.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A new endpoint and its signing secret. The secret (`whsec_...`) is
/// shown this once: verify deliveries with it (any Standard Webhooks
/// library does).
#[derive(SimpleObject)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// https only (plain http only where the server allows it for
    /// development); never a loopback, private, link-local or metadata
    /// address.
    pub url: String,
    /// Up to 500 characters.
    pub description: Option<String>,
    /// The kinds to receive; omit for every kind.
    pub event_kinds: Option<Vec<EventKind>>,
}

#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    pub url: Option<String>,
    pub description: Option<String>,
    /// An empty list is refused; null leaves them as they are.
    pub event_kinds: Option<Vec<EventKind>>,
    /// Receive every kind again.
    pub all_event_kinds: Option<bool>,
    pub enabled: Option<bool>,
}

fn kind_names(kinds: Option<Vec<EventKind>>) -> GqlResult<Option<Vec<String>>> {
    Ok(kinds
        .map(|k| service::kinds(k.into_iter().map(|k| k.name().to_string()).collect()))
        .transpose()?)
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Your tenant's webhook endpoints, oldest first (ADMIN).
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> GqlResult<Vec<WebhookEndpoint>> {
        let rows = service::list(&ctx.state()?.db, TenantScope(ctx.auth()?.tenant)).await?;
        Ok(rows.into_iter().map(WebhookEndpoint).collect())
    }

    /// One endpoint (ADMIN); NOT_FOUND when it is not your tenant's.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> GqlResult<WebhookEndpoint> {
        let id = WebhookEndpointId::parse(&id)?;
        let ep = service::find(&ctx.state()?.db, TenantScope(ctx.auth()?.tenant), id.0).await?;
        Ok(WebhookEndpoint(ep))
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint (ADMIN). It receives the events committed
    /// from now on, in order, at least once: a failed delivery is retried
    /// with exponential backoff for up to a day, then the endpoint is
    /// disabled (a WEBHOOK_ENDPOINT_DISABLED change tells you).
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> GqlResult<WebhookEndpointWithSecret> {
        let state = ctx.state()?;
        let new = service::NewEndpoint {
            url: service::WebhookUrl::parse(&input.url, &state.webhooks)?,
            description: service::description(input.description.as_deref().unwrap_or(""))?,
            kinds: kind_names(input.event_kinds)?,
        };
        let (endpoint, secret) = service::create(state, ctx.auth()?, new).await?;
        Ok(WebhookEndpointWithSecret {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Edits an endpoint (ADMIN).
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> GqlResult<WebhookEndpoint> {
        let state = ctx.state()?;
        let id = WebhookEndpointId::parse(&id)?;
        let kinds = match (input.all_event_kinds, input.event_kinds) {
            (Some(true), Some(_)) => {
                return Err(AppError::bad_input(
                    "allEventKinds",
                    "give eventKinds or allEventKinds, not both",
                )
                .into());
            }
            (Some(true), None) => Some(None),
            (_, k) => kind_names(k)?.map(Some),
        };
        let patch = service::EndpointPatch {
            url: input
                .url
                .map(|u| service::WebhookUrl::parse(&u, &state.webhooks))
                .transpose()?,
            description: input
                .description
                .map(|d| service::description(&d))
                .transpose()?,
            kinds,
            enabled: input.enabled,
        };
        Ok(WebhookEndpoint(
            service::update(state, ctx.auth()?, id.0, patch).await?,
        ))
    }

    /// Deletes an endpoint and its delivery log (ADMIN).
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let id = WebhookEndpointId::parse(&id)?;
        Ok(service::delete(ctx.state()?, ctx.auth()?, id.0).await?)
    }

    /// Replaces an endpoint's secret (ADMIN), shown this once. For
    /// `overlapHours` (0..168, default 24) deliveries carry signatures by
    /// both secrets, so the receiver can switch without losing any.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 24)] overlap_hours: i32,
    ) -> GqlResult<WebhookEndpointWithSecret> {
        if !(0..=168).contains(&overlap_hours) {
            return Err(
                AppError::bad_input("overlapHours", "overlapHours must be 0 to 168").into(),
            );
        }
        let id = WebhookEndpointId::parse(&id)?;
        let (endpoint, secret) = service::rotate_secret(
            ctx.state()?,
            ctx.auth()?,
            id.0,
            chrono::Duration::hours(i64::from(overlap_hours)),
        )
        .await?;
        Ok(WebhookEndpointWithSecret {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Sends a delivery's event to its endpoint again, now (ADMIN), and
    /// answers the new attempt. NOT_FOUND once the event is older than the
    /// event log keeps.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> GqlResult<WebhookDelivery> {
        let state = ctx.state()?;
        let scope = TenantScope(ctx.auth()?.tenant);
        let id = WebhookDeliveryId::parse(&delivery_id)?;
        let d = service::delivery::find_delivery(&state.db, scope, id.0).await?;
        let ep = service::find(&state.db, scope, d.endpoint_id).await?;
        let event = service::delivery::event(&state.db, ep.tenant_id, d.event_seq)
            .await?
            .ok_or(AppError::NotFound("webhook event"))?;
        let deliverer = state
            .webhook_sender
            .get()
            .and_then(|d| d.clone().downcast::<crate::webhooks::Deliverer>().ok())
            .ok_or(AppError::Unavailable {
                retry_after_secs: 5,
            })?;
        let attempt = deliverer.send(&ep, &event).await;
        let row = service::delivery::record_redelivery(&state.db, &ep, &event, &attempt).await?;
        Ok(WebhookDelivery(row))
    }
}
