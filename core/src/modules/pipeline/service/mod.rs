//! Admin setup of pipelines, stages, sources and exchange rates.
use std::collections::HashSet;

use entity::{exchange_rate, pipeline, source, stage};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::{CreatePipelineInput, StageInput, UpdatePipelineInput, UpdateStageInput};
use crate::auth::{AuthContext, TenantSettings};
use crate::domain::{CurrencyCode, Name};
use crate::error::{AppError, AppResult};
use crate::money::parse_rate;
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

mod rates;
mod sources;
mod stages;
pub use rates::*;
pub use sources::*;
pub use stages::*;

pub const DEFAULT_STAGES: [(&str, i32); 3] = [
    ("Request received", 10),
    ("Quote sent", 50),
    ("Quote signed", 100),
];
pub const DEFAULT_SOURCES: [&str; 5] = [
    "Website form",
    "Email campaign",
    "Trade show",
    "Referral",
    "Phone",
];

fn short_name(field: &'static str, raw: &str) -> AppResult<String> {
    let n = Name::parse(field, raw)?.into_inner();
    if n.chars().count() > 100 {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be 1 to 100 characters"),
        ));
    }
    Ok(n)
}

fn probability(field: &'static str, p: i32) -> AppResult<i32> {
    crate::domain::percent(field, p)
}

fn rotten_days(field: &'static str, d: Option<i32>) -> AppResult<Option<i32>> {
    match d {
        Some(d) if d < 1 => Err(AppError::bad_input(
            field,
            format!("{field} must be at least 1"),
        )),
        other => Ok(other),
    }
}

/// A position as stored (a 32-bit `INTEGER`), from an index or a count.
/// No tenant holds 2^31 pipelines or stages; were one to, refusing beats
/// writing a wrapped, negative position.
fn stored_position(n: impl TryInto<i32>) -> AppResult<i32> {
    n.try_into()
        .map_err(|_| AppError::Conflict("too many entries to number their positions".into()))
}

async fn insert_pipeline<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    name: String,
    stages: Vec<ValidStage>,
) -> AppResult<pipeline::Model> {
    let position = stored_position(scope.find::<pipeline::Entity>().count(conn).await?)?;
    let ts = now();
    let p = scope
        .stamp(pipeline::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name),
            position: Set(position),
            archived: Set(false),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(conn)
        .await
        .map_err(|e| {
            AppError::from_unique(e, || {
                AppError::bad_input("name", "a pipeline with this name already exists")
            })
        })?;
    for (i, s) in stages.into_iter().enumerate() {
        insert_stage(conn, scope, p.id, stored_position(i)?, s).await?;
    }
    Ok(p)
}

/// What a new tenant starts with, so that it can work at once.
pub async fn seed_defaults<C: ConnectionTrait>(conn: &C, scope: TenantScope) -> AppResult<()> {
    let stages = DEFAULT_STAGES
        .iter()
        .map(|(n, p)| ValidStage {
            name: (*n).into(),
            probability: *p,
            rotten_after_days: None,
        })
        .collect();
    insert_pipeline(conn, scope, "Sales".into(), stages).await?;
    let ts = now();
    let rows: Vec<source::ActiveModel> = DEFAULT_SOURCES
        .iter()
        .map(|n| {
            scope.stamp(source::ActiveModel {
                id: Set(Uuid::new_v4()),
                name: Set((*n).into()),
                archived: Set(false),
                created_at: Set(ts),
                ..Default::default()
            })
        })
        .collect();
    source::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// The tenant's pipelines in order; archived ones only when asked for.
pub async fn pipelines(
    state: &AppState,
    auth: AuthContext,
    include_archived: bool,
) -> AppResult<Vec<pipeline::Model>> {
    let mut q = TenantScope(auth.tenant).find::<pipeline::Entity>();
    if !include_archived {
        q = q.filter(pipeline::Column::Archived.eq(false));
    }
    Ok(q.order_by_asc(pipeline::Column::Position)
        .order_by_asc(pipeline::Column::Id)
        .all(&state.db)
        .await?)
}

/// A pipeline of the tenant (NOT_FOUND for any other).
pub async fn find_pipeline<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<pipeline::Model> {
    one_pipeline(conn, scope.find_id::<pipeline::Entity>(id)).await
}

async fn one_pipeline<C: ConnectionTrait>(
    conn: &C,
    select: sea_orm::Select<pipeline::Entity>,
) -> AppResult<pipeline::Model> {
    select
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("pipeline"))
}

