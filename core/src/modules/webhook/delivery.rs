//! What delivery workers record. An endpoint is worked by one worker at a
//! time, whichever instance it runs on: a worker claims it with a lease
//! (on PostgreSQL through `FOR UPDATE SKIP LOCKED`, so workers never wait
//! on one another), delivers the events after its position one by one,
//! and records each attempt. A failure schedules a retry with exponential
//! backoff and jitter; an endpoint failing for longer than
//! `give_up_after` is disabled and its tenant hears of it through a
//! `webhook_endpoint.disabled` event.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

use entity::{webhook_delivery, webhook_endpoint};

use crate::config::WebhookSettings;
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventBus, Subject};
use crate::tenancy::{TenantScope, now};

/// How one attempt ended.
pub struct Attempt {
    pub succeeded: bool,
    pub response_code: Option<i32>,
    pub duration: Duration,
    /// Why it failed, for the delivery log (never the response body).
    pub error: Option<String>,
}

/// Claims one endpoint with work due for `lease`: enabled, behind its
/// tenant's log, not leased by another worker, its retry time reached.
pub async fn claim(
    db: &DatabaseConnection,
    lease: Duration,
) -> AppResult<Option<webhook_endpoint::Model>> {
    let ts = now();
    let until = ts + chrono::Duration::from_std(lease).map_err(AppError::internal)?;
    let backend = db.get_database_backend();
    let (select, update) = match backend {
        DatabaseBackend::Postgres => (
            "SELECT e.id FROM webhook_endpoints e JOIN event_heads h ON h.tenant_id = e.tenant_id \
             WHERE e.enabled AND e.position < h.seq \
             AND (e.lease_until IS NULL OR e.lease_until < $1) \
             AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= $1) \
             ORDER BY e.next_attempt_at NULLS FIRST LIMIT 1 FOR UPDATE OF e SKIP LOCKED",
            "UPDATE webhook_endpoints SET lease_until = $1 WHERE id = $2",
        ),
        _ => (
            "SELECT e.id FROM webhook_endpoints e JOIN event_heads h ON h.tenant_id = e.tenant_id \
             WHERE e.enabled AND e.position < h.seq \
             AND (e.lease_until IS NULL OR e.lease_until < ?) \
             AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= ?) \
             ORDER BY e.next_attempt_at NULLS FIRST LIMIT 1",
            "",
        ),
    };
    if backend != DatabaseBackend::Postgres {
        // SQLite: look without taking the write lock (workers poll it
        // while idle), then claim with a conditional update that only
        // one worker can win
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                select,
                [ts.into(), ts.into()],
            ))
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: Uuid = row.try_get("", "id")?;
        let won = db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE webhook_endpoints SET lease_until = ? WHERE id = ? \
                 AND (lease_until IS NULL OR lease_until < ?)",
                [until.into(), id.into(), ts.into()],
            ))
            .await?
            .rows_affected()
            == 1;
        if !won {
            return Ok(None);
        }
        return Ok(webhook_endpoint::Entity::find_by_id(id).one(db).await?);
    }
    let txn = crate::db::begin_write(db).await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, select, [ts.into()]))
        .await?;
    let Some(row) = row else {
        txn.commit().await?;
        return Ok(None);
    };
    let id: Uuid = row.try_get("", "id")?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        update,
        [until.into(), id.into()],
    ))
    .await?;
    let ep = webhook_endpoint::Entity::find_by_id(id).one(&txn).await?;
    txn.commit().await?;
    Ok(ep)
}

/// Gives the endpoint back (its work is done, or it waits for a retry).
pub async fn release(db: &DatabaseConnection, ep: &webhook_endpoint::Model) -> AppResult<()> {
    scope(ep)
        .update_many::<webhook_endpoint::Entity>()
        .filter(webhook_endpoint::Column::Id.eq(ep.id))
        .col_expr(
            webhook_endpoint::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Moves past events the endpoint does not want.
pub async fn skip_to(
    db: &DatabaseConnection,
    ep: &webhook_endpoint::Model,
    seq: i64,
) -> AppResult<()> {
    scope(ep)
        .update_many::<webhook_endpoint::Entity>()
        .filter(webhook_endpoint::Column::Id.eq(ep.id))
        .filter(webhook_endpoint::Column::Position.lt(seq))
        .col_expr(webhook_endpoint::Column::Position, Expr::value(seq))
        .exec(db)
        .await?;
    Ok(())
}

fn scope(ep: &webhook_endpoint::Model) -> TenantScope {
    TenantScope(TenantId(ep.tenant_id))
}

fn delivery_row(
    ep: &webhook_endpoint::Model,
    event: &Event,
    attempt_no: i32,
    a: &Attempt,
) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(ep.tenant_id),
        endpoint_id: Set(ep.id),
        event_id: Set(event.id),
        event_seq: Set(event.seq),
        event_kind: Set(event.subject.kind_name().to_string()),
        attempt: Set(attempt_no),
        succeeded: Set(a.succeeded),
        response_code: Set(a.response_code),
        duration_ms: Set(i32::try_from(a.duration.as_millis()).unwrap_or(i32::MAX)),
        error: Set(a.error.clone().map(|e| e.chars().take(500).collect())),
        at: Set(now()),
    }
}

