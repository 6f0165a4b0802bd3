//! Indexes that serve the opportunity lists' keyset pages in their order,
//! so that a page reads `first + 1` index entries instead of sorting the
//! whole filtered set: leading columns the tenant and the filter, then the
//! sort key exactly as the list query spells it, then the id.
//!
//! "No due date last" is `COALESCE(due_date, '9999-12-31')` and the title
//! order is `LOWER(title)`: expression indexes on both backends (the same
//! SQL text is valid for SQLite and PostgreSQL), matched because the list
//! query sorts and pages by those very expressions.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DUE: &str = "(COALESCE(due_date, '9999-12-31'))";
const TITLE: &str = "(LOWER(title))";

/// (name, columns) of each index.
fn indexes() -> Vec<(&'static str, String)> {
    vec![
        // the table and the board by due date, whole tenant or one pipeline
        ("ix_opportunities_due_sort", format!("tenant_id, {DUE}, id")),
        (
            "ix_opportunities_pipeline_due_sort",
            format!("tenant_id, pipeline_id, {DUE}, id"),
        ),
        (
            "ix_opportunities_owner_due_sort",
            format!("tenant_id, owner_id, {DUE}, id"),
        ),
        (
            "ix_opportunities_stage_due_sort",
            format!("tenant_id, stage_id, {DUE}, id"),
        ),
        // newest first / recently changed, per pipeline and per owner
        (
            "ix_opportunities_pipeline_created",
            "tenant_id, pipeline_id, created_at, id".into(),
        ),
        (
            "ix_opportunities_pipeline_updated",
            "tenant_id, pipeline_id, updated_at, id".into(),
        ),
        (
            "ix_opportunities_owner_created",
            "tenant_id, owner_id, created_at, id".into(),
        ),
        // alphabetical
        (
            "ix_opportunities_title_sort",
            format!("tenant_id, {TITLE}, id"),
        ),
        (
            "ix_opportunities_pipeline_title_sort",
            format!("tenant_id, pipeline_id, {TITLE}, id"),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, columns) in indexes() {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON opportunities ({columns})"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in indexes() {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
