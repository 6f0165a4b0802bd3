//! Activity queries and commands.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{activity, opportunity, user};
use sea_orm::sea_query::{Alias, Asterisk, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, ExprTrait,
    FromQueryResult, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{
    ActivityFilter, ActivityKind, CreateActivityInput, UpdateActivityInput, kinds_in_mask,
    kinds_mask,
};
use crate::auth::AuthContext;
use crate::domain::Role;
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::events::{ActivityEventKind as Kind, Event};
use crate::modules::contact::service as contacts;
use crate::modules::opportunity::service as opportunities;
use crate::pagination::{
    ListKey, Page, decode_cursor, encode_cursor, page_size, saturating_i64, split_page,
};
use crate::reader::Reader;
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

mod commands;
mod list;
mod loaders;
pub use commands::*;
pub use list::*;
pub use loaders::*;

/// An activity of the tenant (NOT_FOUND for any other).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<activity::Model> {
    scope.get::<activity::Entity, _>(conn, id, "activity").await
}

fn subject(raw: &str) -> AppResult<String> {
    crate::domain::required_text("subject", raw, 200)
}

fn note(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        Some(n) if n.chars().count() > 20_000 => Err(AppError::bad_input(
            "note",
            "note must be at most 20000 characters",
        )),
        Some(n) if n.trim().is_empty() => Ok(None),
        other => Ok(other.map(str::to_string)),
    }
}

/// The times an activity of `kind` may carry, checked against each other.
/// When an activity happens: a TASK is due, an EVENT starts and ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct Times {
    pub due_at: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

fn check_times(kind: ActivityKind, t: Times) -> AppResult<Times> {
    let not_for = |field: &'static str| {
        Err(AppError::bad_input(
            field,
            format!("{field} does not apply to a {}", kind.as_str()),
        ))
    };
    match kind {
        ActivityKind::Task => {
            if t.starts_at.is_some() {
                return not_for("startsAt");
            }
            if t.ends_at.is_some() {
                return not_for("endsAt");
            }
            if t.due_at.is_none() {
                return Err(AppError::bad_input("dueAt", "a TASK needs dueAt"));
            }
            Ok(t)
        }
        ActivityKind::Event => {
            if t.due_at.is_some() {
                return not_for("dueAt");
            }
            let Some(start) = t.starts_at else {
                return Err(AppError::bad_input("startsAt", "an EVENT needs startsAt"));
            };
            let end = t.ends_at.unwrap_or(start + Duration::hours(1));
            if end < start {
                return Err(AppError::bad_input(
                    "endsAt",
                    "endsAt must not be before startsAt",
                ));
            }
            Ok(Times {
                due_at: None,
                starts_at: Some(start),
                ends_at: Some(end),
            })
        }
        ActivityKind::Call | ActivityKind::Note => {
            for (f, v) in [
                ("dueAt", t.due_at),
                ("startsAt", t.starts_at),
                ("endsAt", t.ends_at),
            ] {
                if v.is_some() {
                    return not_for(f);
                }
            }
            Ok(t)
        }
    }
}

fn at_of(t: &Times, created: DateTime<Utc>) -> DateTime<Utc> {
    t.due_at.or(t.starts_at).unwrap_or(created)
}

async fn assignee<C: ConnectionTrait>(conn: &C, scope: TenantScope, id: &str) -> AppResult<Uuid> {
    let u = scope
        .find_id::<user::Entity>(UserId::parse(id)?.0)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if !u.active {
        return Err(AppError::bad_input(
            "assigneeId",
            "assigneeId names an inactive user",
        ));
    }
    Ok(u.id)
}

/// SALES edits only activities it created or is assigned.
fn ensure_own(auth: AuthContext, a: &activity::Model) -> AppResult<()> {
    if auth.role == Role::Sales && a.created_by != auth.user.0 && a.assignee_id != auth.user.0 {
        return Err(AppError::Forbidden);
    }
    Ok(())
}