/// The delay before retry number `attempt` (1 for the first retry):
/// doubling from `base`, at most an hour, with ±20% jitter so endpoints
/// that failed together do not all come back together.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    let raw = base.saturating_mul(2u32.saturating_pow(exp));
    let capped = raw.min(Duration::from_secs(3_600));
    let mut r = [0u8; 2];
    let _ = getrandom::fill(&mut r);
    let jitter = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX); // 0..1
    capped.mul_f64(0.8 + 0.4 * jitter)
}

/// Records an attempt at `event` and moves the endpoint on: past the
/// event when it succeeded, to a later retry when it failed, or to
/// disabled when it has failed for too long.
pub async fn record(
    db: &DatabaseConnection,
    bus: &Arc<EventBus>,
    policy: &WebhookSettings,
    ep: &webhook_endpoint::Model,
    event: &Event,
    a: &Attempt,
) -> AppResult<()> {
    let ts = now();
    let txn = crate::db::begin_write(db).await?;
    delivery_row(ep, event, ep.attempt.saturating_add(1), a)
        .insert(&txn)
        .await?;
    let update = scope(ep)
        .update_many::<webhook_endpoint::Entity>()
        .filter(webhook_endpoint::Column::Id.eq(ep.id));
    if a.succeeded {
        update
            .col_expr(webhook_endpoint::Column::Position, Expr::value(event.seq))
            .col_expr(webhook_endpoint::Column::Attempt, Expr::value(0))
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook_endpoint::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        return Ok(());
    }
    let since = ep.failing_since.unwrap_or(ts);
    let give_up = chrono::Duration::from_std(policy.give_up_after).map_err(AppError::internal)?;
    let attempt = ep.attempt.saturating_add(1);
    if ts - since >= give_up {
        update
            .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(Some(format!(
                    "disabled after failing for {} hours ({attempt} attempts)",
                    give_up.num_hours()
                ))),
            )
            .col_expr(webhook_endpoint::Column::Attempt, Expr::value(attempt))
            .col_expr(
                webhook_endpoint::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .exec(&txn)
            .await?;
        let mut disabled = Event::new(
            ep.tenant_id,
            None,
            None,
            Subject::WebhookDisabled { id: ep.id },
        );
        disabled.at = ts;
        crate::events::commit_with(bus, txn, vec![disabled]).await?;
        tracing::warn!(endpoint = %ep.id, "webhooks: disabled an endpoint that kept failing");
        return Ok(());
    }
    let next = ts
        + chrono::Duration::from_std(backoff(policy.retry_base, attempt))
            .map_err(AppError::internal)?;
    update
        .col_expr(webhook_endpoint::Column::Attempt, Expr::value(attempt))
        .col_expr(
            webhook_endpoint::Column::FailingSince,
            Expr::value(Some(since)),
        )
        .col_expr(
            webhook_endpoint::Column::NextAttemptAt,
            Expr::value(Some(next)),
        )
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Records a manual redelivery (it does not move the endpoint).
pub async fn record_redelivery(
    db: &DatabaseConnection,
    ep: &webhook_endpoint::Model,
    event: &Event,
    a: &Attempt,
) -> AppResult<webhook_delivery::Model> {
    Ok(delivery_row(ep, event, 0, a).insert(db).await?)
}

/// An endpoint's latest deliveries, newest first.
pub async fn deliveries<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    endpoint: Uuid,
    first: u64,
) -> AppResult<Vec<webhook_delivery::Model>> {
    Ok(scope
        .find::<webhook_delivery::Entity>()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint))
        .order_by_desc(webhook_delivery::Column::At)
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(first)
        .all(conn)
        .await?)
}

pub async fn find_delivery<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<webhook_delivery::Model> {
    scope
        .get::<webhook_delivery::Entity, _>(conn, id, "webhook delivery")
        .await
}

/// The logged event `seq` of the endpoint's tenant, if the log still has it.
pub async fn event<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    seq: i64,
) -> AppResult<Option<Event>> {
    Ok(
        crate::events::log::read_after(conn, tenant, seq.saturating_sub(1), 1, None)
            .await?
            .into_iter()
            .find(|e| e.seq == seq),
    )
}
