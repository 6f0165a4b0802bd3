use sea_orm::entity::prelude::*;

/// One custom-field value of one contact, in the column its kind uses:
/// TEXT in `text_value`; NUMBER (scaled by 10^4), MONEY (cents) and
/// BOOLEAN (0/1) in `num_value`; DATE in `date_value`; SELECT and
/// MULTI_SELECT in `option_id`, one row per chosen option.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_field_values")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub contact_id: Uuid,
    pub field_id: Uuid,
    pub option_id: Option<Uuid>,
    pub text_value: Option<String>,
    pub num_value: Option<i64>,
    pub date_value: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
