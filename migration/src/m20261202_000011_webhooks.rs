//! Outgoing webhooks: a tenant's endpoints, each reading the event log
//! from its own `position` (in order, at least once), and the log of
//! every delivery attempt. Secrets are stored encrypted (the signature
//! scheme needs them back); `lease_until` lets workers on several
//! instances share endpoints without delivering one twice.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    TenantId,
    Url,
    Description,
    EventKinds,
    Enabled,
    DisabledReason,
    SecretEnc,
    OldSecretEnc,
    OldSecretUntil,
    Position,
    Attempt,
    FailingSince,
    NextAttemptAt,
    LeaseUntil,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TenantId,
    EndpointId,
    EventId,
    EventSeq,
    EventKind,
    Attempt,
    Succeeded,
    ResponseCode,
    DurationMs,
    Error,
    At,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use WebhookEndpoints as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(ColumnDef::new(E::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(E::TenantId).uuid().not_null())
                    .col(ColumnDef::new(E::Url).string_len(2048).not_null())
                    .col(ColumnDef::new(E::Description).string_len(500).not_null())
                    .col(ColumnDef::new(E::EventKinds).text().null())
                    .col(ColumnDef::new(E::Enabled).boolean().not_null())
                    .col(ColumnDef::new(E::DisabledReason).string_len(500).null())
                    .col(ColumnDef::new(E::SecretEnc).text().not_null())
                    .col(ColumnDef::new(E::OldSecretEnc).text().null())
                    .col(
                        ColumnDef::new(E::OldSecretUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(E::Position).big_integer().not_null())
                    .col(ColumnDef::new(E::Attempt).integer().not_null())
                    .col(
                        ColumnDef::new(E::FailingSince)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(E::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(E::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(E::CreatedBy).uuid().not_null())
                    .col(
                        ColumnDef::new(E::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(E::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(E::Table, E::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_endpoints_tenant")
                    .table(E::Table)
                    .col(E::TenantId)
                    .col(E::CreatedAt)
                    .col(E::Id)
                    .to_owned(),
            )
            .await?;
        use WebhookDeliveries as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(D::TenantId).uuid().not_null())
                    .col(ColumnDef::new(D::EndpointId).uuid().not_null())
                    .col(ColumnDef::new(D::EventId).uuid().not_null())
                    .col(ColumnDef::new(D::EventSeq).big_integer().not_null())
                    .col(ColumnDef::new(D::EventKind).string_len(40).not_null())
                    .col(ColumnDef::new(D::Attempt).integer().not_null())
                    .col(ColumnDef::new(D::Succeeded).boolean().not_null())
                    .col(ColumnDef::new(D::ResponseCode).integer().null())
                    .col(ColumnDef::new(D::DurationMs).integer().not_null())
                    .col(ColumnDef::new(D::Error).string_len(500).null())
                    .col(ColumnDef::new(D::At).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(D::Table, D::EndpointId)
                            .to(E::Table, E::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(D::Table, D::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_endpoint")
                    .table(D::Table)
                    .col(D::TenantId)
                    .col(D::EndpointId)
                    .col(D::At)
                    .col(D::Id)
                    .to_owned(),
            )
            .await?;
        crate::m20261201_000007_row_level_security::protect(
            manager,
            &["webhook_endpoints", "webhook_deliveries"],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}
