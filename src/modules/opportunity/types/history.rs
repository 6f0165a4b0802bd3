//! The GraphQL types of an opportunity's history and contacts.
use super::*;
use crate::pagination::{Connection, Node};

pub struct OpportunityContact(pub entity::opportunity_contact::Model);

#[Object]
impl OpportunityContact {
    async fn contact(&self, ctx: &Context<'_>) -> GqlResult<Contact> {
        let c = load_one(ctx, ContactKey(self.0.contact_id))
            .await?
            .ok_or(AppError::NotFound("contact"))?;
        Ok(Contact(c))
    }
    /// "decision maker", "buyer", ...
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }
    async fn is_primary(&self) -> bool {
        self.0.is_primary
    }
}

pub struct StageChange(pub entity::stage_change::Model);

#[Object]
impl StageChange {
    /// Null for the first stage.
    async fn from_stage(&self, ctx: &Context<'_>) -> GqlResult<Option<Stage>> {
        match self.0.from_stage_id {
            Some(id) => Ok(load_one(ctx, StageKey(id)).await?.map(Stage)),
            None => Ok(None),
        }
    }
    async fn to_stage(&self, ctx: &Context<'_>) -> GqlResult<Stage> {
        let s = load_one(ctx, StageKey(self.0.to_stage_id))
            .await?
            .ok_or(AppError::NotFound("stage"))?;
        Ok(Stage(s))
    }
    async fn changed_by(&self, ctx: &Context<'_>) -> GqlResult<Option<UserGql>> {
        user_opt(ctx, self.0.changed_by).await
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
}

pub(crate) async fn user_opt(
    ctx: &Context<'_>,
    id: Option<uuid::Uuid>,
) -> GqlResult<Option<UserGql>> {
    match id {
        Some(id) => match load_one(ctx, UserKey(id)).await? {
            Some(u) => Ok(Some(UserGql::from_model(u)?)),
            None => Ok(None),
        },
        None => Ok(None),
    }
}

pub struct OpportunityChange(pub entity::opportunity_change::Model);

#[Object]
impl OpportunityChange {
    /// "stage", "potential", "currency", "dueDate", "owner", "status",
    /// "probabilityOverride", "title", "source", "team", "contacts".
    async fn field(&self) -> &str {
        &self.0.field
    }
    async fn from(&self) -> Option<&str> {
        self.0.from_value.as_deref()
    }
    async fn to(&self) -> Option<&str> {
        self.0.to_value.as_deref()
    }
    async fn changed_by(&self, ctx: &Context<'_>) -> GqlResult<Option<UserGql>> {
        user_opt(ctx, self.0.changed_by).await
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
}

/// An opportunity's field changes.
pub type OpportunityChangeConnection = Connection<OpportunityChange>;

impl Node for OpportunityChange {
    type Row = entity::opportunity_change::Model;
    fn from_row(row: Self::Row) -> Self {
        Self(row)
    }
}
