//! On PostgreSQL, every foreign key from one tenant table to another also
//! matches `tenant_id`: the database itself refuses a row of one tenant
//! that points at another tenant's row, whatever the application does.
//! (It is also what a tenant-sharded PostgreSQL such as Citus requires.)
//!
//! The keys are found in the catalog rather than listed, so none is
//! forgotten: each single-column key to `id` between two tables that both
//! have `tenant_id` gets a composite twin on `(tenant_id, column)`. The
//! original keys stay, for their ON DELETE actions; the twins check at
//! the end of each statement, after those actions ran. SQLite cannot add
//! constraints to existing tables; there the application's tenant scope
//! is the guard.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The twins of the keys of `tables` (the child side), for tables added
/// after this migration ran.
pub(crate) fn twins_for(tables: &[&str]) -> String {
    let list = tables
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    UP.replace(
        "AND array_length(c.conkey, 1) = 1",
        &format!("AND array_length(c.conkey, 1) = 1 AND c.conrelid::regclass::text IN ({list})"),
    )
}

const UP: &str = r#"
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.conname, c.conrelid::regclass AS child, a.attname AS col,
           c.confrelid::regclass AS parent, pc.relname AS parent_name
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
    JOIN pg_class pc ON pc.oid = c.confrelid
    WHERE c.contype = 'f'
      AND c.connamespace = 'public'::regnamespace
      AND array_length(c.conkey, 1) = 1
      AND pa.attname = 'id'
      AND EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.conrelid
                  AND t.attname = 'tenant_id' AND NOT t.attisdropped)
      AND EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.confrelid
                  AND t.attname = 'tenant_id' AND NOT t.attisdropped)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conname = 'ux_' || r.parent_name || '_tenant_id_id') THEN
      EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (tenant_id, id)',
                     r.parent, 'ux_' || r.parent_name || '_tenant_id_id');
    END IF;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (tenant_id, %I) REFERENCES %s (tenant_id, id)',
                   r.child, left('tfk_' || r.conname, 63), r.col, r.parent);
  END LOOP;
END $$;
"#;

const DOWN: &str = r#"
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT conname, conrelid::regclass AS t FROM pg_constraint
           WHERE connamespace = 'public'::regnamespace AND contype = 'f' AND conname LIKE 'tfk\_%'
  LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
  END LOOP;
  FOR r IN SELECT conname, conrelid::regclass AS t FROM pg_constraint
           WHERE connamespace = 'public'::regnamespace AND contype = 'u' AND conname LIKE 'ux\_%\_tenant\_id\_id'
  LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
  END LOOP;
END $$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(DOWN).await?;
        Ok(())
    }
}
