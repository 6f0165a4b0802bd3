//! The one error type of the API and its code table.
use sea_orm::{DbErr, SqlErr};

/// Every `extensions.code` the server answers with, on every transport,
/// with its HTTP status where the code is answered outside GraphQL
/// execution (GraphQL field errors travel in a 200). The README's error
/// table lists exactly these (a test reads it).
pub mod codes {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    pub const TIMEOUT: &str = "TIMEOUT";
    pub const INTERNAL: &str = "INTERNAL";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const CURSOR_EXPIRED: &str = "CURSOR_EXPIRED";

    /// Every code, for the README check.
    pub const ALL: &[&str] = &[
        UNAUTHENTICATED,
        FORBIDDEN,
        NOT_FOUND,
        BAD_USER_INPUT,
        CONFLICT,
        RATE_LIMITED,
        UNAVAILABLE,
        TIMEOUT,
        INTERNAL,
        BAD_REQUEST,
        METHOD_NOT_ALLOWED,
        NOT_ACCEPTABLE,
        UNSUPPORTED_MEDIA_TYPE,
        PAYLOAD_TOO_LARGE,
        LIMIT_EXCEEDED,
        GRAPHQL_PARSE_FAILED,
        GRAPHQL_VALIDATION_FAILED,
        CURSOR_EXPIRED,
    ];
}

/// Every failure a resolver can answer with. Each variant has exactly one
/// `extensions.code`; internal causes are logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    UnauthenticatedWith(&'static str),
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    BadInput {
        message: String,
        field: Option<&'static str>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again later")]
    RateLimited { retry_after_secs: i64 },
    /// The database (or another dependency) cannot answer right now.
    #[error("the service is briefly unavailable; retry shortly")]
    Unavailable { retry_after_secs: i64 },
    /// The request ran past its time limit and was stopped.
    #[error("the request ran past its time limit and was stopped")]
    Timeout,
    /// An event cursor older than the log's retention: what followed it
    /// is gone, so the client must refetch instead of resuming.
    #[error("this cursor is older than the event log keeps; refetch, then follow without it")]
    CursorExpired,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// One error shared by every caller of a batch (a DataLoader answers
    /// the same error to each key it failed).
    #[error("{0}")]
    Shared(std::sync::Arc<AppError>),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::UnauthenticatedWith(_) => codes::UNAUTHENTICATED,
            Self::Forbidden => codes::FORBIDDEN,
            Self::NotFound(_) => codes::NOT_FOUND,
            Self::BadInput { .. } => codes::BAD_USER_INPUT,
            Self::Conflict(_) => codes::CONFLICT,
            Self::RateLimited { .. } => codes::RATE_LIMITED,
            Self::Unavailable { .. } => codes::UNAVAILABLE,
            Self::Timeout => codes::TIMEOUT,
            Self::CursorExpired => codes::CURSOR_EXPIRED,
            Self::Internal(_) => codes::INTERNAL,
            Self::Shared(inner) => inner.code(),
        }
    }

    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadInput {
            message: message.into(),
            field: Some(field),
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    /// Maps a unique-key violation to the error the caller should see;
    /// everything else goes through the constraint table and the
    /// database-error classification of `From<DbErr>`.
    pub fn from_unique(e: DbErr, on_duplicate: impl FnOnce() -> AppError) -> AppError {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => on_duplicate(),
            _ => e.into(),
        }
    }

    /// The status of this error on a plain HTTP endpoint (not GraphQL).
    pub fn rest_status(&self) -> u16 {
        match self {
            Self::Unauthenticated | Self::UnauthenticatedWith(_) => 401,
            Self::Forbidden => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::BadInput { .. } => 422,
            Self::RateLimited { .. } => 429,
            Self::Unavailable { .. } => 503,
            Self::Timeout => 503,
            Self::CursorExpired => 410,
            Self::Internal(_) => 500,
            Self::Shared(inner) => inner.rest_status(),
        }
    }
}

/// A unique constraint the API knows, with the answer a violation gets.
/// PostgreSQL names the constraint; SQLite names its columns.
struct Constraint {
    name: &'static str,
    sqlite_columns: &'static str,
    field: &'static str,
    message: &'static str,
}

