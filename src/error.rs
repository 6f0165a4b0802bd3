//! The one error type of the API and its code table.
use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

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
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An error already shaped for GraphQL (and logged), passed along.
    #[error("{}", .0.message)]
    Relayed(async_graphql::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::UnauthenticatedWith(_) => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadInput { .. } => "BAD_USER_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Internal(_) => "INTERNAL",
            Self::Relayed(_) => "INTERNAL",
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

    /// Maps a unique-key violation to the error the caller should see, and
    /// everything else to INTERNAL. The one place that knows how each
    /// backend reports duplicates.
    pub fn from_unique(e: DbErr, on_duplicate: impl FnOnce() -> AppError) -> AppError {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => on_duplicate(),
            _ => e.into(),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        Self::Internal(Box::new(e))
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// `AppError` as resolvers return it. A separate type because
/// async-graphql's blanket `From<T: Display>` would turn an `AppError`
/// into a bare message and drop its `extensions.code`.
/// The error is extended (and an internal one logged) on conversion.
#[derive(Clone, Debug)]
pub struct GqlError(async_graphql::Error);

pub type GqlResult<T> = Result<T, GqlError>;

impl From<AppError> for GqlError {
    fn from(e: AppError) -> Self {
        Self(e.extend())
    }
}

impl AppError {
    /// Carries an already-answered error (from a DataLoader) through code
    /// that speaks `AppError`.
    pub fn from_gql(e: GqlError) -> Self {
        AppError::Relayed(e.0)
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(e: GqlError) -> Self {
        e.0
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Relayed(e) = self {
            return e.clone();
        }
        if let Self::Internal(cause) = self {
            // the request span carries the request id
            tracing::error!(error = %chain(cause.as_ref()), "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Self::BadInput {
                    field: Some(field), ..
                } => ext.set("field", *field),
                Self::RateLimited { retry_after_secs } => {
                    ext.set("retryAfterSeconds", *retry_after_secs)
                }
                _ => {}
            }
        })
    }
}
