//! Outgoing webhook delivery: the workers that read the event log for
//! each endpoint and POST what they find, signed per Standard Webhooks
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`, signed with the
//! official `standardwebhooks` crate). The body carries the event and its
//! subject exactly as the GraphQL API would answer it.
//!
//! Safety: every address a hostname resolves to is checked before the
//! connection (loopback, private, link-local and metadata addresses are
//! refused unless the settings allow private targets); redirects are not
//! followed; each delivery has a 10 s deadline; the response body is never
//! read; secrets are never logged.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{Request, Variables};
use serde_json::{Value, json};

use crate::auth::{AuthContext, TenantSettings};
use crate::config::WebhookSettings;
use crate::domain::{CurrencyCode, Role, TenantId, Timezone, UserId};
use crate::error::{AppError, AppResult};
use crate::events::{Event, Subject};
use crate::graphql::AppSchema;
use crate::state::AppState;
use crm_core::modules::webhook::{self, delivery, delivery::Attempt, target};

/// How long a worker holds an endpoint before another may take it over.
const LEASE: Duration = Duration::from_secs(60);
/// Events delivered per claim before the endpoint is given back.
const PER_CLAIM: u64 = 50;

/// Resolves hostnames for deliveries, refusing addresses webhooks may not
/// reach: checked after DNS, so a public name pointing inside is refused.
struct GuardedResolver(WebhookSettings);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let ok: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match target::allowed(a.ip(), &policy) {
                    Ok(()) => true,
                    Err(why) => {
                        refused = Some(why);
                        false
                    }
                })
                .collect();
            // one forbidden address is enough to refuse the name
            if let Some(why) = refused {
                return Err(why.into());
            }
            if ok.is_empty() {
                return Err(format!("{host} did not resolve").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(ok.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of deliveries.
pub fn client(policy: &WebhookSettings) -> AppResult<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
        .no_proxy()
        .user_agent("crm-server-webhooks/1")
        .dns_resolver(Arc::new(GuardedResolver(policy.clone())))
        .build()
        .map_err(AppError::internal)
}

pub struct Deliverer {
    pub state: Arc<AppState>,
    pub schema: AppSchema,
    pub client: reqwest::Client,
}

/// Starts `settings.workers` delivery workers on this instance, and makes
/// the sender available to `redeliverWebhook`.
pub fn spawn_workers(state: Arc<AppState>, schema: AppSchema) -> AppResult<()> {
    let workers = state.webhooks.workers;
    let d = Arc::new(Deliverer {
        client: client(&state.webhooks)?,
        state: state.clone(),
        schema,
    });
    let _ = state.webhook_sender.set(d.clone());
    for _ in 0..workers {
        let d = d.clone();
        tokio::spawn(crate::clock::run_on(d.state.clock, async move {
            d.run().await;
        }));
    }
    Ok(())
}

impl Deliverer {
    async fn run(&self) {
        let commits = self.state.events.commits();
        loop {
            // asks for the next commit before looking, so none is missed
            let woken = commits.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match delivery::claim(&self.state.db, LEASE).await {
                Ok(Some(ep)) => {
                    if let Err(e) = self.work(&ep).await {
                        tracing::warn!(error = %e, endpoint = %ep.id, "webhooks: delivery round failed");
                    }
                    if let Err(e) = delivery::release(&self.state.db, &ep).await {
                        tracing::warn!(error = %e, "webhooks: could not release an endpoint");
                    }
                }
                Ok(None) => {
                    // a retry comes due, or a commit wakes us
                    let _ = tokio::time::timeout(Duration::from_millis(500), woken).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: could not claim work");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Delivers the endpoint's events after its position, in order, until
    /// one fails (it is retried later) or a round's worth is done.
    async fn work(&self, ep: &entity::webhook_endpoint::Model) -> AppResult<()> {
        let db = &self.state.db;
        let wanted = webhook::wanted(ep);
        let events =
            crate::events::log::read_after(db, ep.tenant_id, ep.position, PER_CLAIM, None).await?;
        let mut ep = ep.clone();
        for e in events {
            let kind = e.subject.kind_name();
            if wanted
                .as_ref()
                .is_some_and(|w| !w.iter().any(|k| k == kind))
            {
                delivery::skip_to(db, &ep, e.seq).await?;
                ep.position = e.seq;
                continue;
            }
            let attempt = self.send(&ep, &e).await;
            let ok = attempt.succeeded;
            delivery::record(
                db,
                &self.state.events,
                &self.state.webhooks,
                &ep,
                &e,
                &attempt,
            )
            .await?;
            if !ok {
                return Ok(());
            }
            ep.position = e.seq;
            ep.attempt = 0;
            ep.failing_since = None;
        }
        Ok(())
    }

    /// One signed POST of `event` to `ep`.
    pub async fn send(&self, ep: &entity::webhook_endpoint::Model, event: &Event) -> Attempt {
        let started = Instant::now();
        let failed = |error: String, code: Option<i32>| Attempt {
            succeeded: false,
            response_code: code,
            duration: started.elapsed(),
            error: Some(error),
        };
        let body = match self.body(ep, event).await {
            Ok(b) => b,
            Err(e) => return failed(format!("could not render the event: {}", e.code()), None),
        };
        let url = match reqwest::Url::parse(&ep.url) {
            Ok(u) => u,
            Err(_) => return failed("the endpoint URL does not parse".into(), None),
        };
        // literal addresses never reach the resolver
        if let Some(ip) = url.host_str().and_then(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .ok()
        }) && let Err(why) = target::allowed(ip, &self.state.webhooks)
        {
            return failed(why, None);
        }
        let timestamp = chrono::Utc::now().timestamp();
        let msg_id = format!("msg_{}", event.id.simple());
        let secrets =
            match webhook::signing_secrets(&self.state.webhook_key, ep, chrono::Utc::now()) {
                Ok(s) => s,
                Err(_) => return failed("the endpoint secret could not be read".into(), None),
            };
        let mut signatures = Vec::new();
        for s in secrets {
            match standardwebhooks::Webhook::new(&s)
                .and_then(|w| w.sign(&msg_id, timestamp, body.as_bytes()))
            {
                Ok(sig) => signatures.push(sig),
                Err(_) => return failed("the endpoint secret could not sign".into(), None),
            }
        }
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &msg_id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(
                standardwebhooks::HEADER_WEBHOOK_SIGNATURE,
                signatures.join(" "),
            )
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let code = i32::from(resp.status().as_u16());
                // the body is never read: a hostile endpoint cannot make
                // us buffer anything
                drop(resp);
                if (200..300).contains(&code) {
                    Attempt {
                        succeeded: true,
                        response_code: Some(code),
                        duration: started.elapsed(),
                        error: None,
                    }
                } else {
                    failed(format!("the endpoint answered {code}"), Some(code))
                }
            }
            Err(e) if e.is_timeout() => failed(
                format!(
                    "no answer within {} ms",
                    self.state.webhooks.timeout.as_millis()
                ),
                None,
            ),
            Err(e) => failed(describe(&e), None),
        }
    }

    /// The JSON body: `{ type, timestamp, data }`, `data` holding the
    /// event and its subject as the API answers it now (null once gone).
    async fn body(&self, ep: &entity::webhook_endpoint::Model, event: &Event) -> AppResult<String> {
        let subject = self.subject(ep, event).await?;
        let (subject_type, key) = match event.subject {
            Subject::Opportunity { .. } => ("OPPORTUNITY", "opportunity"),
            Subject::Activity { .. } => ("ACTIVITY", "activity"),
            Subject::WebhookDisabled { .. } => ("WEBHOOK_ENDPOINT", "webhookEndpoint"),
            Subject::ImportJob { .. } => ("IMPORT_JOB", "importJob"),
        };
        let mut data = json!({
            "eventId": event.id.to_string(),
            "sequence": event.seq,
            "cursor": crate::events::cursor(event.seq),
            "subjectType": subject_type,
            "subjectId": event.subject.id().to_string(),
            "version": event.version,
            "actorId": event.actor.map(|a| a.to_string()),
            "at": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if let Value::Object(m) = &mut data {
            m.insert(key.into(), subject);
        }
        let body = json!({
            "type": event.subject.kind_name(),
            "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data,
        });
        serde_json::to_string(&body).map_err(AppError::internal)
    }

    /// The subject through the GraphQL API, read as the endpoint's tenant
    /// (with an admin's view, in the name of the admin who registered it).
    async fn subject(
        &self,
        ep: &entity::webhook_endpoint::Model,
        event: &Event,
    ) -> AppResult<Value> {
        let (query, field) = match event.subject {
            Subject::Opportunity { .. } => (OPPORTUNITY, "opportunity"),
            Subject::Activity { .. } => (ACTIVITY, "activity"),
            Subject::WebhookDisabled { .. } => (ENDPOINT, "webhookEndpoint"),
            Subject::ImportJob { .. } => (IMPORT, "importJob"),
        };
        let auth = AuthContext {
            user: UserId(ep.created_by),
            tenant: TenantId(ep.tenant_id),
            role: Role::Admin,
        };
        let tenant = crate::modules::account::service::tenant(&self.state, auth).await?;
        let settings = TenantSettings {
            currency: CurrencyCode::parse("currency", &tenant.currency)?,
            timezone: Timezone::parse("timezone", &tenant.timezone)?,
        };
        let settle = crate::loaders::Settle::default();
        let req = Request::new(query).variables(Variables::from_json(
            json!({ "id": event.subject.id().to_string() }),
        ));
        let req =
            crate::http::request::request_data(&self.state, Some((auth, settings)), &settle, req);
        let run = crate::tenancy::RequestTenant {
            tenant: Some(auth.tenant),
            app_filter: self.state.tenant_filter,
        };
        let schema = self.schema.clone();
        let resp = crate::tenancy::run_as(
            run,
            settle.settling(async move { schema.execute(req).await }),
        )
        .await;
        if !resp.errors.is_empty() {
            // a subject deleted since is null; anything else is a failure
            let gone = resp.errors.iter().all(|e| {
                e.extensions
                    .as_ref()
                    .and_then(|x| x.get("code"))
                    .is_some_and(|c| c.to_string().contains("NOT_FOUND"))
            });
            if !gone {
                return Err(AppError::internal(std::io::Error::other(
                    "the event's subject could not be rendered",
                )));
            }
        }
        let data = resp.data.into_json().map_err(AppError::internal)?;
        Ok(data.get(field).cloned().unwrap_or(Value::Null))
    }
}

fn describe(e: &reqwest::Error) -> String {
    // the innermost cause says what went wrong (a refused address, a
    // refused connection); never the URL's query string
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let what = if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    format!("{what}: {cause}")
}

const OPPORTUNITY: &str = "query($id: ID!) { opportunity(id: $id) { id reference title status \
    pipeline { id name } stage { id name } probability potential { amount currency } \
    weightedPotential { amount currency } dueDate owner { id name email } source { id name } \
    primaryContact { id name } lostReason closedAt createdAt updatedAt version } }";
const ACTIVITY: &str = "query($id: ID!) { activity(id: $id) { id kind subject note done dueAt \
    startsAt endsAt completedAt opportunity { id } contact { id } assignee { id name } createdAt } }";
const IMPORT: &str = "query($id: ID!) { importJob(id: $id) { id status percent processedRows totalRows createdCount updatedCount errorCount } }";
const ENDPOINT: &str =
    "query($id: ID!) { webhookEndpoint(id: $id) { id url enabled disabledReason } }";
