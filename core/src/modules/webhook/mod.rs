//! Outgoing webhooks (Standard Webhooks 1.0): a tenant's endpoints and
//! their delivery log. The only module that writes `webhook_endpoints`
//! and `webhook_deliveries`. An endpoint reads its tenant's event log
//! from its own position, so deliveries come in sequence order, at least
//! once; `delivery` holds what the workers do.
pub mod delivery;
pub mod secret;
pub mod target;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use entity::webhook_endpoint;

use crate::auth::AuthContext;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

pub use target::WebhookUrl;

/// What an admin registers.
pub struct NewEndpoint {
    pub url: WebhookUrl,
    pub description: String,
    /// None: every kind.
    pub kinds: Option<Vec<String>>,
}

/// What an admin changes; None leaves a field as it is.
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<WebhookUrl>,
    pub description: Option<String>,
    /// Some(None) goes back to every kind.
    pub kinds: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

/// 0 to 500 characters, trimmed.
pub fn description(raw: &str) -> AppResult<String> {
    let d = raw.trim();
    if d.chars().count() > 500 {
        return Err(AppError::bad_input(
            "description",
            "description must be at most 500 characters",
        ));
    }
    Ok(d.to_string())
}

/// Kind names, checked and deduplicated; at least one.
pub fn kinds(names: Vec<String>) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !crate::events::KIND_NAMES.contains(&n.as_str()) {
            return Err(AppError::bad_input(
                "eventKinds",
                format!("unknown event kind {n}"),
            ));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        return Err(AppError::bad_input(
            "eventKinds",
            "name at least one event kind, or omit eventKinds for all",
        ));
    }
    Ok(out)
}

fn kinds_json(kinds: Option<&Vec<String>>) -> AppResult<Option<String>> {
    kinds
        .map(|k| serde_json::to_string(k).map_err(AppError::internal))
        .transpose()
}

/// The kinds an endpoint wants; None for all.
pub fn wanted(ep: &webhook_endpoint::Model) -> Option<Vec<String>> {
    ep.event_kinds
        .as_deref()
        .and_then(|k| serde_json::from_str(k).ok())
}

/// Registers an endpoint; answers it and its secret (shown this once).
/// It hears of events committed from now on.
pub async fn create(
    state: &AppState,
    auth: AuthContext,
    new: NewEndpoint,
) -> AppResult<(webhook_endpoint::Model, String)> {
    let secret = secret::generate()?;
    let ts = now();
    let position = crate::events::log::head(&state.db, auth.tenant.0).await?;
    let ep = TenantScope(auth.tenant)
        .stamp(webhook_endpoint::ActiveModel {
            id: Set(Uuid::new_v4()),
            url: Set(new.url.as_str().to_string()),
            description: Set(new.description),
            event_kinds: Set(kinds_json(new.kinds.as_ref())?),
            enabled: Set(true),
            disabled_reason: Set(None),
            secret_enc: Set(secret::seal(&state.webhook_key, &secret)?),
            old_secret_enc: Set(None),
            old_secret_until: Set(None),
            position: Set(position),
            attempt: Set(0),
            failing_since: Set(None),
            next_attempt_at: Set(None),
            lease_until: Set(None),
            created_by: Set(auth.user.0),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(&state.db)
        .await?;
    Ok((ep, secret))
}

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<webhook_endpoint::Model> {
    scope
        .get::<webhook_endpoint::Entity, _>(conn, id, "webhook endpoint")
        .await
}

/// The tenant's endpoints, oldest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
) -> AppResult<Vec<webhook_endpoint::Model>> {
    Ok(scope
        .find::<webhook_endpoint::Entity>()
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(conn)
        .await?)
}

/// Edits an endpoint. Enabling a disabled one resumes where it stopped
/// (what it missed is delivered, oldest first) with its failures
/// forgotten.
pub async fn update(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    patch: EndpointPatch,
) -> AppResult<webhook_endpoint::Model> {
    let scope = TenantScope(auth.tenant);
    let cur = find(&state.db, scope, id).await?;
    let mut update = scope
        .update_many::<webhook_endpoint::Entity>()
        .filter(webhook_endpoint::Column::Id.eq(id))
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now()));
    if let Some(url) = patch.url {
        update = update.col_expr(
            webhook_endpoint::Column::Url,
            Expr::value(url.as_str().to_string()),
        );
    }
    if let Some(d) = patch.description {
        update = update.col_expr(webhook_endpoint::Column::Description, Expr::value(d));
    }
    if let Some(k) = patch.kinds {
        update = update.col_expr(
            webhook_endpoint::Column::EventKinds,
            Expr::value(kinds_json(k.as_ref())?),
        );
    }
    if let Some(enabled) = patch.enabled.filter(|e| *e != cur.enabled) {
        update = update
            .col_expr(webhook_endpoint::Column::Enabled, Expr::value(enabled))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(webhook_endpoint::Column::Attempt, Expr::value(0))
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook_endpoint::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
        if !enabled {
            update = update.col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(Some("disabled by an admin".to_string())),
            );
        }
    }
    update.exec(&state.db).await?;
    find(&state.db, scope, id).await
}

pub async fn delete(state: &AppState, auth: AuthContext, id: Uuid) -> AppResult<bool> {
    let res = TenantScope(auth.tenant)
        .delete_many::<webhook_endpoint::Entity>()
        .filter(webhook_endpoint::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    Ok(true)
}

/// Replaces an endpoint's secret; the old one keeps signing too (both
/// signatures are sent) for `overlap`, so the receiver can switch.
/// Answers the endpoint and the new secret (shown this once).
pub async fn rotate_secret(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    overlap: chrono::Duration,
) -> AppResult<(webhook_endpoint::Model, String)> {
    let scope = TenantScope(auth.tenant);
    let cur = find(&state.db, scope, id).await?;
    let fresh = secret::generate()?;
    let ts = now();
    let keep_old = overlap > chrono::Duration::zero();
    scope
        .update_many::<webhook_endpoint::Entity>()
        .filter(webhook_endpoint::Column::Id.eq(id))
        .col_expr(
            webhook_endpoint::Column::SecretEnc,
            Expr::value(secret::seal(&state.webhook_key, &fresh)?),
        )
        .col_expr(
            webhook_endpoint::Column::OldSecretEnc,
            Expr::value(keep_old.then_some(cur.secret_enc)),
        )
        .col_expr(
            webhook_endpoint::Column::OldSecretUntil,
            Expr::value(keep_old.then(|| ts + overlap)),
        )
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(ts))
        .exec(&state.db)
        .await?;
    Ok((find(&state.db, scope, id).await?, fresh))
}

/// The secrets that sign a delivery now: the current one, and the
/// previous one during its overlap.
pub fn signing_secrets(
    key: &[u8; 32],
    ep: &webhook_endpoint::Model,
    at: DateTime<Utc>,
) -> AppResult<Vec<String>> {
    let mut out = vec![secret::open(key, &ep.secret_enc)?];
    if let (Some(old), Some(until)) = (&ep.old_secret_enc, ep.old_secret_until)
        && until > at
    {
        out.push(secret::open(key, old)?);
    }
    Ok(out)
}
