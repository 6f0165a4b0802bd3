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
    if (0..=100).contains(&p) {
        Ok(p)
    } else {
        Err(AppError::bad_input(
            field,
            format!("{field} must be between 0 and 100"),
        ))
    }
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

struct ValidStage {
    name: String,
    probability: i32,
    rotten_after_days: Option<i32>,
}

fn validate_stage(input: &StageInput) -> AppResult<ValidStage> {
    Ok(ValidStage {
        name: short_name("name", &input.name)?,
        probability: probability("probability", input.probability)?,
        rotten_after_days: rotten_days("rottenAfterDays", input.rotten_after_days)?,
    })
}

async fn insert_stage<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    pipeline_id: Uuid,
    position: i32,
    s: ValidStage,
) -> AppResult<stage::Model> {
    let ts = now();
    Ok(scope
        .stamp(stage::ActiveModel {
            id: Set(Uuid::new_v4()),
            pipeline_id: Set(pipeline_id),
            name: Set(s.name),
            position: Set(position),
            probability: Set(s.probability),
            rotten_after_days: Set(s.rotten_after_days),
            deleted: Set(false),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(conn)
        .await?)
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

/// A live (not deleted) stage of the tenant.
pub async fn find_stage<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<stage::Model> {
    scope
        .find_id::<stage::Entity>(id)
        .filter(stage::Column::Deleted.eq(false))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("stage"))
}

async fn live_stages<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    pipeline_id: Uuid,
) -> AppResult<Vec<stage::Model>> {
    Ok(scope
        .find::<stage::Entity>()
        .filter(stage::Column::PipelineId.eq(pipeline_id))
        .filter(stage::Column::Deleted.eq(false))
        .order_by_asc(stage::Column::Position)
        .order_by_asc(stage::Column::CreatedAt)
        .all(conn)
        .await?)
}

fn ensure_unique_stage_name(
    stages: &[stage::Model],
    name: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let taken = stages
        .iter()
        .any(|s| Some(s.id) != except && s.name.to_lowercase() == name.to_lowercase());
    if taken {
        return Err(AppError::bad_input(
            "name",
            "this pipeline already has a stage with this name",
        ));
    }
    Ok(())
}

/// Writes positions 0..n in the given order.
async fn renumber_stages(
    txn: &DatabaseTransaction,
    scope: TenantScope,
    ordered: &[Uuid],
) -> AppResult<()> {
    for (i, id) in ordered.iter().enumerate() {
        scope
            .update_many::<stage::Entity>()
            .col_expr(stage::Column::Position, Expr::value(stored_position(i)?))
            .filter(stage::Column::Id.eq(*id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

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

pub async fn update_pipeline(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    input: UpdatePipelineInput,
) -> AppResult<pipeline::Model> {
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

pub async fn archive_pipeline(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
) -> AppResult<pipeline::Model> {
    let scope = TenantScope(auth.tenant);
    let p = find_pipeline(&state.db, scope, id).await?;
    scope
        .update_many::<pipeline::Entity>()
        .col_expr(pipeline::Column::Archived, Expr::value(true))
        .col_expr(pipeline::Column::UpdatedAt, Expr::value(now()))
        .filter(pipeline::Column::Id.eq(p.id))
        .exec(&state.db)
        .await?;
    find_pipeline(&state.db, scope, id).await
}

pub async fn add_stage(
    state: &AppState,
    auth: AuthContext,
    pipeline_id: Uuid,
    input: StageInput,
    position: Option<i32>,
) -> AppResult<stage::Model> {
    let scope = TenantScope(auth.tenant);
    let valid = validate_stage(&input)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let p = lock_pipeline(&txn, scope, pipeline_id).await?;
    let stages = live_stages(&txn, scope, p.id).await?;
    ensure_unique_stage_name(&stages, &valid.name, None)?;
    // a negative position fails the conversion to usize
    let at = match position.map(usize::try_from) {
        None => stages.len(),
        Some(Ok(at)) if at <= stages.len() => at,
        Some(_) => {
            return Err(AppError::bad_input(
                "position",
                format!("position must be between 0 and {}", stages.len()),
            ));
        }
    };
    let created = insert_stage(&txn, scope, p.id, stored_position(at)?, valid).await?;
    let mut order: Vec<Uuid> = stages.iter().map(|s| s.id).collect();
    order.insert(at, created.id);
    renumber_stages(&txn, scope, &order).await?;
    let created = find_stage(&txn, scope, created.id).await?;
    txn.commit().await?;
    Ok(created)
}

pub async fn update_stage(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    input: UpdateStageInput,
) -> AppResult<stage::Model> {
    let scope = TenantScope(auth.tenant);
    let name = input
        .name
        .as_deref()
        .map(|n| short_name("name", n))
        .transpose()?;
    let prob = input
        .probability
        .map(|p| probability("probability", p))
        .transpose()?;
    let rotten = rotten_days("rottenAfterDays", input.rotten_after_days)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let s = find_stage(&txn, scope, id).await?;
    lock_pipeline(&txn, scope, s.pipeline_id).await?;
    let mut update = scope
        .update_many::<stage::Entity>()
        .col_expr(stage::Column::UpdatedAt, Expr::value(now()))
        .filter(stage::Column::Id.eq(s.id));
    if let Some(n) = name {
        ensure_unique_stage_name(
            &live_stages(&txn, scope, s.pipeline_id).await?,
            &n,
            Some(s.id),
        )?;
        update = update.col_expr(stage::Column::Name, Expr::value(n));
    }
    if let Some(p) = prob {
        update = update.col_expr(stage::Column::Probability, Expr::value(p));
    }
    if let Some(d) = rotten {
        update = update.col_expr(stage::Column::RottenAfterDays, Expr::value(d));
    }
    update.exec(&txn).await?;
    let updated = find_stage(&txn, scope, id).await?;
    txn.commit().await?;
    Ok(updated)
}

pub async fn reorder_stages(
    state: &AppState,
    auth: AuthContext,
    pipeline_id: Uuid,
    stage_ids: Vec<Uuid>,
) -> AppResult<pipeline::Model> {
    let scope = TenantScope(auth.tenant);
    let txn = crate::db::begin_write(&state.db).await?;
    let p = lock_pipeline(&txn, scope, pipeline_id).await?;
    for id in &stage_ids {
        find_stage(&txn, scope, *id).await?;
    }
    let current: HashSet<Uuid> = live_stages(&txn, scope, p.id)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let given: HashSet<Uuid> = stage_ids.iter().copied().collect();
    if given.len() != stage_ids.len() || given != current {
        return Err(AppError::bad_input(
            "stageIds",
            "stageIds must list exactly the pipeline's stages, each once",
        ));
    }
    renumber_stages(&txn, scope, &stage_ids).await?;
    txn.commit().await?;
    find_pipeline(&state.db, scope, p.id).await
}

/// The stage to delete and the stage its opportunities go to, with the
/// pipeline locked for the rest of the caller's transaction. The last
/// stage of a pipeline cannot be deleted. The opportunities themselves are
/// moved by their own module (`opportunity::service::move_all_from_stage_in`).
pub async fn stage_for_deletion_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    move_to: Option<Uuid>,
) -> AppResult<(stage::Model, Option<stage::Model>)> {
    let s = find_stage(conn, scope, id).await?;
    lock_pipeline(conn, scope, s.pipeline_id).await?;
    let target = match move_to {
        Some(t) => Some(find_stage(conn, scope, t).await?),
        None => None,
    };
    if live_stages(conn, scope, s.pipeline_id).await?.len() <= 1 {
        return Err(AppError::bad_input(
            "id",
            "the last stage of a pipeline cannot be deleted",
        ));
    }
    Ok((s, target))
}

/// Flags an emptied stage deleted (the row stays for the history that
/// names it) and closes the gap in its pipeline's positions.
pub async fn delete_stage_in(
    conn: &DatabaseTransaction,
    scope: TenantScope,
    s: &stage::Model,
) -> AppResult<()> {
    scope
        .update_many::<stage::Entity>()
        .col_expr(stage::Column::Deleted, Expr::value(true))
        .col_expr(stage::Column::UpdatedAt, Expr::value(now()))
        .filter(stage::Column::Id.eq(s.id))
        .exec(conn)
        .await?;
    let rest: Vec<Uuid> = live_stages(conn, scope, s.pipeline_id)
        .await?
        .iter()
        .map(|x| x.id)
        .filter(|x| *x != s.id)
        .collect();
    renumber_stages(conn, scope, &rest).await
}

pub async fn sources(
    state: &AppState,
    auth: AuthContext,
    include_archived: bool,
) -> AppResult<Vec<source::Model>> {
    let mut q = TenantScope(auth.tenant).find::<source::Entity>();
    if !include_archived {
        q = q.filter(source::Column::Archived.eq(false));
    }
    Ok(q.order_by_asc(source::Column::Name).all(&state.db).await?)
}

pub async fn find_source<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<source::Model> {
    scope
        .find_id::<source::Entity>(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("source"))
}

fn duplicate_source() -> AppError {
    AppError::bad_input("name", "a source with this name already exists")
}

pub async fn create_source(
    state: &AppState,
    auth: AuthContext,
    name: &str,
) -> AppResult<source::Model> {
    let name = short_name("name", name)?;
    TenantScope(auth.tenant)
        .stamp(source::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name),
            archived: Set(false),
            created_at: Set(now()),
            ..Default::default()
        })
        .insert(&state.db)
        .await
        .map_err(|e| AppError::from_unique(e, duplicate_source))
}

pub async fn update_source(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    name: Option<String>,
    archived: Option<bool>,
) -> AppResult<source::Model> {
    let scope = TenantScope(auth.tenant);
    let name = name.as_deref().map(|n| short_name("name", n)).transpose()?;
    let s = find_source(&state.db, scope, id).await?;
    let mut update = scope
        .update_many::<source::Entity>()
        .filter(source::Column::Id.eq(s.id));
    let mut changed = false;
    if let Some(n) = name {
        update = update.col_expr(source::Column::Name, Expr::value(n));
        changed = true;
    }
    if let Some(a) = archived {
        update = update.col_expr(source::Column::Archived, Expr::value(a));
        changed = true;
    }
    if changed {
        update
            .exec(&state.db)
            .await
            .map_err(|e| AppError::from_unique(e, duplicate_source))?;
    }
    find_source(&state.db, scope, id).await
}

pub async fn exchange_rates(
    state: &AppState,
    auth: AuthContext,
) -> AppResult<Vec<exchange_rate::Model>> {
    Ok(TenantScope(auth.tenant)
        .find::<exchange_rate::Entity>()
        .order_by_asc(exchange_rate::Column::Currency)
        .all(&state.db)
        .await?)
}

pub async fn set_exchange_rate(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    currency: &str,
    rate: Decimal,
) -> AppResult<exchange_rate::Model> {
    let scope = TenantScope(auth.tenant);
    let currency = CurrencyCode::parse("currency", currency)?;
    if currency == settings.currency {
        return Err(AppError::bad_input(
            "currency",
            "the tenant's own currency needs no exchange rate",
        ));
    }
    let nanos = parse_rate("rate", rate)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let existing = scope
        .find::<exchange_rate::Entity>()
        .filter(exchange_rate::Column::Currency.eq(currency.as_str()))
        .one(&txn)
        .await?;
    let ts = now();
    match existing {
        Some(r) => {
            scope
                .update_many::<exchange_rate::Entity>()
                .col_expr(exchange_rate::Column::RateNanos, Expr::value(nanos))
                .col_expr(exchange_rate::Column::UpdatedAt, Expr::value(ts))
                .filter(exchange_rate::Column::Id.eq(r.id))
                .exec(&txn)
                .await?;
        }
        None => {
            scope
                .stamp(exchange_rate::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    currency: Set(currency.as_str().to_string()),
                    rate_nanos: Set(nanos),
                    updated_at: Set(ts),
                    ..Default::default()
                })
                .insert(&txn)
                .await?;
        }
    }
    let saved = scope
        .find::<exchange_rate::Entity>()
        .filter(exchange_rate::Column::Currency.eq(currency.as_str()))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("exchange rate"))?;
    txn.commit().await?;
    Ok(saved)
}

/// The stored rate of a currency, or None. The tenant currency needs none.
pub async fn has_rate<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    settings: &TenantSettings,
    currency: &CurrencyCode,
) -> AppResult<bool> {
    if *currency == settings.currency {
        return Ok(true);
    }
    Ok(scope
        .find::<exchange_rate::Entity>()
        .filter(exchange_rate::Column::Currency.eq(currency.as_str()))
        .one(conn)
        .await?
        .is_some())
}
