//! Marks of the transitions the server raises itself (an opportunity
//! becoming LATE, a task becoming overdue). Each mark records the due
//! value it was raised for, so a conditional UPDATE claims each transition
//! exactly once across restarts and instances, and moving the due date
//! re-arms it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Opportunities {
    Table,
    DueDate,
    LateMarkedDue,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    DueAt,
    OverdueMarkedDue,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Opportunities::Table)
                    .add_column(ColumnDef::new(Opportunities::LateMarkedDue).date().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Activities::Table)
                    .add_column(
                        ColumnDef::new(Activities::OverdueMarkedDue)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // What was already past due before this release is not news: mark
        // it, so the first sweep does not raise years of old transitions.
        manager
            .exec_stmt(
                Query::update()
                    .table(Opportunities::Table)
                    .value(
                        Opportunities::LateMarkedDue,
                        Expr::col(Opportunities::DueDate),
                    )
                    .and_where(Expr::col(Opportunities::DueDate).is_not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Activities::Table)
                    .value(Activities::OverdueMarkedDue, Expr::col(Activities::DueAt))
                    .and_where(Expr::col(Activities::DueAt).is_not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Activities::Table)
                    .drop_column(Activities::OverdueMarkedDue)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Opportunities::Table)
                    .drop_column(Opportunities::LateMarkedDue)
                    .to_owned(),
            )
            .await
    }
}
