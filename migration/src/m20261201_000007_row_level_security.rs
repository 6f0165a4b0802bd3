//! Row-level security on PostgreSQL: the backstop under the server's own
//! tenant filter. Every tenant table shows and accepts only the rows of
//! the tenant in `app.tenant_id`, which the server sets on each
//! connection from the caller's token. Work that belongs to no request
//! (a login looking up its tenant by slug, a refresh token by its hash,
//! the sweeper) runs with the setting empty and is not restricted.
//! `FORCE` makes the policies bind the tables' owner too; only superusers
//! and BYPASSRLS roles pass, which is why the server runs its queries as
//! a role of its own (see `db::ensure_app_role`). SQLite has no such thing.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every table with a `tenant_id` column.
const TENANT_TABLES: &[&str] = &[
    "users",
    "refresh_tokens",
    "pipelines",
    "stages",
    "sources",
    "exchange_rates",
    "contacts",
    "opportunities",
    "opportunity_contacts",
    "opportunity_team",
    "stage_changes",
    "opportunity_changes",
    "activities",
    "documents",
    "intake_keys",
    "intake_requests",
];

const CURRENT: &str = "NULLIF(current_setting('app.tenant_id', true), '')";

/// Puts tables added later under the same policy (PostgreSQL only).
pub(crate) async fn protect(manager: &SchemaManager<'_>, tables: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for table in tables {
        manager
            .get_connection()
            .execute_unprepared(&policy(table, "tenant_id"))
            .await?;
    }
    Ok(())
}

fn policy(table: &str, column: &str) -> String {
    let rule = format!("{CURRENT} IS NULL OR {column} = {CURRENT}::uuid");
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; \
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY; \
         CREATE POLICY tenant_isolation ON {table} USING ({rule}) WITH CHECK ({rule});"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TENANT_TABLES {
            db.execute_unprepared(&policy(table, "tenant_id")).await?;
        }
        db.execute_unprepared(&policy("tenants", "id")).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TENANT_TABLES.iter().chain(["tenants"].iter()) {
            db.execute_unprepared(&format!(
                "DROP POLICY IF EXISTS tenant_isolation ON {table}; \
                 ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; \
                 ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
            ))
            .await?;
        }
        Ok(())
    }
}