/// The pipeline, row-locked until the transaction ends: commands that
/// renumber or rename its stages take turns on it, so positions stay a
/// sequence and names stay unique under concurrent requests (SQLite's
/// write transactions are exclusive already).
async fn lock_pipeline<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<pipeline::Model> {
    one_pipeline(conn, scope.find_id::<pipeline::Entity>(id).lock_exclusive()).await
}

/// Creates a pipeline with its ordered stages (at least one): a pipeline
/// without stages could hold no opportunity.
pub async fn create_pipeline(
    state: &AppState,
    auth: AuthContext,
    input: CreatePipelineInput,
) -> AppResult<pipeline::Model> {
    let scope = TenantScope(auth.tenant);
    let name = short_name("name", &input.name)?;
    if input.stages.is_empty() {
        return Err(AppError::bad_input(
            "stages",
            "a pipeline needs at least one stage",
        ));
    }
    let stages = input
        .stages
        .iter()
        .map(validate_stage)
        .collect::<AppResult<Vec<_>>>()?;
    let mut seen = HashSet::new();
    if !stages.iter().all(|s| seen.insert(s.name.to_lowercase())) {
        return Err(AppError::bad_input(
            "stages",
            "stage names must be unique within the pipeline",
        ));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let p = insert_pipeline(&txn, scope, name, stages).await?;
    txn.commit().await?;
    Ok(p)
}

/// Renames a pipeline or moves it among the tenant's pipelines.
pub async fn update_pipeline(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::PipelineId,
    input: UpdatePipelineInput,
) -> AppResult<pipeline::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let name = input
        .name
        .as_deref()
        .map(|n| short_name("name", n))
        .transpose()?;
    let txn = crate::db::begin_write(&state.db).await?;
    let p = find_pipeline(&txn, scope, id).await?;
    let mut update = scope
        .update_many::<pipeline::Entity>()
        .col_expr(pipeline::Column::UpdatedAt, Expr::value(now()))
        .filter(pipeline::Column::Id.eq(p.id));
    if let Some(n) = name {
        update = update.col_expr(pipeline::Column::Name, Expr::value(n));
    }
    update.exec(&txn).await.map_err(|e| {
        AppError::from_unique(e, || {
            AppError::bad_input("name", "a pipeline with this name already exists")
        })
    })?;
    if let Some(pos) = input.position {
        let mut all: Vec<Uuid> = scope
            .find::<pipeline::Entity>()
            .order_by_asc(pipeline::Column::Position)
            .order_by_asc(pipeline::Column::Id)
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| p.id)
            .filter(|pid| *pid != p.id)
            .collect();
        // a negative position fails the conversion to usize
        let at = match usize::try_from(pos) {
            Ok(at) if at <= all.len() => at,
            _ => {
                return Err(AppError::bad_input(
                    "position",
                    format!("position must be between 0 and {}", all.len()),
                ));
            }
        };
        all.insert(at, p.id);
        for (i, pid) in all.iter().enumerate() {
            scope
                .update_many::<pipeline::Entity>()
                .col_expr(pipeline::Column::Position, Expr::value(stored_position(i)?))
                .filter(pipeline::Column::Id.eq(*pid))
                .exec(&txn)
                .await?;
        }
    }
    let updated = find_pipeline(&txn, scope, id).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Archives a pipeline (it leaves the board and takes no new opportunities;
/// its opportunities and history stay) or brings it back.
pub async fn set_pipeline_archived(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::PipelineId,
    archived: bool,
) -> AppResult<pipeline::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let p = find_pipeline(&state.db, scope, id).await?;
    scope
        .update_many::<pipeline::Entity>()
        .col_expr(pipeline::Column::Archived, Expr::value(archived))
        .col_expr(pipeline::Column::UpdatedAt, Expr::value(now()))
        .filter(pipeline::Column::Id.eq(p.id))
        .exec(&state.db)
        .await?;
    find_pipeline(&state.db, scope, id).await
}
