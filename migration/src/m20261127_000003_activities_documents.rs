//! Activities (tasks, events, calls, notes), documents, and each user's
//! calendar feed token.
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
    CalendarTokenHash,
    CalendarVersion,
}

#[derive(DeriveIden)]
enum Opportunities {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    TenantId,
    Kind,
    Subject,
    Note,
    OpportunityId,
    ContactId,
    AssigneeId,
    CreatedBy,
    DueAt,
    StartsAt,
    EndsAt,
    At,
    AtMs,
    Done,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    TenantId,
    OpportunityId,
    Kind,
    Title,
    Reference,
    AmountCents,
    Currency,
    Status,
    Url,
    CreatedAt,
    UpdatedAt,
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
        // Only a hash of the feed token is kept; the version lets a token be
        // re-derived (HMAC) for display and rotated by bumping it.
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(
                    ColumnDef::new(Users::CalendarTokenHash)
                        .string_len(64)
                        .null(),
                )
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(
                    ColumnDef::new(Users::CalendarVersion)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .take(),
        )
        .await?;
        index(
            m,
            "ux_users_calendar_token",
            Users::Table,
            &["calendar_token_hash"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Activities::Table)
                .col(
                    ColumnDef::new(Activities::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Activities::TenantId).uuid().not_null())
                .col(ColumnDef::new(Activities::Kind).string_len(8).not_null())
                .col(
                    ColumnDef::new(Activities::Subject)
                        .string_len(200)
                        .not_null(),
                )
                .col(ColumnDef::new(Activities::Note).text().null())
                .col(ColumnDef::new(Activities::OpportunityId).uuid().null())
                .col(ColumnDef::new(Activities::ContactId).uuid().null())
                .col(ColumnDef::new(Activities::AssigneeId).uuid().not_null())
                .col(ColumnDef::new(Activities::CreatedBy).uuid().not_null())
                .col(
                    ColumnDef::new(Activities::DueAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Activities::StartsAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Activities::EndsAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                // when the activity happens: dueAt, startsAt or createdAt by kind;
                // at_ms is the same instant as an integer, for portable ordering
                .col(
                    ColumnDef::new(Activities::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Activities::AtMs).big_integer().not_null())
                .col(
                    ColumnDef::new(Activities::Done)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new(Activities::CompletedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Activities::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Activities::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Activities::Table, Activities::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Activities::Table, Activities::OpportunityId)
                        .to(Opportunities::Table, Opportunities::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        index(
            m,
            "ix_activities_opportunity",
            Activities::Table,
            &["tenant_id", "opportunity_id", "done", "at_ms"],
            false,
        )
        .await?;
        index(
            m,
            "ix_activities_assignee",
            Activities::Table,
            &["tenant_id", "assignee_id", "at_ms"],
            false,
        )
        .await?;
        index(
            m,
            "ix_activities_contact",
            Activities::Table,
            &["tenant_id", "contact_id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_activities_at",
            Activities::Table,
            &["tenant_id", "at_ms", "id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Documents::Table)
                .col(
                    ColumnDef::new(Documents::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Documents::TenantId).uuid().not_null())
                .col(ColumnDef::new(Documents::OpportunityId).uuid().not_null())
                .col(ColumnDef::new(Documents::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Documents::Title).string_len(200).not_null())
                .col(ColumnDef::new(Documents::Reference).string_len(100).null())
                .col(ColumnDef::new(Documents::AmountCents).big_integer().null())
                .col(ColumnDef::new(Documents::Currency).string_len(3).null())
                .col(ColumnDef::new(Documents::Status).string_len(16).not_null())
                .col(ColumnDef::new(Documents::Url).string_len(2048).null())
                .col(
                    ColumnDef::new(Documents::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Documents::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Documents::Table, Documents::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Documents::Table, Documents::OpportunityId)
                        .to(Opportunities::Table, Opportunities::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        index(
            m,
            "ix_documents_opportunity",
            Documents::Table,
            &["tenant_id", "opportunity_id", "created_at"],
            false,
        )
        .await?;
        Ok(())
    }
}
