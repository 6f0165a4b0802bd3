use sea_orm::entity::prelude::*;

/// A named opportunities list: filter, order and visible columns.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_views")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    /// The `OpportunityFilter` input, as JSON.
    pub filter: String,
    /// The `OpportunityOrder` input, as JSON.
    pub order_by: Option<String>,
    /// JSON array of column names, in order.
    pub columns: String,
    pub shared: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
