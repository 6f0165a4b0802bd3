//! GraphQL types of intake keys.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::GqlResult;
use crate::loaders::{PipelineKey, SourceKey, StageKey, load_one};
use crate::modules::pipeline::types::{Pipeline, SourceGql, Stage};

/// A secret that lets a website post requests to `POST /intake`
/// (`Authorization: Bearer <secret>`). Each post becomes an opportunity in
/// the key's stage, owned by the admin who made the key.
pub struct IntakeKey(pub entity::intake_key::Model);

impl IntakeKey {
    async fn live_stage(&self, ctx: &Context<'_>) -> GqlResult<Option<entity::stage::Model>> {
        Ok(load_one(ctx, StageKey(self.0.stage_id))
            .await?
            .filter(|s| !s.deleted))
    }
}

#[Object]
impl IntakeKey {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The pipeline of `stage`.
    async fn pipeline(&self, ctx: &Context<'_>) -> GqlResult<Option<Pipeline>> {
        let Some(stage) = self.live_stage(ctx).await? else {
            return Ok(None);
        };
        Ok(load_one(ctx, PipelineKey(stage.pipeline_id))
            .await?
            .map(Pipeline))
    }
    /// Where created opportunities land. Null once the stage is deleted:
    /// the key then refuses posts, and a new key is needed.
    async fn stage(&self, ctx: &Context<'_>) -> GqlResult<Option<Stage>> {
        Ok(self.live_stage(ctx).await?.map(Stage))
    }
    /// The source given to created opportunities and contacts.
    async fn source(&self, ctx: &Context<'_>) -> GqlResult<Option<SourceGql>> {
        match self.0.source_id {
            Some(id) => Ok(load_one(ctx, SourceKey(id)).await?.map(Into::into)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When a post last presented this key.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// A revoked key is refused (401) from then on.
    async fn revoked(&self) -> bool {
        self.0.revoked_at.is_some()
    }
}

/// A new key with its secret.
#[derive(SimpleObject)]
pub struct IntakeKeySecret {
    pub key: IntakeKey,
    /// Shown this once: the server keeps only a hash of it.
    pub secret: String,
}

#[derive(InputObject)]
pub struct IntakeKeyInput {
    /// 1 to 200 characters, e.g. the website it is for.
    pub name: String,
    /// Where opportunities created with the key land.
    pub stage_id: ID,
    /// The source given to what the key creates.
    pub source_id: Option<ID>,
}

// The GraphQL inputs and enums convert into the domain's at this boundary.

impl From<IntakeKeyInput> for crm_core::modules::intake::model::IntakeKeyInput {
    fn from(i: IntakeKeyInput) -> Self {
        Self {
            name: i.name,
            stage_id: i.stage_id.0,
            source_id: i.source_id.map(|x| x.0),
        }
    }
}
