//! The event log: every committed change's events, written in the same
//! transaction as the change (a transactional outbox). `event_heads` holds
//! each tenant's last sequence number; taking the next one locks that row
//! until the writer commits, so a tenant's sequence is gap-free and in
//! commit order. Subscriptions, the `changes` feed and (later) webhooks
//! read the log; nothing else carries an event between instances.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    TenantId,
    Seq,
    Id,
    Kind,
    SubjectId,
    SubjectVersion,
    ActorId,
    RequestId,
    At,
    Data,
}

#[derive(DeriveIden)]
enum EventHeads {
    Table,
    TenantId,
    Seq,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventHeads::Table)
                    .col(
                        ColumnDef::new(EventHeads::TenantId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(EventHeads::Seq).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventHeads::Table, EventHeads::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(ColumnDef::new(Events::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Events::Seq).big_integer().not_null())
                    .col(ColumnDef::new(Events::Id).uuid().not_null().unique_key())
                    .col(ColumnDef::new(Events::Kind).string_len(40).not_null())
                    .col(ColumnDef::new(Events::SubjectId).uuid().not_null())
                    .col(ColumnDef::new(Events::SubjectVersion).integer().null())
                    .col(ColumnDef::new(Events::ActorId).uuid().null())
                    .col(ColumnDef::new(Events::RequestId).uuid().null())
                    .col(
                        ColumnDef::new(Events::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Events::Data).text().not_null())
                    .primary_key(Index::create().col(Events::TenantId).col(Events::Seq))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Events::Table, Events::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // retention prunes each tenant's oldest events
        manager
            .create_index(
                Index::create()
                    .name("ix_events_tenant_at")
                    .table(Events::Table)
                    .col(Events::TenantId)
                    .col(Events::At)
                    .to_owned(),
            )
            .await?;
        crate::m20261201_000007_row_level_security::protect(manager, &["events", "event_heads"])
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EventHeads::Table).to_owned())
            .await
    }
}
