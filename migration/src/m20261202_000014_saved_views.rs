//! Saved views: a named opportunities filter, order and visible columns,
//! private to its owner or shared with the tenant.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261127_000002_pipeline_core::{fk, flag, index, text, ts, uuid_col, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SavedViews {
    Table,
    Id,
    TenantId,
    OwnerId,
    Name,
    Filter,
    OrderBy,
    Columns,
    Shared,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SavedViews::Table)
                .col(uuid_pk(SavedViews::Id))
                .col(uuid_col(SavedViews::TenantId))
                .col(uuid_col(SavedViews::OwnerId))
                .col(text(SavedViews::Name, 100))
                .col(ColumnDef::new(SavedViews::Filter).text().not_null())
                .col(ColumnDef::new(SavedViews::OrderBy).text().null())
                .col(ColumnDef::new(SavedViews::Columns).text().not_null())
                .col(flag(SavedViews::Shared))
                .col(ts(SavedViews::CreatedAt))
                .col(ts(SavedViews::UpdatedAt))
                .foreign_key(&mut fk(
                    (SavedViews::Table, SavedViews::OwnerId),
                    (Users::Table, Users::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_saved_views_name",
            SavedViews::Table,
            &["tenant_id", "owner_id", "name"],
            true,
        )
        .await?;
        crate::m20261201_000007_row_level_security::protect(m, &["saved_views"]).await?;
        if m.get_database_backend() == DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&crate::m20261201_000008_tenant_foreign_keys::twins_for(&[
                    "saved_views",
                ]))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SavedViews::Table).to_owned())
            .await
    }
}
