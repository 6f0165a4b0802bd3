use sea_orm::entity::prelude::*;

/// A field a tenant defined on its opportunities or contacts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "custom_fields")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `OPPORTUNITY` or `CONTACT`.
    pub entity: String,
    /// Stable, unique per entity: what inputs and filters name it by.
    pub key: String,
    pub label: String,
    /// TEXT, NUMBER, MONEY, DATE, BOOLEAN, SELECT or MULTI_SELECT.
    pub kind: String,
    pub required: bool,
    pub position: i32,
    pub archived: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
