//! Intake keys (secrets that let a website post requests into a stage) and
//! the log of their posts, which backs both idempotency and rate limiting.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Stages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IntakeKeys {
    Table,
    Id,
    TenantId,
    Name,
    StageId,
    SourceId,
    CreatedBy,
    SecretHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IntakeRequests {
    Table,
    Id,
    TenantId,
    IntakeKeyId,
    IdempotencyKey,
    BodyHash,
    Status,
    Response,
    CreatedAt,
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    cascade: bool,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(if cascade {
            ForeignKeyAction::Cascade
        } else {
            ForeignKeyAction::NoAction
        })
        .take()
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(Alias::new(*c));
    }
    if unique {
        idx.unique();
    }
    m.create_index(idx.take()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IntakeKeys::Table)
                .col(
                    ColumnDef::new(IntakeKeys::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(IntakeKeys::TenantId).uuid().not_null())
                .col(ColumnDef::new(IntakeKeys::Name).string_len(200).not_null())
                .col(ColumnDef::new(IntakeKeys::StageId).uuid().not_null())
                .col(ColumnDef::new(IntakeKeys::SourceId).uuid().null())
                .col(ColumnDef::new(IntakeKeys::CreatedBy).uuid().not_null())
                .col(
                    ColumnDef::new(IntakeKeys::SecretHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(IntakeKeys::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(IntakeKeys::LastUsedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(IntakeKeys::RevokedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(&mut fk(
                    (IntakeKeys::Table, IntakeKeys::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .foreign_key(&mut fk(
                    (IntakeKeys::Table, IntakeKeys::StageId),
                    (Stages::Table, Stages::Id),
                    false,
                ))
                .foreign_key(&mut fk(
                    (IntakeKeys::Table, IntakeKeys::SourceId),
                    (Sources::Table, Sources::Id),
                    false,
                ))
                .foreign_key(&mut fk(
                    (IntakeKeys::Table, IntakeKeys::CreatedBy),
                    (Users::Table, Users::Id),
                    false,
                ))
                .take(),
        )
        .await?;
        // looked up by hash before the tenant is known, so the hash is unique on its own
        index(
            m,
            "ux_intake_keys_secret",
            IntakeKeys::Table,
            &["secret_hash"],
            true,
        )
        .await?;
        index(
            m,
            "ix_intake_keys_tenant",
            IntakeKeys::Table,
            &["tenant_id", "created_at", "id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IntakeRequests::Table)
                .col(
                    ColumnDef::new(IntakeRequests::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(IntakeRequests::TenantId).uuid().not_null())
                .col(
                    ColumnDef::new(IntakeRequests::IntakeKeyId)
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(IntakeRequests::IdempotencyKey)
                        .string_len(255)
                        .null(),
                )
                .col(
                    ColumnDef::new(IntakeRequests::BodyHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(IntakeRequests::Status).integer().null())
                .col(ColumnDef::new(IntakeRequests::Response).text().null())
                .col(
                    ColumnDef::new(IntakeRequests::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(&mut fk(
                    (IntakeRequests::Table, IntakeRequests::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .foreign_key(&mut fk(
                    (IntakeRequests::Table, IntakeRequests::IntakeKeyId),
                    (IntakeKeys::Table, IntakeKeys::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        // the guarantee behind idempotency: of concurrent first posts with one
        // Idempotency-Key only one can insert its row (NULLs never collide,
        // on either backend, so posts without a key are unaffected)
        index(
            m,
            "ux_intake_requests_idempotency",
            IntakeRequests::Table,
            &["intake_key_id", "idempotency_key"],
            true,
        )
        .await?;
        // the rate limit counts a key's posts of the last minute
        index(
            m,
            "ix_intake_requests_key_time",
            IntakeRequests::Table,
            &["intake_key_id", "created_at"],
            false,
        )
        .await?;
        Ok(())
    }
}
