//! A pipeline's ordered stages.
use super::*;

pub(super) struct ValidStage {
    pub(super) name: String,
    pub(super) probability: i32,
    pub(super) rotten_after_days: Option<i32>,
}

pub(super) fn validate_stage(input: &StageInput) -> AppResult<ValidStage> {
    Ok(ValidStage {
        name: short_name("name", &input.name)?,
        probability: probability("probability", input.probability)?,
        rotten_after_days: rotten_days("rottenAfterDays", input.rotten_after_days)?,
    })
}

pub(super) async fn insert_stage<C: ConnectionTrait>(
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

/// A stage that can receive opportunities: live, in a pipeline that is not
/// archived. An archived pipeline keeps what it holds but takes nothing new
/// until it is unarchived.
pub async fn find_open_stage<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    field: &'static str,
) -> AppResult<stage::Model> {
    let s = find_stage(conn, scope, id).await?;
    if find_pipeline(conn, scope, s.pipeline_id).await?.archived {
        return Err(AppError::BadInput {
            message: format!(
                "{field}: the stage belongs to an archived pipeline; unarchive the pipeline first"
            ),
            field: Some(field),
        });
    }
    Ok(s)
}

pub(super) async fn live_stages<C: ConnectionTrait>(
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

pub(super) fn ensure_unique_stage_name(
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
pub(super) async fn renumber_stages(
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

/// Adds a stage to a pipeline, at a position or last.
pub async fn add_stage(
    state: &AppState,
    auth: AuthContext,
    pipeline_id: crate::domain::PipelineId,
    input: StageInput,
    position: Option<i32>,
) -> AppResult<stage::Model> {
    let pipeline_id = pipeline_id.0;
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

/// Renames a stage or changes its probability (which moves the weighted
/// potential of its open opportunities without an override) or its
/// rotting threshold.
pub async fn update_stage(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::StageId,
    input: UpdateStageInput,
) -> AppResult<stage::Model> {
    let id = id.0;
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

/// Puts a pipeline's stages in the given order, which must name each live
/// stage once.
pub async fn reorder_stages(
    state: &AppState,
    auth: AuthContext,
    pipeline_id: crate::domain::PipelineId,
    stage_ids: Vec<Uuid>,
) -> AppResult<pipeline::Model> {
    let pipeline_id = pipeline_id.0;
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
    id: crate::domain::StageId,
    move_to: Option<Uuid>,
) -> AppResult<(stage::Model, Option<stage::Model>)> {
    let id = id.0;
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

/// The live stages of a pipeline, in order: a batched read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PipelineStagesKey(pub Uuid);

impl crate::reader::Reader {
    /// The live stages of many pipelines in one statement.
    pub async fn load_pipeline_stages(
        &self,
        keys: &[PipelineStagesKey],
    ) -> AppResult<std::collections::HashMap<PipelineStagesKey, Vec<stage::Model>>> {
        let rows = self
            .scope
            .find::<stage::Entity>()
            .filter(stage::Column::PipelineId.is_in(keys.iter().map(|k| k.0)))
            .filter(stage::Column::Deleted.eq(false))
            .order_by_asc(stage::Column::Position)
            .order_by_asc(stage::Column::CreatedAt)
            .all(&self.state.db)
            .await?;
        let mut out: std::collections::HashMap<PipelineStagesKey, Vec<stage::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for s in rows {
            out.entry(PipelineStagesKey(s.pipeline_id))
                .or_default()
                .push(s);
        }
        Ok(out)
    }
}
