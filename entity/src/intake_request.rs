use sea_orm::entity::prelude::*;

/// One post made with an intake key: counted by the rate limit, and, for
/// the first post of an Idempotency-Key, the answer replayed to repeats.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "intake_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub intake_key_id: Uuid,
    /// set only on the post that first used the key
    pub idempotency_key: Option<String>,
    /// SHA-256 of the raw body
    pub body_hash: String,
    /// HTTP status answered; null until the post is done
    pub status: Option<i32>,
    /// JSON body answered
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
