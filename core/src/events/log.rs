//! The event log: the only module that writes `events` and `event_heads`.
//!
//! A command records its events on its own transaction; the next sequence
//! number comes from an upsert on the tenant's `event_heads` row, which
//! holds that row's lock until the transaction ends. So a tenant's events
//! are numbered without gaps, in the order their changes committed, and a
//! rolled-back change leaves neither its events nor a hole.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use entity::{event, event_head};

use super::{Event, Loaded, Subject};
use crate::error::{AppError, AppResult};

/// Records `events` (all of one tenant) on `conn`, which should be the
/// transaction of the change they describe. Fills in their sequence
/// numbers.
pub async fn record<C: ConnectionTrait>(conn: &C, events: &mut [Event]) -> AppResult<()> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let tenant = first.tenant;
    if events.iter().any(|e| e.tenant != tenant) {
        return Err(AppError::internal(std::io::Error::other(
            "events of several tenants recorded together",
        )));
    }
    let n = i64::try_from(events.len()).map_err(AppError::internal)?;
    let head = event_head::Entity::insert(event_head::ActiveModel {
        tenant_id: Set(tenant),
        seq: Set(n),
    })
    .on_conflict(
        OnConflict::column(event_head::Column::TenantId)
            .value(
                event_head::Column::Seq,
                Expr::col((event_head::Entity, event_head::Column::Seq)).add(n),
            )
            .to_owned(),
    )
    .exec_with_returning(conn)
    .await?;
    let mut seq = head.seq - n;
    let mut rows = Vec::with_capacity(events.len());
    for e in events.iter_mut() {
        seq += 1;
        e.seq = seq;
        rows.push(event::ActiveModel {
            tenant_id: Set(tenant),
            seq: Set(seq),
            id: Set(e.id),
            kind: Set(e.subject.kind_name().to_string()),
            subject_id: Set(e.subject.id()),
            subject_version: Set(e.version),
            actor_id: Set(e.actor),
            request_id: Set(e.request),
            at: Set(e.at),
            data: Set(serde_json::to_string(&e.subject).map_err(AppError::internal)?),
        });
    }
    event::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// Up to `limit` of `tenant`'s events after `after`, in sequence order,
/// optionally only those of the given kinds.
pub async fn read_after<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    after: i64,
    limit: u64,
    kinds: Option<&[&str]>,
) -> AppResult<Vec<Event>> {
    let mut select = event::Entity::find()
        .filter(event::Column::TenantId.eq(tenant))
        .filter(event::Column::Seq.gt(after));
    if let Some(kinds) = kinds {
        select = select.filter(event::Column::Kind.is_in(kinds.iter().copied()));
    }
    let rows = select
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter().map(from_row).collect()
}

/// `tenant`'s last sequence number (0 before its first event).
pub async fn head<C: ConnectionTrait>(conn: &C, tenant: Uuid) -> AppResult<i64> {
    Ok(event_head::Entity::find_by_id(tenant)
        .one(conn)
        .await?
        .map_or(0, |h| h.seq))
}

/// The last sequence numbers of `tenants` (those with a log), in one
/// statement.
pub async fn heads<C: ConnectionTrait>(conn: &C, tenants: &[Uuid]) -> AppResult<Vec<(Uuid, i64)>> {
    Ok(event_head::Entity::find()
        .filter(event_head::Column::TenantId.is_in(tenants.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|h| (h.tenant_id, h.seq))
        .collect())
}

/// Checks a client's cursor against `tenant`'s log: ahead of the log (a
/// cursor of another tenant's, or made up) is BAD_USER_INPUT naming
/// `field`; older than the log keeps is CURSOR_EXPIRED.
pub async fn check_cursor<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    after: i64,
    field: &'static str,
) -> AppResult<()> {
    if after > head(conn, tenant).await? {
        return Err(AppError::bad_input(
            field,
            format!("{field} is ahead of your tenant's events: it is not one of your cursors"),
        ));
    }
    if !covers(conn, tenant, after).await? {
        return Err(AppError::CursorExpired);
    }
    Ok(())
}

/// Whether reading after `after` still sees every later event: false
/// once retention has removed some of them.
pub async fn covers<C: ConnectionTrait>(conn: &C, tenant: Uuid, after: i64) -> AppResult<bool> {
    let oldest: Option<i64> = event::Entity::find()
        .select_only()
        .column_as(event::Column::Seq.min(), "m")
        .filter(event::Column::TenantId.eq(tenant))
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    let next = match oldest {
        Some(seq) => seq,
        None => head(conn, tenant).await?.saturating_add(1),
    };
    Ok(after.saturating_add(1) >= next)
}

/// Deletes `tenant`'s events recorded before `before`, at most `limit` of
/// them (the oldest); answers how many went.
pub async fn prune<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    before: DateTime<Utc>,
    limit: u64,
) -> AppResult<u64> {
    let last: Option<i64> = event::Entity::find()
        .select_only()
        .column(event::Column::Seq)
        .filter(event::Column::TenantId.eq(tenant))
        .filter(event::Column::At.lt(before))
        .order_by_asc(event::Column::Seq)
        .offset(limit.saturating_sub(1))
        .limit(1)
        .into_tuple::<i64>()
        .one(conn)
        .await?;
    let mut delete = event::Entity::delete_many()
        .filter(event::Column::TenantId.eq(tenant))
        .filter(event::Column::At.lt(before));
    if let Some(last) = last {
        delete = delete.filter(event::Column::Seq.lte(last));
    }
    Ok(delete.exec(conn).await?.rows_affected)
}

/// The tenants that have a log.
pub async fn tenants<C: ConnectionTrait>(conn: &C) -> AppResult<Vec<Uuid>> {
    Ok(event_head::Entity::find()
        .select_only()
        .column(event_head::Column::TenantId)
        .into_tuple::<Uuid>()
        .all(conn)
        .await?)
}

fn from_row(row: event::Model) -> AppResult<Event> {
    let subject: Subject = serde_json::from_str(&row.data).map_err(AppError::internal)?;
    Ok(Event {
        seq: row.seq,
        id: row.id,
        tenant: row.tenant_id,
        actor: row.actor_id,
        request: row.request_id,
        at: row.at,
        version: row.subject_version,
        subject,
        loaded: Loaded::default(),
    })
}
