//! Opportunity commands. Every change is a conditional UPDATE on the row's
//! version (never read-then-write), and its history rows are written in
//! the same transaction.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{
    opportunity, opportunity_change, opportunity_contact, opportunity_team, stage_change, tenant,
    user,
};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{
    CreateOpportunityInput, OpportunityContactInput, OpportunityFilter, OpportunityOrder,
    OpportunitySortField, SortDirection, UpdateOpportunityInput, status_mask,
};
use super::query::{ListQuery, contact_condition, search_condition, status_condition};
use crate::auth::{AuthContext, TenantSettings};
use crate::domain::UserId;
use crate::domain::{CurrencyCode, Role};
use crate::error::{AppError, AppResult};
use crate::events::{Event, OpportunityEventKind as Kind};
use crate::modules::contact::service as contacts;
use crate::modules::pipeline::service::{
    find_open_stage, find_pipeline, find_source, find_stage, has_rate,
};
use crate::money::parse_amount;
use crate::pagination::{ListKey, Page, decode_cursor, encode_cursor, page_size, split_page};
use crate::state::{AppState, Store};
use crate::tenancy::{TenantScope, now};

mod bulk;
mod change;
mod create;
mod history;
mod links;
mod moves;
pub use bulk::*;
pub use change::*;
pub use create::*;
pub use history::*;
pub use links::*;
pub use moves::*;

/// An opportunity of the tenant (NOT_FOUND for any other).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<opportunity::Model> {
    scope
        .get::<opportunity::Entity, _>(conn, id, "opportunity")
        .await
}

/// ADMIN and MANAGER change anything; SALES only what it owns or is on the
/// team of.
pub async fn ensure_can_change<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
    o: &opportunity::Model,
) -> AppResult<()> {
    if auth.role != Role::Sales || o.owner_id == auth.user.0 {
        return Ok(());
    }
    let on_team = TenantScope(auth.tenant)
        .find::<opportunity_team::Entity>()
        .filter(opportunity_team::Column::OpportunityId.eq(o.id))
        .filter(opportunity_team::Column::UserId.eq(auth.user.0))
        .count(conn)
        .await?;
    if on_team > 0 {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// An active user of the tenant (NOT_FOUND otherwise, like any foreign ID).
async fn active_user<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: &str,
    field: &'static str,
) -> AppResult<user::Model> {
    let u = scope
        .find_id::<user::Entity>(UserId::parse(id)?.0)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if !u.active {
        return Err(AppError::bad_input(
            field,
            format!("{field} names an inactive user"),
        ));
    }
    Ok(u)
}

/// A title of 1 to 200 characters, trimmed.
pub fn title(raw: &str) -> AppResult<String> {
    crate::domain::required_text("title", raw, 200)
}

fn probability(field: &'static str, p: i32) -> AppResult<i32> {
    crate::domain::percent(field, p)
}

async fn currency<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    settings: &TenantSettings,
    raw: Option<&str>,
) -> AppResult<CurrencyCode> {
    let c = match raw {
        Some(c) => CurrencyCode::parse("currency", c)?,
        None => settings.currency.clone(),
    };
    if !has_rate(conn, scope, settings, &c).await? {
        return Err(AppError::bad_input(
            "currency",
            format!("no exchange rate for {}: set one first", c.as_str()),
        ));
    }
    Ok(c)
}

async fn team_ids<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    ids: &[String],
) -> AppResult<Vec<Uuid>> {
    let mut out = Vec::new();
    for id in ids {
        let u = active_user(conn, scope, id, "teamIds").await?;
        if !out.contains(&u.id) {
            out.push(u.id);
        }
    }
    Ok(out)
}

fn role(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > 100 => Err(AppError::bad_input(
            "role",
            "role must be at most 100 characters",
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// The event of a change `auth` made to `o`.
pub fn event(auth: AuthContext, kind: Kind, o: &opportunity::Model) -> Event {
    Event::opportunity(auth.tenant.0, Some(auth.user.0), kind, o)
}

fn conflict(current: &opportunity::Model) -> AppError {
    AppError::Conflict(format!(
        "the opportunity was changed by someone else: it is now at version {}",
        current.version
    ))
}

/// The currency an amount may be in: the tenant's or one with a rate.
pub async fn usable_currency<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
    settings: &TenantSettings,
    raw: Option<&str>,
) -> AppResult<CurrencyCode> {
    currency(conn, TenantScope(auth.tenant), settings, raw).await
}

fn cents(c: i64) -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(c, 2)
}
