use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    Slug,
    Currency,
    Timezone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Email,
    Name,
    Role,
    Active,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    TenantId,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Id,
    ThrottleKey,
    FailedAt,
}

fn uuid_pk<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().primary_key().take()
}
fn uuid_col<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().take()
}
fn text<T: IntoIden>(c: T, len: u32) -> ColumnDef {
    ColumnDef::new(c).string_len(len).not_null().take()
}
fn ts<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}
fn ts_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).timestamp_with_time_zone().null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(uuid_pk(Tenants::Id))
                .col(text(Tenants::Name, 200))
                .col(text(Tenants::Slug, 63))
                .col(text(Tenants::Currency, 3))
                .col(text(Tenants::Timezone, 64))
                .col(ts(Tenants::CreatedAt))
                .col(ts(Tenants::UpdatedAt))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_tenants_slug")
                .table(Tenants::Table)
                .col(Tenants::Slug)
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid_pk(Users::Id))
                .col(uuid_col(Users::TenantId))
                // stored lower-cased: uniqueness and login are case-insensitive
                .col(text(Users::Email, 254))
                .col(text(Users::Name, 200))
                .col(text(Users::Role, 16))
                .col(
                    ColumnDef::new(Users::Active)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(text(Users::PasswordHash, 255))
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_users_tenant_email")
                .table(Users::Table)
                .col(Users::TenantId)
                .col(Users::Email)
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(uuid_pk(RefreshTokens::Id))
                .col(uuid_col(RefreshTokens::TenantId))
                .col(uuid_col(RefreshTokens::UserId))
                .col(uuid_col(RefreshTokens::FamilyId))
                .col(text(RefreshTokens::TokenHash, 64))
                .col(ts(RefreshTokens::ExpiresAt))
                .col(ts_null(RefreshTokens::UsedAt))
                .col(ts_null(RefreshTokens::RevokedAt))
                .col(ts(RefreshTokens::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        // looked up by hash before the tenant is known, so the hash is unique on its own
        m.create_index(
            Index::create()
                .name("ux_refresh_tokens_hash")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::TokenHash)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_family")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::TenantId)
                .col(RefreshTokens::FamilyId)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_user")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::TenantId)
                .col(RefreshTokens::UserId)
                .take(),
        )
        .await?;

        // Keyed by tenant slug + email rather than ids, so that unknown
        // tenants and emails are throttled exactly like real ones.
        m.create_table(
            Table::create()
                .table(LoginFailures::Table)
                .col(uuid_pk(LoginFailures::Id))
                .col(text(LoginFailures::ThrottleKey, 64))
                .col(ts(LoginFailures::FailedAt))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_login_failures_key_time")
                .table(LoginFailures::Table)
                .col(LoginFailures::ThrottleKey)
                .col(LoginFailures::FailedAt)
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(LoginFailures::Table).take())
            .await?;
        m.drop_table(Table::drop().table(RefreshTokens::Table).take())
            .await?;
        m.drop_table(Table::drop().table(Users::Table).take())
            .await?;
        m.drop_table(Table::drop().table(Tenants::Table).take())
            .await
    }
}
