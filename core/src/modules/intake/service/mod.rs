//! Intake keys, and the posts made with them: each post, in one
//! transaction, finds or creates its contact and creates an opportunity
//! (with a note holding the message).
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use entity::{activity, contact, intake_key, intake_request, opportunity, tenant};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::model::IntakeKeyInput;
use crate::auth::{AuthContext, random_token, sha256_hex};
use crate::domain::{CurrencyCode, Email, Name, TenantId};
use crate::domain::{SourceId, StageId};
use crate::error::{AppError, AppResult};
use crate::modules::activity::model::ActivityKind;
use crate::modules::activity::service::{self as activities, NewActivity, Times};
use crate::modules::contact::model::ContactKind;
use crate::modules::contact::service::{self as contacts, NewContact, phone};
use crate::modules::opportunity::service::{self as opportunities, ContactLink, NewOpportunity};
use crate::modules::pipeline::service::{find_source, find_stage};
use crate::money::parse_amount;
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

mod submission;
mod submit;
use submission::*;
pub use submit::*;

/// Posts one key may make per minute. They are counted in the database, so
/// the limit holds however many instances serve the API.
pub const POSTS_PER_MINUTE: u64 = 60;
/// How long an Idempotency-Key is remembered.
const IDEMPOTENCY_HOURS: i64 = 24;
/// The longest message kept, as for any activity note.
const MAX_MESSAGE_CHARS: usize = 20_000;

/// The tenant's intake keys.
pub async fn list(state: &AppState, auth: AuthContext) -> AppResult<Vec<intake_key::Model>> {
    Ok(TenantScope(auth.tenant)
        .find::<intake_key::Entity>()
        .order_by_asc(intake_key::Column::CreatedAt)
        .order_by_asc(intake_key::Column::Id)
        .all(&state.db)
        .await?)
}

/// An intake key of the tenant (NOT_FOUND for any other).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<intake_key::Model> {
    scope
        .get::<intake_key::Entity, _>(conn, id, "intake key")
        .await
}

/// A new key and its secret, which is not kept.
pub async fn create(
    state: &AppState,
    auth: AuthContext,
    input: IntakeKeyInput,
) -> AppResult<(intake_key::Model, String)> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let name = Name::parse("name", &input.name)?.into_inner();
    let stage = find_stage(db, scope, StageId::parse(&input.stage_id)?.0).await?;
    let source = match &input.source_id {
        Some(id) => Some(find_source(db, scope, SourceId::parse(id)?.0).await?.id),
        None => None,
    };
    let secret = random_token(32);
    let key = scope
        .stamp(intake_key::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name),
            stage_id: Set(stage.id),
            source_id: Set(source),
            created_by: Set(auth.user.0),
            secret_hash: Set(sha256_hex(&secret)),
            created_at: Set(now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        })
        .insert(db)
        .await?;
    Ok((key, secret))
}

/// Revokes an intake key: posts with it are refused from now on.
pub async fn revoke(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::IntakeKeyId,
) -> AppResult<intake_key::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let key = find(&state.db, scope, id).await?;
    // the first revocation's time is the one that counts
    scope
        .update_many::<intake_key::Entity>()
        .col_expr(intake_key::Column::RevokedAt, Expr::value(Some(now())))
        .filter(intake_key::Column::Id.eq(key.id))
        .filter(intake_key::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    find(&state.db, scope, id).await
}
