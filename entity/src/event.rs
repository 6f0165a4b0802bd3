use sea_orm::entity::prelude::*;

/// One entry of a tenant's event log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub id: Uuid,
    pub kind: String,
    pub subject_id: Uuid,
    pub subject_version: Option<i32>,
    pub actor_id: Option<Uuid>,
    pub request_id: Option<Uuid>,
    pub at: DateTimeUtc,
    pub data: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
