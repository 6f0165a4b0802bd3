//! Pipelines, stages, sources, exchange rates, contacts, opportunities and
//! their history. Money is stored in integer minor units (cents) and rates
//! in integer billionths, so that SQL on SQLite and PostgreSQL alike does
//! exact arithmetic.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    OpportunitySeq,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Pipelines {
    Table,
    Id,
    TenantId,
    Name,
    Position,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Stages {
    Table,
    Id,
    TenantId,
    PipelineId,
    Name,
    Position,
    Probability,
    RottenAfterDays,
    Deleted,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    TenantId,
    Name,
    Archived,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExchangeRates {
    Table,
    Id,
    TenantId,
    Currency,
    RateNanos,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    TenantId,
    Kind,
    Lifecycle,
    Name,
    Email,
    Phone,
    CompanyId,
    SourceId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Opportunities {
    Table,
    Id,
    TenantId,
    Number,
    Reference,
    Title,
    PipelineId,
    StageId,
    Status,
    ProbabilityOverride,
    PotentialCents,
    Currency,
    DueDate,
    OwnerId,
    SourceId,
    LostReason,
    ClosedAt,
    StageEnteredAt,
    LastActivityAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OpportunityContacts {
    Table,
    Id,
    TenantId,
    OpportunityId,
    ContactId,
    Role,
    IsPrimary,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OpportunityTeam {
    Table,
    Id,
    TenantId,
    OpportunityId,
    UserId,
}

#[derive(DeriveIden)]
enum StageChanges {
    Table,
    Id,
    TenantId,
    OpportunityId,
    FromStageId,
    ToStageId,
    ChangedBy,
    ChangedAt,
}

#[derive(DeriveIden)]
enum OpportunityChanges {
    Table,
    Id,
    TenantId,
    OpportunityId,
    Field,
    FromValue,
    ToValue,
    ChangedBy,
    ChangedAt,
}

pub(crate) fn uuid_pk<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().primary_key().take()
}
pub(crate) fn uuid_col<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().take()
}
pub(crate) fn uuid_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().null().take()
}
pub(crate) fn text<T: IntoIden>(c: T, len: u32) -> ColumnDef {
    ColumnDef::new(c).string_len(len).not_null().take()
}
pub(crate) fn text_null<T: IntoIden>(c: T, len: u32) -> ColumnDef {
    ColumnDef::new(c).string_len(len).null().take()
}
pub(crate) fn int<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).integer().not_null().take()
}
fn int_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).integer().null().take()
}
pub(crate) fn flag<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).boolean().not_null().default(false).take()
}
pub(crate) fn ts<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}
pub(crate) fn ts_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).timestamp_with_time_zone().null().take()
}
pub(crate) fn fk(
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

pub(crate) async fn index(
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
        // per-tenant counter behind the human references "OPP-1", "OPP-2", ...
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(
                    ColumnDef::new(Tenants::OpportunitySeq)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Pipelines::Table)
                .col(uuid_pk(Pipelines::Id))
                .col(uuid_col(Pipelines::TenantId))
                .col(text(Pipelines::Name, 100))
                .col(int(Pipelines::Position))
                .col(flag(Pipelines::Archived))
                .col(ts(Pipelines::CreatedAt))
                .col(ts(Pipelines::UpdatedAt))
                .foreign_key(&mut fk(
                    (Pipelines::Table, Pipelines::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_pipelines_tenant_name",
            Pipelines::Table,
            &["tenant_id", "name"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Stages::Table)
                .col(uuid_pk(Stages::Id))
                .col(uuid_col(Stages::TenantId))
                .col(uuid_col(Stages::PipelineId))
                .col(text(Stages::Name, 100))
                .col(int(Stages::Position))
                .col(int(Stages::Probability))
                .col(int_null(Stages::RottenAfterDays))
                // deleted stages stay, so that history keeps pointing somewhere
                .col(flag(Stages::Deleted))
                .col(ts(Stages::CreatedAt))
                .col(ts(Stages::UpdatedAt))
                .foreign_key(&mut fk(
                    (Stages::Table, Stages::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .foreign_key(&mut fk(
                    (Stages::Table, Stages::PipelineId),
                    (Pipelines::Table, Pipelines::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_stages_pipeline_name",
            Stages::Table,
            &["tenant_id", "pipeline_id", "name"],
            true,
        )
        .await?;
        index(
            m,
            "ix_stages_pipeline_position",
            Stages::Table,
            &["tenant_id", "pipeline_id", "position"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sources::Table)
                .col(uuid_pk(Sources::Id))
                .col(uuid_col(Sources::TenantId))
                .col(text(Sources::Name, 100))
                .col(flag(Sources::Archived))
                .col(ts(Sources::CreatedAt))
                .foreign_key(&mut fk(
                    (Sources::Table, Sources::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_sources_tenant_name",
            Sources::Table,
            &["tenant_id", "name"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ExchangeRates::Table)
                .col(uuid_pk(ExchangeRates::Id))
                .col(uuid_col(ExchangeRates::TenantId))
                .col(text(ExchangeRates::Currency, 3))
                .col(
                    ColumnDef::new(ExchangeRates::RateNanos)
                        .big_integer()
                        .not_null(),
                )
                .col(ts(ExchangeRates::UpdatedAt))
                .foreign_key(&mut fk(
                    (ExchangeRates::Table, ExchangeRates::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_exchange_rates_tenant_currency",
            ExchangeRates::Table,
            &["tenant_id", "currency"],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Contacts::Table)
                .col(uuid_pk(Contacts::Id))
                .col(uuid_col(Contacts::TenantId))
                .col(text(Contacts::Kind, 16))
                .col(text(Contacts::Lifecycle, 16))
                .col(text(Contacts::Name, 200))
                .col(text_null(Contacts::Email, 254))
                .col(text_null(Contacts::Phone, 50))
                .col(uuid_null(Contacts::CompanyId))
                .col(uuid_null(Contacts::SourceId))
                .col(ts(Contacts::CreatedAt))
                .col(ts(Contacts::UpdatedAt))
                .foreign_key(&mut fk(
                    (Contacts::Table, Contacts::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ix_contacts_tenant_name",
            Contacts::Table,
            &["tenant_id", "name", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_contacts_tenant_email",
            Contacts::Table,
            &["tenant_id", "email"],
            false,
        )
        .await?;
        index(
            m,
            "ix_contacts_tenant_company",
            Contacts::Table,
            &["tenant_id", "company_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Opportunities::Table)
                .col(uuid_pk(Opportunities::Id))
                .col(uuid_col(Opportunities::TenantId))
                .col(
                    ColumnDef::new(Opportunities::Number)
                        .big_integer()
                        .not_null(),
                )
                .col(text(Opportunities::Reference, 32))
                .col(text(Opportunities::Title, 200))
                .col(uuid_col(Opportunities::PipelineId))
                .col(uuid_col(Opportunities::StageId))
                .col(text(Opportunities::Status, 8))
                .col(int_null(Opportunities::ProbabilityOverride))
                .col(
                    ColumnDef::new(Opportunities::PotentialCents)
                        .big_integer()
                        .not_null(),
                )
                .col(text(Opportunities::Currency, 3))
                .col(ColumnDef::new(Opportunities::DueDate).date().null())
                .col(uuid_col(Opportunities::OwnerId))
                .col(uuid_null(Opportunities::SourceId))
                .col(text_null(Opportunities::LostReason, 500))
                .col(ts_null(Opportunities::ClosedAt))
                .col(ts(Opportunities::StageEnteredAt))
                .col(ts_null(Opportunities::LastActivityAt))
                .col(int(Opportunities::Version))
                .col(ts(Opportunities::CreatedAt))
                .col(ts(Opportunities::UpdatedAt))
                .foreign_key(&mut fk(
                    (Opportunities::Table, Opportunities::TenantId),
                    (Tenants::Table, Tenants::Id),
                    true,
                ))
                .foreign_key(&mut fk(
                    (Opportunities::Table, Opportunities::StageId),
                    (Stages::Table, Stages::Id),
                    false,
                ))
                .foreign_key(&mut fk(
                    (Opportunities::Table, Opportunities::OwnerId),
                    (Users::Table, Users::Id),
                    false,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_opportunities_reference",
            Opportunities::Table,
            &["tenant_id", "reference"],
            true,
        )
        .await?;
        // board columns and the default list order
        index(
            m,
            "ix_opportunities_stage",
            Opportunities::Table,
            &["tenant_id", "stage_id", "status", "created_at", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_opportunities_created",
            Opportunities::Table,
            &["tenant_id", "created_at", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_opportunities_updated",
            Opportunities::Table,
            &["tenant_id", "updated_at", "id"],
            false,
        )
        .await?;
        index(
            m,
            "ix_opportunities_due",
            Opportunities::Table,
            &["tenant_id", "status", "due_date"],
            false,
        )
        .await?;
        index(
            m,
            "ix_opportunities_pipeline",
            Opportunities::Table,
            &["tenant_id", "pipeline_id", "status"],
            false,
        )
        .await?;
        index(
            m,
            "ix_opportunities_owner",
            Opportunities::Table,
            &["tenant_id", "owner_id", "status"],
            false,
        )
        .await?;
        index(
            m,
            "ix_opportunities_source",
            Opportunities::Table,
            &["tenant_id", "source_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OpportunityContacts::Table)
                .col(uuid_pk(OpportunityContacts::Id))
                .col(uuid_col(OpportunityContacts::TenantId))
                .col(uuid_col(OpportunityContacts::OpportunityId))
                .col(uuid_col(OpportunityContacts::ContactId))
                .col(text_null(OpportunityContacts::Role, 100))
                .col(flag(OpportunityContacts::IsPrimary))
                .col(ts(OpportunityContacts::CreatedAt))
                .foreign_key(&mut fk(
                    (
                        OpportunityContacts::Table,
                        OpportunityContacts::OpportunityId,
                    ),
                    (Opportunities::Table, Opportunities::Id),
                    true,
                ))
                .foreign_key(&mut fk(
                    (OpportunityContacts::Table, OpportunityContacts::ContactId),
                    (Contacts::Table, Contacts::Id),
                    false,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_opportunity_contacts",
            OpportunityContacts::Table,
            &["tenant_id", "opportunity_id", "contact_id"],
            true,
        )
        .await?;
        index(
            m,
            "ix_opportunity_contacts_contact",
            OpportunityContacts::Table,
            &["tenant_id", "contact_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OpportunityTeam::Table)
                .col(uuid_pk(OpportunityTeam::Id))
                .col(uuid_col(OpportunityTeam::TenantId))
                .col(uuid_col(OpportunityTeam::OpportunityId))
                .col(uuid_col(OpportunityTeam::UserId))
                .foreign_key(&mut fk(
                    (OpportunityTeam::Table, OpportunityTeam::OpportunityId),
                    (Opportunities::Table, Opportunities::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_opportunity_team",
            OpportunityTeam::Table,
            &["tenant_id", "opportunity_id", "user_id"],
            true,
        )
        .await?;
        index(
            m,
            "ix_opportunity_team_user",
            OpportunityTeam::Table,
            &["tenant_id", "user_id"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StageChanges::Table)
                .col(uuid_pk(StageChanges::Id))
                .col(uuid_col(StageChanges::TenantId))
                .col(uuid_col(StageChanges::OpportunityId))
                .col(uuid_null(StageChanges::FromStageId))
                .col(uuid_col(StageChanges::ToStageId))
                .col(uuid_null(StageChanges::ChangedBy))
                .col(ts(StageChanges::ChangedAt))
                .foreign_key(&mut fk(
                    (StageChanges::Table, StageChanges::OpportunityId),
                    (Opportunities::Table, Opportunities::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ix_stage_changes_opportunity",
            StageChanges::Table,
            &["tenant_id", "opportunity_id", "changed_at"],
            false,
        )
        .await?;
        index(
            m,
            "ix_stage_changes_to_stage",
            StageChanges::Table,
            &["tenant_id", "to_stage_id", "changed_at"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OpportunityChanges::Table)
                .col(uuid_pk(OpportunityChanges::Id))
                .col(uuid_col(OpportunityChanges::TenantId))
                .col(uuid_col(OpportunityChanges::OpportunityId))
                .col(text(OpportunityChanges::Field, 40))
                .col(ColumnDef::new(OpportunityChanges::FromValue).text().null())
                .col(ColumnDef::new(OpportunityChanges::ToValue).text().null())
                .col(uuid_null(OpportunityChanges::ChangedBy))
                .col(ts(OpportunityChanges::ChangedAt))
                .foreign_key(&mut fk(
                    (OpportunityChanges::Table, OpportunityChanges::OpportunityId),
                    (Opportunities::Table, Opportunities::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ix_opportunity_changes_opportunity",
            OpportunityChanges::Table,
            &["tenant_id", "opportunity_id", "changed_at"],
            false,
        )
        .await?;
        Ok(())
    }
}
