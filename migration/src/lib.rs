//! Schema migrations. The same migrations run on SQLite and PostgreSQL, so
//! they are written with sea-query's portable builders, or SQL text that
//! both accept (expression indexes).
pub use sea_orm_migration::prelude::*;

mod m20261127_000001_accounts;
mod m20261127_000002_pipeline_core;
mod m20261127_000003_activities_documents;
mod m20261127_000004_intake;
mod m20261127_000005_event_marks;
mod m20261201_000006_login_throttles;
mod m20261201_000007_row_level_security;
mod m20261201_000008_tenant_foreign_keys;
mod m20261202_000009_list_indexes;
mod m20261202_000010_event_log;
mod m20261202_000011_webhooks;
mod m20261202_000012_event_relay;
mod m20261202_000013_tags_custom_fields;
mod m20261202_000014_saved_views;
mod m20261202_000015_imports;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_accounts::Migration),
            Box::new(m20261127_000002_pipeline_core::Migration),
            Box::new(m20261127_000003_activities_documents::Migration),
            Box::new(m20261127_000004_intake::Migration),
            Box::new(m20261127_000005_event_marks::Migration),
            Box::new(m20261201_000006_login_throttles::Migration),
            Box::new(m20261201_000007_row_level_security::Migration),
            Box::new(m20261201_000008_tenant_foreign_keys::Migration),
            Box::new(m20261202_000009_list_indexes::Migration),
            Box::new(m20261202_000010_event_log::Migration),
            Box::new(m20261202_000011_webhooks::Migration),
            Box::new(m20261202_000012_event_relay::Migration),
            Box::new(m20261202_000013_tags_custom_fields::Migration),
            Box::new(m20261202_000014_saved_views::Migration),
            Box::new(m20261202_000015_imports::Migration),
        ]
    }
}
