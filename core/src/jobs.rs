//! Background jobs of one instance.
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::error::AppResult;
use crate::events::{Event, EventBus};
use crate::modules::activity::service::claim_became_overdue;
use crate::modules::opportunity::service::claim_became_late;

/// Raises BECAME_LATE and BECAME_OVERDUE every `interval`. The first sweep
/// runs one interval after start (clients have reconnected by then) and
/// raises what passed while no instance was running: the marks in the
/// database tell what was already raised.
pub fn spawn_sweeper(
    db: DatabaseConnection,
    bus: Arc<EventBus>,
    interval: Duration,
    retention: Duration,
    clock: crate::clock::Clock,
) {
    tokio::spawn(crate::clock::run_on(clock, async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&db, &bus).await {
                tracing::error!(error = %e, "events: the due-date sweep failed; retrying next tick");
            }
            if let Err(e) = prune(&db, retention).await {
                tracing::error!(error = %e, "events: pruning the log failed; retrying next tick");
            }
        }
    }));
}

/// Transitions claimed per statement: a backlog (after a long downtime)
/// is worked off in short transactions rather than one long one.
const BATCH: u64 = 500;

/// One sweep: claims and announces every pending transition, a batch per
/// transaction. Claiming a transition (setting its mark) and announcing it
/// commit together on PostgreSQL, where NOTIFY is transactional: every
/// claimed transition is announced exactly once, whichever instance
/// claims it. SQLite delivers in-process right after the commit.
pub async fn sweep(db: &DatabaseConnection, bus: &Arc<EventBus>) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let txn = crate::db::begin_write(db).await?;
        let late = claim_became_late(&txn, BATCH).await?;
        let overdue = claim_became_overdue(&txn, BATCH).await?;
        let full = late.len() as u64 >= BATCH || overdue.len() as u64 >= BATCH;
        let events: Vec<Event> = late.into_iter().chain(overdue).collect();
        // each tenant's events take that tenant's next numbers
        let mut by_tenant: std::collections::BTreeMap<uuid::Uuid, Vec<Event>> = Default::default();
        for e in events {
            by_tenant.entry(e.tenant).or_default().push(e);
        }
        for list in by_tenant.values_mut() {
            total += list.len();
            crate::events::log::record(&txn, list).await?;
        }
        txn.commit().await?;
        for tenant in by_tenant.keys() {
            bus.committed(*tenant);
        }
        if !full {
            break;
        }
    }
    if total > 0 {
        tracing::info!(events = total, "events: raised due-date transitions");
    }
    Ok(total)
}

/// Deletes the log entries older than `retention`, tenant by tenant, a
/// batch per statement. A cursor older than what is left is answered
/// CURSOR_EXPIRED (the client refetches).
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> AppResult<u64> {
    let Ok(age) = chrono::Duration::from_std(retention) else {
        return Ok(0);
    };
    let Some(before) = crate::tenancy::now().checked_sub_signed(age) else {
        return Ok(0);
    };
    let mut total = 0;
    for tenant in crate::events::log::tenants(db).await? {
        loop {
            let n = crate::events::log::prune(db, tenant, before, 5_000).await?;
            total += n;
            if n < 5_000 {
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(events = total, "events: pruned the log");
    }
    Ok(total)
}
