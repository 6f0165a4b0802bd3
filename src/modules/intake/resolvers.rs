use async_graphql::{Context, ID, Object};

use super::service;
use super::types::{IntakeKey, IntakeKeyInput, IntakeKeySecret};
use crate::auth::{ContextAuth, RoleGuard};
use crate::domain::IntakeKeyId;
use crate::error::GqlResult;
use crate::graphql::ContextState;

#[derive(Default)]
pub struct IntakeQuery;

#[Object]
impl IntakeQuery {
    /// The tenant's intake keys, revoked ones included, oldest first.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn intake_keys(&self, ctx: &Context<'_>) -> GqlResult<Vec<IntakeKey>> {
        let rows = service::list(ctx.state()?, ctx.auth()?).await?;
        Ok(rows.into_iter().map(IntakeKey).collect())
    }
}

#[derive(Default)]
pub struct IntakeMutation;

#[Object]
impl IntakeMutation {
    /// Makes a key for a website's request form. The opportunities it
    /// creates are owned by you.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn create_intake_key(
        &self,
        ctx: &Context<'_>,
        input: IntakeKeyInput,
    ) -> GqlResult<IntakeKeySecret> {
        let (key, secret) = service::create(ctx.state()?, ctx.auth()?, input.into()).await?;
        Ok(IntakeKeySecret {
            key: IntakeKey(key),
            secret,
        })
    }

    /// Refuses the key's posts from now on. Revoking twice is harmless.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn revoke_intake_key(&self, ctx: &Context<'_>, id: ID) -> GqlResult<IntakeKey> {
        let id = IntakeKeyId::parse(&id)?;
        Ok(IntakeKey(
            service::revoke(ctx.state()?, ctx.auth()?, id).await?,
        ))
    }
}
