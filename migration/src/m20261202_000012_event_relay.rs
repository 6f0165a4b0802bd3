//! How far the NATS relay (`EVENT_TRANSPORT=nats`) has published each
//! tenant's event log.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EventRelay {
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
                    .table(EventRelay::Table)
                    .col(
                        ColumnDef::new(EventRelay::TenantId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(EventRelay::Seq).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventRelay::Table, EventRelay::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EventRelay::Table).to_owned())
            .await
    }
}
