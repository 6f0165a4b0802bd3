use async_graphql::{Context, ID, Object};

use super::service;
use super::types::{
    AuthPayload, CreateUserInput, LoginInput, SignUpInput, TenantGql, UpdateTenantInput,
    UpdateUserInput, UserGql,
};
use crate::auth::{ContextAuth, RoleGuard};
use crate::domain::UserId;
use crate::error::GqlResult;
use crate::graphql::ContextState;

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<UserGql> {
        let auth = ctx.auth()?;
        Ok(UserGql::from_model(
            service::user(ctx.state()?, auth, auth.user).await?,
        )?)
    }

    /// The caller's tenant.
    async fn tenant(&self, ctx: &Context<'_>) -> GqlResult<TenantGql> {
        Ok(service::tenant(ctx.state()?, ctx.auth()?).await?.into())
    }

    /// The tenant's users, by name. Inactive ones only when asked for.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 20)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] include_inactive: Option<bool>,
    ) -> GqlResult<Vec<UserGql>> {
        let users =
            service::users(ctx.state()?, ctx.auth()?, include_inactive.unwrap_or(false)).await?;
        Ok(users
            .into_iter()
            .map(UserGql::from_model)
            .collect::<Result<_, _>>()?)
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a tenant and its first ADMIN, and signs that admin in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> GqlResult<AuthPayload> {
        Ok(AuthPayload::try_from(
            crm_core::modules::onboarding::sign_up(ctx.state()?, input.into()).await?,
        )?)
    }

    /// Signs in. After 5 failures for the same tenant and email within 15
    /// minutes, answers RATE_LIMITED until the window has passed.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> GqlResult<AuthPayload> {
        let address = ctx.data_opt::<crate::auth::ClientAddr>().and_then(|a| a.0);
        Ok(AuthPayload::try_from(
            service::login(ctx.state()?, input.into(), address).await?,
        )?)
    }

    /// Exchanges a refresh token for a new pair in the same session. Each
    /// refresh token works once, except that within 30 seconds of its first
    /// use (two tabs refreshing at once) it is exchanged again; presented
    /// later than that, it revokes its whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> GqlResult<AuthPayload> {
        Ok(AuthPayload::try_from(
            service::refresh(ctx.state()?, &refresh_token).await?,
        )?)
    }

    /// Ends the session that the refresh token belongs to. False when the
    /// token is unknown or belongs to someone else. Works without an access
    /// token too (an SPA whose access token expired can still log out): the
    /// refresh token is itself the proof.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> GqlResult<bool> {
        Ok(service::logout(ctx.state()?, ctx.auth().ok(), &refresh_token).await?)
    }

    /// Changes the caller's password and signs out every refresh session.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] current_password: String,
        #[graphql(secret)] new_password: String,
    ) -> GqlResult<bool> {
        Ok(
            service::change_password(ctx.state()?, ctx.auth()?, &current_password, &new_password)
                .await?,
        )
    }

    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_tenant(
        &self,
        ctx: &Context<'_>,
        input: UpdateTenantInput,
    ) -> GqlResult<TenantGql> {
        Ok(
            service::update_tenant(ctx.state()?, ctx.auth()?, input.into())
                .await?
                .into(),
        )
    }

    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> GqlResult<UserGql> {
        Ok(UserGql::from_model(
            service::create_user(ctx.state()?, ctx.auth()?, input.into()).await?,
        )?)
    }

    /// Renames, changes the role of, or (de)activates a user. Deactivating
    /// revokes the user's sessions at once. The last active ADMIN cannot be
    /// demoted or deactivated.
    #[graphql(guard = "RoleGuard::ADMIN")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> GqlResult<UserGql> {
        let id = UserId::parse(&id)?;
        let user = service::update_user(ctx.state()?, ctx.auth()?, id, input.into()).await?;
        Ok(UserGql::from_model(user)?)
    }
}
