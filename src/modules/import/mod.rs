//! CSV imports as GraphQL shows them. The file itself is sent to
//! `POST /import/opportunities.csv` or `/import/contacts.csv`; its columns
//! are mapped and the run started and followed here.
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::auth::ContextAuth;
use crate::domain::{ImportJobId, StageId};
use crate::error::{AppError, AppResult, GqlResult};
use crate::graphql::ContextState;
use crate::modules::account::types::UserGql;
use crate::modules::opportunity::types::user_opt;
use crate::state::AppState;
use crm_core::modules::import::{self as service, ColumnMapping, Target};

mod subscription;
pub use subscription::ImportSubscription;

/// What an import file holds.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::import::ImportEntity")]
pub enum ImportEntity {
    Opportunity,
    Contact,
}

/// Where an import is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::import::ImportStatus")]
pub enum ImportStatus {
    /// The file is still arriving.
    Uploading,
    /// The file is here: map its columns, then dry-run or start it.
    Uploaded,
    /// A dry run is checking every row.
    Validating,
    /// A dry run finished: read its `errors`, then start it for real.
    Validated,
    Running,
    Completed,
    Cancelled,
    /// Stopped by the server, not by a row (its instance went away): start
    /// it again and it goes on after the last rows it had committed, with
    /// their counts and errors; a dry run starts over.
    Failed,
}

/// Where a column goes. `CUSTOM_FIELD` takes a `customFieldKey`.
/// Opportunities: TITLE (required), POTENTIAL, CURRENCY, DUE_DATE,
/// PIPELINE, STAGE, STATUS, LOST_REASON, PROBABILITY, OWNER (email or
/// name), SOURCE (name), CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE,
/// COMPANY, TAGS, EXTERNAL_ID. Contacts: NAME (required), KIND, EMAIL,
/// PHONE, COMPANY, SOURCE, TAGS, EXTERNAL_ID.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportField {
    /// Rows whose external id exists update that record.
    ExternalId,
    Title,
    Potential,
    Currency,
    DueDate,
    Pipeline,
    Stage,
    Status,
    LostReason,
    Probability,
    Owner,
    Source,
    ContactName,
    /// An existing contact with this email is linked, not duplicated.
    ContactEmail,
    ContactPhone,
    Company,
    Name,
    /// PERSON or COMPANY (English or French).
    Kind,
    /// An existing contact with this email is updated, not duplicated.
    Email,
    Phone,
    /// Names separated by `,`, `;` or `|`; missing tags are created.
    Tags,
    CustomField,
}

/// How the file writes numbers.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::import::parse::NumberFormat")]
pub enum ImportNumberFormat {
    /// Per cell: with both `,` and `.` the last is the decimal mark; one
    /// alone is the decimal mark unless it groups exactly three digits.
    Auto,
    /// `1,234.56`
    DotDecimal,
    /// `1 234,56` or `1.234,56`
    CommaDecimal,
}

/// How the file writes dates (ISO `2026-12-31` is always understood).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crm_core::modules::import::parse::DateFormat")]
pub enum ImportDateFormat {
    /// `31/12/2026`
    DayFirst,
    /// `12/31/2026`
    MonthFirst,
}

fn field_of(t: &Target) -> (ImportField, Option<String>) {
    use ImportField as F;
    let f = match t {
        Target::ExternalId => F::ExternalId,
        Target::Title => F::Title,
        Target::Potential => F::Potential,
        Target::Currency => F::Currency,
        Target::DueDate => F::DueDate,
        Target::Pipeline => F::Pipeline,
        Target::Stage => F::Stage,
        Target::Status => F::Status,
        Target::LostReason => F::LostReason,
        Target::Probability => F::Probability,
        Target::Owner => F::Owner,
        Target::Source => F::Source,
        Target::ContactName => F::ContactName,
        Target::ContactEmail => F::ContactEmail,
        Target::ContactPhone => F::ContactPhone,
        Target::Company => F::Company,
        Target::Name => F::Name,
        Target::Kind => F::Kind,
        Target::Email => F::Email,
        Target::Phone => F::Phone,
        Target::Tags => F::Tags,
        Target::Custom(k) => return (F::CustomField, Some(k.clone())),
    };
    (f, None)
}

