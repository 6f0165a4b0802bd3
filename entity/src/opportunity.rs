use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "opportunities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub number: i64,
    pub reference: String,
    pub title: String,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    /// LATE is derived from the due date, never stored
    pub status: Status,
    pub probability_override: Option<i32>,
    pub potential_cents: i64,
    pub currency: String,
    pub due_date: Option<Date>,
    pub owner_id: Uuid,
    pub source_id: Option<Uuid>,
    pub lost_reason: Option<String>,
    pub closed_at: Option<DateTimeUtc>,
    pub stage_entered_at: DateTimeUtc,
    pub last_activity_at: Option<DateTimeUtc>,
    pub version: i32,
    /// the due date a BECAME_LATE event was last raised for
    pub late_marked_due: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The id it has in the system it was imported from (unique in the tenant).
    pub external_id: Option<String>,
}

/// What is stored of an opportunity's status: OPEN, WON or LOST. LATE is
/// derived from the due date in the tenant's time zone, never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Status {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "WON")]
    Won,
    #[sea_orm(string_value = "LOST")]
    Lost,
}

impl Status {
    /// The stored text, as history rows and SQL fragments spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Won => "WON",
            Self::Lost => "LOST",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
