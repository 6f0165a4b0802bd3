use sea_orm::entity::prelude::*;

/// One choice of a SELECT or MULTI_SELECT field.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "custom_field_options")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub field_id: Uuid,
    pub label: String,
    pub position: i32,
    /// Archived options stay on the rows that have them but cannot be
    /// chosen again.
    pub archived: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