const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "ux_tenants_slug",
        sqlite_columns: "tenants.slug",
        field: "tenantSlug",
        message: "this tenant slug is already taken",
    },
    Constraint {
        name: "ux_users_tenant_email",
        sqlite_columns: "users.tenant_id, users.email",
        field: "email",
        message: "a user with this email already exists",
    },
    Constraint {
        name: "ux_pipelines_tenant_name",
        sqlite_columns: "pipelines.tenant_id, pipelines.name",
        field: "name",
        message: "a pipeline with this name already exists",
    },
    Constraint {
        name: "ux_stages_pipeline_name",
        sqlite_columns: "stages.tenant_id, stages.pipeline_id, stages.name",
        field: "name",
        message: "a stage with this name already exists in the pipeline (deleted stages keep their names)",
    },
    Constraint {
        name: "ux_sources_tenant_name",
        sqlite_columns: "sources.tenant_id, sources.name",
        field: "name",
        message: "a source with this name already exists",
    },
    Constraint {
        name: "ux_exchange_rates_tenant_currency",
        sqlite_columns: "exchange_rates.tenant_id, exchange_rates.currency",
        field: "currency",
        message: "a rate for this currency already exists",
    },
    Constraint {
        name: "ux_opportunity_contacts",
        sqlite_columns: "opportunity_contacts.tenant_id, opportunity_contacts.opportunity_id, opportunity_contacts.contact_id",
        field: "contactId",
        message: "this contact is already on the opportunity",
    },
    Constraint {
        name: "ux_opportunity_team",
        sqlite_columns: "opportunity_team.tenant_id, opportunity_team.opportunity_id, opportunity_team.user_id",
        field: "userId",
        message: "this user is already on the opportunity's team",
    },
    Constraint {
        name: "ux_tags_tenant_name",
        sqlite_columns: "tags.tenant_id, tags.name_key",
        field: "name",
        message: "a tag with this name already exists",
    },
    Constraint {
        name: "ux_custom_fields_key",
        sqlite_columns: "custom_fields.tenant_id, custom_fields.entity, custom_fields.key",
        field: "key",
        message: "a custom field with this key already exists",
    },
    Constraint {
        name: "ux_saved_views_name",
        sqlite_columns: "saved_views.tenant_id, saved_views.owner_id, saved_views.name",
        field: "name",
        message: "you already have a saved view with this name",
    },
    Constraint {
        name: "ux_opportunities_external_id",
        sqlite_columns: "opportunities.tenant_id, opportunities.external_id",
        field: "externalId",
        message: "an opportunity with this external id already exists",
    },
    Constraint {
        name: "ux_contacts_external_id",
        sqlite_columns: "contacts.tenant_id, contacts.external_id",
        field: "externalId",
        message: "a contact with this external id already exists",
    },
];

/// The answer for a violated unique constraint, by its name.
fn unique_violation(db: &dyn sea_orm::sqlx::error::DatabaseError) -> Option<AppError> {
    let message = db.message();
    let c = match db.constraint() {
        Some(name) => CONSTRAINTS.iter().find(|c| c.name == name),
        None => message
            .strip_prefix("UNIQUE constraint failed: ")
            .and_then(|cols| CONSTRAINTS.iter().find(|c| c.sqlite_columns == cols)),
    }?;
    Some(AppError::bad_input(c.field, c.message))
}

/// Reads a database failure for what the client should be told. The
/// cause itself is logged by the caller, never sent.
fn classify(e: &DbErr) -> Option<AppError> {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let unavailable = Some(AppError::Unavailable {
        retry_after_secs: 2,
    });
    let runtime = match e {
        // no connection could be had or made: the database is away
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return unavailable,
        DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return None,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return None;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => unavailable,
        Sqlx::Database(db) => {
            let code = db.code();
            match code.as_deref() {
                // PostgreSQL: statement_timeout / a cancelled statement
                Some("57014") => Some(AppError::Timeout),
                // PostgreSQL shutting down, starting, or refusing
                // connections; SQLite busy or locked
                Some(
                    "57P01" | "57P02" | "57P03" | "55000" | "53300" | "08000" | "08003" | "08006"
                    | "5" | "6" | "517" | "261" | "262",
                ) => unavailable,
                // serialization failure or deadlock: a concurrent writer won
                Some("40001" | "40P01") => Some(AppError::Conflict(
                    "a concurrent change got there first; retry".into(),
                )),
                // values the column types cannot hold
                Some("22021" | "22008" | "22003" | "22007" | "22P05") => Some(AppError::BadInput {
                    message: "a value is outside what can be stored".into(),
                    field: None,
                }),
                _ if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    unique_violation(db.as_ref())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        match classify(&e) {
            Some(mapped) => {
                tracing::warn!(error = %chain(&e), code = mapped.code(), "database error answered as {}", mapped.code());
                mapped
            }
            None => Self::Internal(Box::new(e)),
        }
    }
}

pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