fn target_of(f: ImportField, key: Option<String>) -> AppResult<Target> {
    use ImportField as F;
    Ok(match f {
        F::ExternalId => Target::ExternalId,
        F::Title => Target::Title,
        F::Potential => Target::Potential,
        F::Currency => Target::Currency,
        F::DueDate => Target::DueDate,
        F::Pipeline => Target::Pipeline,
        F::Stage => Target::Stage,
        F::Status => Target::Status,
        F::LostReason => Target::LostReason,
        F::Probability => Target::Probability,
        F::Owner => Target::Owner,
        F::Source => Target::Source,
        F::ContactName => Target::ContactName,
        F::ContactEmail => Target::ContactEmail,
        F::ContactPhone => Target::ContactPhone,
        F::Company => Target::Company,
        F::Name => Target::Name,
        F::Kind => Target::Kind,
        F::Email => Target::Email,
        F::Phone => Target::Phone,
        F::Tags => Target::Tags,
        F::CustomField => Target::Custom(key.ok_or_else(|| {
            AppError::bad_input("customFieldKey", "CUSTOM_FIELD needs a customFieldKey")
        })?),
    })
}

/// One column of the file and where it goes.
pub struct ImportColumn {
    column: usize,
    header: String,
    target: Option<Target>,
}

#[Object]
impl ImportColumn {
    /// Its position, from 0.
    async fn column(&self) -> i32 {
        i32::try_from(self.column).unwrap_or(i32::MAX)
    }
    /// Its header cell.
    async fn header(&self) -> &str {
        &self.header
    }
    /// Null: the column is not imported.
    async fn field(&self) -> Option<ImportField> {
        self.target.as_ref().map(|t| field_of(t).0)
    }
    async fn custom_field_key(&self) -> Option<String> {
        self.target.as_ref().and_then(|t| field_of(t).1)
    }
}

/// Why a row was not imported.
pub struct ImportRowError(entity::import_error::Model);

#[Object]
impl ImportRowError {
    /// The row number as a spreadsheet shows it (the header is row 1).
    async fn row(&self) -> i32 {
        self.0.row
    }
    /// The header of the column at fault, when one is.
    async fn column(&self) -> Option<&str> {
        self.0.column.as_deref()
    }
    /// The `extensions.code` the same input would get from the API.
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
}

/// A CSV import: its file's columns, the mapping suggested for them, and
/// the progress of its last run.
pub struct ImportJob(pub entity::import_job::Model);

