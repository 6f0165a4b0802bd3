use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub opportunity_id: Uuid,
    /// QUOTE, PROPOSAL or CONTRACT
    pub kind: String,
    pub title: String,
    pub reference: Option<String>,
    pub amount_cents: Option<i64>,
    pub currency: Option<String>,
    /// DRAFT, SENT, ACCEPTED or DECLINED
    pub status: String,
    pub url: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
