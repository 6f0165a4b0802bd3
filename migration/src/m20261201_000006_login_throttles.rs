//! Login throttling as one counter row per key, so that counting an
//! attempt is a single atomic upsert: parallel guesses cannot all read
//! "under the limit" before any of them is recorded (the rows-per-failure
//! table this replaces allowed exactly that).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginThrottles {
    Table,
    ThrottleKey,
    Hits,
    WindowStart,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottles::Table)
                    .col(
                        ColumnDef::new(LoginThrottles::ThrottleKey)
                            .string_len(80)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginThrottles::Hits).integer().not_null())
                    // unix seconds: compares the same on both backends
                    .col(
                        ColumnDef::new(LoginThrottles::WindowStart)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(LoginFailures::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginThrottles::Table).to_owned())
            .await
    }
}
