use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// TASK, EVENT, CALL or NOTE
    pub kind: String,
    pub subject: String,
    pub note: Option<String>,
    pub opportunity_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub assignee_id: Uuid,
    pub created_by: Uuid,
    pub due_at: Option<DateTimeUtc>,
    pub starts_at: Option<DateTimeUtc>,
    pub ends_at: Option<DateTimeUtc>,
    /// due_at, starts_at or created_at, by kind
    pub at: DateTimeUtc,
    /// `at` in milliseconds since the epoch
    pub at_ms: i64,
    pub done: bool,
    pub completed_at: Option<DateTimeUtc>,
    /// the dueAt a BECAME_OVERDUE event was last raised for
    pub overdue_marked_due: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