#[Object]
impl ImportJob {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn entity(&self) -> GqlResult<ImportEntity> {
        Ok(service::ImportEntity::from_db(&self.0.entity)?.into())
    }
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    async fn status(&self) -> GqlResult<ImportStatus> {
        Ok(service::status(&self.0, crate::tenancy::now())?.into())
    }
    /// Whether the last run was a dry run (nothing written).
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// Rows in the file, the header aside.
    async fn total_rows(&self) -> i32 {
        self.0.total_rows
    }
    async fn processed_rows(&self) -> i32 {
        self.0.processed_rows
    }
    /// Records created (a dry run: that would be).
    async fn created_count(&self) -> i32 {
        self.0.created_count
    }
    /// Records updated, matched by external id (contacts: or email).
    async fn updated_count(&self) -> i32 {
        self.0.updated_count
    }
    /// Rows refused; the first 1,000 are listed in `errors`.
    async fn error_count(&self) -> i32 {
        self.0.error_count
    }
    /// 0 to 100.
    async fn percent(&self) -> i32 {
        service::percent(&self.0)
    }
    /// The header row, as uploaded.
    async fn headers(&self) -> Vec<String> {
        service::headers(&self.0)
    }
    /// Every column, with the field its header suggests (English or
    /// French names, or a custom field's key or label).
    async fn suggested_mapping(&self, ctx: &Context<'_>) -> GqlResult<Vec<ImportColumn>> {
        let headers = service::headers(&self.0);
        let s = service::suggestion(ctx.state()?, ctx.auth()?, &self.0).await?;
        Ok(s.into_iter()
            .map(|(i, target)| ImportColumn {
                column: i,
                header: headers.get(i).cloned().unwrap_or_default(),
                target,
            })
            .collect())
    }
    /// The mapping of the last run.
    async fn mapping(&self) -> Vec<ImportColumn> {
        let headers = service::headers(&self.0);
        service::mapping_of(&self.0)
            .into_iter()
            .map(|m| ImportColumn {
                column: m.column,
                header: headers.get(m.column).cloned().unwrap_or_default(),
                target: Some(m.target),
            })
            .collect()
    }
    async fn number_format(&self) -> ImportNumberFormat {
        service::options_of(&self.0).number_format.into()
    }
    async fn date_format(&self) -> ImportDateFormat {
        service::options_of(&self.0).date_format.into()
    }
    /// The refused rows of the last run, by row (at most `first`, 1 to
    /// 1,000).
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 100)")]
    async fn errors(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] first: i32,
    ) -> GqlResult<Vec<ImportRowError>> {
        let n = u64::try_from(first)
            .ok()
            .filter(|n| (1..=service::MAX_KEPT_ERRORS).contains(n))
            .ok_or_else(|| AppError::bad_input("first", "first must be 1 to 1000"))?;
        let scope = crate::tenancy::TenantScope(ctx.auth()?.tenant);
        let rows = service::errors(&ctx.state()?.db, scope, self.0.id, n).await?;
        Ok(rows.into_iter().map(ImportRowError).collect())
    }
    async fn created_by(&self, ctx: &Context<'_>) -> GqlResult<Option<UserGql>> {
        user_opt(ctx, Some(self.0.created_by)).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

/// One column's destination.
#[derive(InputObject)]
pub struct ImportColumnInput {
    /// Its position in the file, from 0. Columns left out are not imported.
    pub column: i32,
    pub field: ImportField,
    /// With `CUSTOM_FIELD`: the field's key.
    pub custom_field_key: Option<String>,
}

#[derive(InputObject)]
pub struct StartImportInput {
    pub import_id: ID,
    /// At most one column per field.
    pub mapping: Vec<ImportColumnInput>,
    #[graphql(default_with = "ImportNumberFormat::Auto")]
    pub number_format: ImportNumberFormat,
    #[graphql(default_with = "ImportDateFormat::DayFirst")]
    pub date_format: ImportDateFormat,
    /// Opportunities without a stage go here (default: the first stage of
    /// the first pipeline).
    pub default_stage_id: Option<ID>,
    /// Checks every row and lists its errors, writing nothing.
    #[graphql(default)]
    pub dry_run: bool,
}

fn mapping(input: Vec<ImportColumnInput>) -> AppResult<Vec<ColumnMapping>> {
    if input.len() > 200 {
        return Err(AppError::bad_input("mapping", "at most 200 columns"));
    }
    input
        .into_iter()
        .map(|c| {
            let column = usize::try_from(c.column)
                .map_err(|_| AppError::bad_input("mapping", "column must be 0 or more"))?;
            Ok(ColumnMapping {
                column,
                target: target_of(c.field, c.custom_field_key)?,
            })
        })
        .collect()
}

pub(super) async fn job(state: &AppState, ctx: &Context<'_>, id: &ID) -> AppResult<ImportJob> {
    let id = ImportJobId::parse(id)?.0;
    Ok(ImportJob(service::get(state, ctx.auth()?, id).await?))
}

#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// An import of your tenant (ADMIN and MANAGER).
    async fn import_job(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ImportJob> {
        Ok(job(ctx.state()?, ctx, &id).await?)
    }
    /// Your tenant's imports, newest first (ADMIN and MANAGER; at most
    /// `first`, 1 to 100).
    #[graphql(complexity = "crate::pagination::list_complexity(child_complexity, 20)")]
    async fn import_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> GqlResult<Vec<ImportJob>> {
        let n = u64::try_from(first)
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| AppError::bad_input("first", "first must be 1 to 100"))?;
        let rows = service::list(ctx.state()?, ctx.auth()?, n).await?;
        Ok(rows.into_iter().map(ImportJob).collect())
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Starts a run of an uploaded import: a dry run checks every row and
    /// lists the errors, writing nothing; a real run imports each row
    /// through the same checks as the API (a bad row is listed and never
    /// stops the others). Answers at once; follow it with the `importJob`
    /// query or subscription. CONFLICT when it is running or has ended;
    /// RATE_LIMITED while two imports run on the server.
    async fn start_import(
        &self,
        ctx: &Context<'_>,
        input: StartImportInput,
    ) -> GqlResult<ImportJob> {
        let state = ctx
            .data_opt::<std::sync::Arc<AppState>>()
            .ok_or_else(|| AppError::Internal("schema executed without AppState".into()))?;
        let id = ImportJobId::parse(&input.import_id)?.0;
        let options = service::ImportOptions {
            number_format: input.number_format.into(),
            date_format: input.date_format.into(),
            default_stage: input
                .default_stage_id
                .as_ref()
                .map(|s| StageId::parse(s).map(|s| s.0))
                .transpose()?,
        };
        let started = service::start(
            state,
            ctx.auth()?,
            ctx.tenant_settings()?.clone(),
            id,
            mapping(input.mapping)?,
            options,
            input.dry_run,
        )
        .await?;
        Ok(ImportJob(started))
    }

    /// Stops an import: a run stops within a hundred rows (what it
    /// imported stays) and the file is dropped. CONFLICT once it ended.
    async fn cancel_import(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ImportJob> {
        let id = ImportJobId::parse(&id)?.0;
        Ok(ImportJob(
            service::cancel(ctx.state()?, ctx.auth()?, id).await?,
        ))
    }
}
