//! Tags as GraphQL shows them: labels a team slices its pipeline with.
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, RoleGuard};
use crate::domain::TagId;
use crate::error::GqlResult;
use crate::graphql::ContextState;
use crate::tenancy::TenantScope;
use crm_core::modules::tag as service;

/// A label on opportunities and contacts. Names are unique in the tenant,
/// ignoring case.
pub struct Tag(pub entity::tag::Model);

#[Object]
impl Tag {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `#rrggbb`.
    async fn color(&self) -> &str {
        &self.0.color
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Rows with at least one of `anyOf` and every one of `allOf`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct TagFilter {
    pub any_of: Option<Vec<ID>>,
    pub all_of: Option<Vec<ID>>,
}

impl TagFilter {
    /// The filter's (any, all) as the domain takes them.
    pub fn split(f: Option<TagFilter>) -> (Option<Vec<String>>, Option<Vec<String>>) {
        let f = f.unwrap_or_default();
        let ids = |v: Option<Vec<ID>>| v.map(|v| v.into_iter().map(|x| x.0).collect());
        (ids(f.any_of), ids(f.all_of))
    }
}

#[derive(InputObject)]
pub struct CreateTagInput {
    /// 1 to 50 characters.
    pub name: String,
    /// `#rrggbb` or `#rgb`; default a neutral grey.
    pub color: Option<String>,
}

/// Fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateTagInput {
    pub name: Option<String>,
    pub color: Option<String>,
}

#[derive(Default)]
pub struct TagQuery;

#[Object]
impl TagQuery {
    /// Every tag of the tenant, by name.
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 50)")]
    async fn tags(&self, ctx: &Context<'_>) -> GqlResult<Vec<Tag>> {
        let scope = TenantScope(ctx.auth()?.tenant);
        let rows = service::list(&ctx.state()?.db, scope).await?;
        Ok(rows.into_iter().map(Tag).collect())
    }
}

#[derive(Default)]
pub struct TagMutation;

#[Object]
impl TagMutation {
    /// Any user may create a tag.
    async fn create_tag(&self, ctx: &Context<'_>, input: CreateTagInput) -> GqlResult<Tag> {
        let name = service::name(&input.name)?;
        let color = match input.color.as_deref() {
            Some(c) => service::color(c)?,
            None => service::DEFAULT_COLOR.to_string(),
        };
        Ok(Tag(
            service::create(ctx.state()?, ctx.auth()?, name, color).await?
        ))
    }

    /// Renames or recolours a tag everywhere it is used. ADMIN and MANAGER.
    #[graphql(guard = "RoleGuard::MANAGERS")]
    async fn update_tag(&self, ctx: &Context<'_>, id: ID, input: UpdateTagInput) -> GqlResult<Tag> {
        let id = TagId::parse(&id)?;
        let name = input.name.as_deref().map(service::name).transpose()?;
        let color = input.color.as_deref().map(service::color).transpose()?;
        Ok(Tag(service::update(
            ctx.state()?,
            ctx.auth()?,
            id,
            name,
            color,
        )
        .await?))
    }

    /// Folds tags into `targetId`: every opportunity and contact that had
    /// one of `sourceIds` has the target instead, and the sources are
    /// deleted. ADMIN and MANAGER.
    #[graphql(guard = "RoleGuard::MANAGERS")]
    async fn merge_tags(
        &self,
        ctx: &Context<'_>,
        source_ids: Vec<ID>,
        target_id: ID,
    ) -> GqlResult<Tag> {
        if source_ids.len() > 100 {
            return Err(
                crate::error::AppError::bad_input("sourceIds", "at most 100 tags at once").into(),
            );
        }
        let sources = source_ids
            .iter()
            .map(|s| TagId::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let target = TagId::parse(&target_id)?;
        Ok(Tag(service::merge(
            ctx.state()?,
            ctx.auth()?,
            &sources,
            target,
        )
        .await?))
    }

    /// Deletes a tag and takes it off every row. ADMIN and MANAGER.
    #[graphql(guard = "RoleGuard::MANAGERS")]
    async fn delete_tag(&self, ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
        let id = TagId::parse(&id)?;
        Ok(service::delete(ctx.state()?, ctx.auth()?, id).await?)
    }
}
