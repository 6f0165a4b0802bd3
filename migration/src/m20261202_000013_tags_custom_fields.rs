//! Tags and custom fields: a tenant's own labels and fields on
//! opportunities and contacts. Values live in one table per owner (so a
//! deleted opportunity or contact takes its values with it), one row per
//! value (a MULTI_SELECT has one row per chosen option), in a typed
//! column the filters compare through an index on
//! `(tenant, field, value, owner)`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261127_000002_pipeline_core::{
    fk, flag, index, int, text, text_null, ts, uuid_col, uuid_null, uuid_pk,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Tags {
    Table,
    Id,
    TenantId,
    Name,
    NameKey,
    Color,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomFields {
    Table,
    Id,
    TenantId,
    Entity,
    Key,
    Label,
    Kind,
    Required,
    Position,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomFieldOptions {
    Table,
    Id,
    TenantId,
    FieldId,
    Label,
    Position,
    Archived,
}

#[derive(DeriveIden, Clone, Copy)]
enum Opportunities {
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
}

/// The tables of this migration, under row-level security.
const TABLES: &[&str] = &[
    "tags",
    "opportunity_tags",
    "contact_tags",
    "custom_fields",
    "custom_field_options",
    "opportunity_field_values",
    "contact_field_values",
];

/// A link table from an owner (opportunity or contact) to a tag.
async fn tag_links(
    m: &SchemaManager<'_>,
    table: &str,
    owner: &str,
    owners: impl IntoIden + Copy,
) -> Result<(), DbErr> {
    let t = Alias::new(table);
    let o = Alias::new(owner);
    m.create_table(
        Table::create()
            .table(t.clone())
            .col(uuid_pk(Alias::new("id")))
            .col(uuid_col(Alias::new("tenant_id")))
            .col(uuid_col(o.clone()))
            .col(uuid_col(Alias::new("tag_id")))
            .foreign_key(&mut fk(
                (t.clone(), o.clone()),
                (owners, Alias::new("id")),
                true,
            ))
            .foreign_key(&mut fk(
                (t.clone(), Alias::new("tag_id")),
                (Tags::Table, Tags::Id),
                true,
            ))
            .take(),
    )
    .await?;
    index(
        m,
        &format!("ux_{table}"),
        t.clone(),
        &["tenant_id", owner, "tag_id"],
        true,
    )
    .await?;
    index(
        m,
        &format!("ix_{table}_tag"),
        t,
        &["tenant_id", "tag_id", owner],
        false,
    )
    .await
}

/// A value table: one typed value per row.
async fn value_table(
    m: &SchemaManager<'_>,
    table: &str,
    owner: &str,
    owners: impl IntoIden + Copy,
) -> Result<(), DbErr> {
    let t = Alias::new(table);
    let o = Alias::new(owner);
    m.create_table(
        Table::create()
            .table(t.clone())
            .col(uuid_pk(Alias::new("id")))
            .col(uuid_col(Alias::new("tenant_id")))
            .col(uuid_col(o.clone()))
            .col(uuid_col(Alias::new("field_id")))
            .col(uuid_null(Alias::new("option_id")))
            .col(text_null(Alias::new("text_value"), 500))
            .col(ColumnDef::new(Alias::new("num_value")).big_integer().null())
            .col(ColumnDef::new(Alias::new("date_value")).date().null())
            .foreign_key(&mut fk(
                (t.clone(), o.clone()),
                (owners, Alias::new("id")),
                true,
            ))
            .foreign_key(&mut fk(
                (t.clone(), Alias::new("field_id")),
                (CustomFields::Table, CustomFields::Id),
                true,
            ))
            .foreign_key(&mut fk(
                (t.clone(), Alias::new("option_id")),
                (CustomFieldOptions::Table, CustomFieldOptions::Id),
                false,
            ))
            .take(),
    )
    .await?;
    index(
        m,
        &format!("ix_{table}_owner"),
        t.clone(),
        &["tenant_id", owner],
        false,
    )
    .await?;
    for (suffix, col) in [
        ("num", "num_value"),
        ("date", "date_value"),
        ("text", "text_value"),
        ("option", "option_id"),
    ] {
        index(
            m,
            &format!("ix_{table}_{suffix}"),
            t.clone(),
            &["tenant_id", "field_id", col, owner],
            false,
        )
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tags::Table)
                .col(uuid_pk(Tags::Id))
                .col(uuid_col(Tags::TenantId))
                .col(text(Tags::Name, 50))
                .col(text(Tags::NameKey, 50))
                .col(text(Tags::Color, 7))
                .col(ts(Tags::CreatedAt))
                .col(ts(Tags::UpdatedAt))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_tags_tenant_name",
            Tags::Table,
            &["tenant_id", "name_key"],
            true,
        )
        .await?;
        tag_links(
            m,
            "opportunity_tags",
            "opportunity_id",
            Opportunities::Table,
        )
        .await?;
        tag_links(m, "contact_tags", "contact_id", Contacts::Table).await?;

        m.create_table(
            Table::create()
                .table(CustomFields::Table)
                .col(uuid_pk(CustomFields::Id))
                .col(uuid_col(CustomFields::TenantId))
                .col(text(CustomFields::Entity, 20))
                .col(text(CustomFields::Key, 50))
                .col(text(CustomFields::Label, 100))
                .col(text(CustomFields::Kind, 20))
                .col(flag(CustomFields::Required))
                .col(int(CustomFields::Position))
                .col(flag(CustomFields::Archived))
                .col(ts(CustomFields::CreatedAt))
                .col(ts(CustomFields::UpdatedAt))
                .take(),
        )
        .await?;
        index(
            m,
            "ux_custom_fields_key",
            CustomFields::Table,
            &["tenant_id", "entity", "key"],
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CustomFieldOptions::Table)
                .col(uuid_pk(CustomFieldOptions::Id))
                .col(uuid_col(CustomFieldOptions::TenantId))
                .col(uuid_col(CustomFieldOptions::FieldId))
                .col(text(CustomFieldOptions::Label, 100))
                .col(int(CustomFieldOptions::Position))
                .col(flag(CustomFieldOptions::Archived))
                .foreign_key(&mut fk(
                    (CustomFieldOptions::Table, CustomFieldOptions::FieldId),
                    (CustomFields::Table, CustomFields::Id),
                    true,
                ))
                .take(),
        )
        .await?;
        index(
            m,
            "ix_custom_field_options_field",
            CustomFieldOptions::Table,
            &["tenant_id", "field_id", "position"],
            false,
        )
        .await?;
        value_table(
            m,
            "opportunity_field_values",
            "opportunity_id",
            Opportunities::Table,
        )
        .await?;
        value_table(m, "contact_field_values", "contact_id", Contacts::Table).await?;

        crate::m20261201_000007_row_level_security::protect(m, TABLES).await?;
        if m.get_database_backend() == DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared(&crate::m20261201_000008_tenant_foreign_keys::twins_for(
                    TABLES,
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES.iter().rev() {
            m.drop_table(Table::drop().table(Alias::new(*t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
