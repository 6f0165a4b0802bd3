use sea_orm::entity::prelude::*;

/// Whole CSV records of an uploaded file, in file order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub job_id: Uuid,
    pub seq: i32,
    /// The file's row number (from 1, the header being row 1) of the
    /// chunk's first record.
    pub first_row: i32,
    pub row_count: i32,
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
