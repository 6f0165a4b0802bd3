use sea_orm::entity::prelude::*;

/// A CSV import: its uploaded file's header, the mapping of its columns,
/// and the progress of its last run.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub created_by: Uuid,
    /// OPPORTUNITY or CONTACT.
    pub entity: String,
    pub file_name: String,
    /// UPLOADED, VALIDATING, VALIDATED, RUNNING, COMPLETED, CANCELLED, FAILED.
    pub status: String,
    pub delimiter: String,
    /// JSON array of the header row's cells.
    pub headers: String,
    /// JSON array of the column mapping of the last run.
    pub mapping: Option<String>,
    /// JSON object of the parsing options of the last run.
    pub options: Option<String>,
    pub dry_run: bool,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created_count: i32,
    pub updated_count: i32,
    pub error_count: i32,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// Set by the running job after each batch: a RUNNING job whose
    /// heartbeat is old was interrupted.
    pub heartbeat_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
