//! CSV imports: the external id that makes an import idempotent, and the
//! import jobs with their uploaded file (in chunks of whole records, so
//! that any instance can read it back without holding it whole) and the
//! errors of their rows.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261127_000002_pipeline_core::{
    fk, flag, index, int, text, text_null, ts, ts_null, uuid_col, uuid_pk,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ImportJobs {
    Table,
    Id,
    TenantId,
    CreatedBy,
    Entity,
    FileName,
    Status,
    Delimiter,
    Headers,
    Mapping,
    Options,
    DryRun,
    TotalRows,
    ProcessedRows,
    CreatedCount,
    UpdatedCount,
    ErrorCount,
    CreatedAt,
    StartedAt,
    FinishedAt,
    HeartbeatAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImportChunks {
    Table,
    Id,
    TenantId,
    JobId,
    Seq,
    FirstRow,
    RowCount,
    Data,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImportErrors {
    Table,
    Id,
    TenantId,
    JobId,
    Row,
    Column,
    Code,
    Message,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Opportunities {
    Table,
    ExternalId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    ExternalId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Opportunities::Table)
                .add_column(text_null(Opportunities::ExternalId, 100))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Contacts::Table)
                .add_column(text_null(Contacts::ExternalId, 100))
                .take(),
        )
        .await?;
        // NULLs are distinct in both stores: only the rows that have one
        // are unique
        index(
            m,
            "ux_opportunities_external_id",
            Opportunities::Table,
            &["tenant_id", "external_id"],
            true,
        )
        .await?;
        index(
            m,
            "ux_contacts_external_id",
            Contacts::Table,
            &["tenant_id", "external_id"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ImportJobs::Table)
                .col(uuid_pk(ImportJobs::Id))
                .col(uuid_col(ImportJobs::TenantId))
                .col(uuid_col(ImportJobs::CreatedBy))
                .col(text(ImportJobs::Entity, 20))
                .col(text(ImportJobs::FileName, 255))
                .col(text(ImportJobs::Status, 20))
                .col(text(ImportJobs::Delimiter, 1))
                .col(ColumnDef::new(ImportJobs::Headers).text().not_null())
                .col(ColumnDef::new(ImportJobs::Mapping).text().null())
                .col(ColumnDef::new(ImportJobs::Options).text().null())
                .col(flag(ImportJobs::DryRun))
                .col(int(ImportJobs::TotalRows))
                .col(int(ImportJobs::ProcessedRows))
                .col(int(ImportJobs::CreatedCount))
                .col(int(ImportJobs::UpdatedCount))
                .col(int(ImportJobs::ErrorCount))
                .col(ts(ImportJobs::CreatedAt))
                .col(ts_null(ImportJobs::StartedAt))
                .col(ts_null(ImportJobs::FinishedAt))
                .col(ts_null(ImportJobs::HeartbeatAt))
                .foreign_key(&mut fk(
                    (ImportJobs::Table, ImportJobs::CreatedBy),
                    (Users::Table, Users::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ix_import_jobs_created",
            ImportJobs::Table,
            &["tenant_id", "created_at", "id"],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ImportChunks::Table)
                .col(uuid_pk(ImportChunks::Id))
                .col(uuid_col(ImportChunks::TenantId))
                .col(uuid_col(ImportChunks::JobId))
                .col(int(ImportChunks::Seq))
                .col(int(ImportChunks::FirstRow))
                .col(int(ImportChunks::RowCount))
                .col(ColumnDef::new(ImportChunks::Data).blob().not_null())
                .foreign_key(&mut fk(
                    (ImportChunks::Table, ImportChunks::JobId),
                    (ImportJobs::Table, ImportJobs::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_import_chunks_seq",
            ImportChunks::Table,
            &["tenant_id", "job_id", "seq"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ImportErrors::Table)
                .col(uuid_pk(ImportErrors::Id))
                .col(uuid_col(ImportErrors::TenantId))
                .col(uuid_col(ImportErrors::JobId))
                .col(int(ImportErrors::Row))
                .col(text_null(ImportErrors::Column, 255))
                .col(text(ImportErrors::Code, 40))
                .col(text(ImportErrors::Message, 500))
                .foreign_key(&mut fk(
                    (ImportErrors::Table, ImportErrors::JobId),
                    (ImportJobs::Table, ImportJobs::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ix_import_errors_row",
            ImportErrors::Table,
            &["tenant_id", "job_id", "row"],
            false,
        )
        .await?;
        let tables = ["import_jobs", "import_chunks", "import_errors"];
        crate::m20261201_000007_row_level_security::protect(m, &tables).await?;
        if m.get_database_backend() == DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&crate::m20261201_000008_tenant_foreign_keys::twins_for(
                    &tables,
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["import_errors", "import_chunks", "import_jobs"] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        m.drop_index(Index::drop().name("ux_contacts_external_id").to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("ux_opportunities_external_id")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Contacts::Table)
                .drop_column(Contacts::ExternalId)
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Opportunities::Table)
                .drop_column(Opportunities::ExternalId)
                .take(),
        )
        .await
    }
}
