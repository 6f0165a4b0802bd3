//! The kernel's error type as GraphQL answers it: `extensions.code` from
//! the one code table, plus `field` and `retryAfterSeconds` where they apply.
use async_graphql::ErrorExtensions;

pub use crm_core::error::*;

/// Shapes an `AppError` as a GraphQL error, logging an internal cause once
/// (the request span carries the request id). A trait of this crate because
/// `AppError` lives in the kernel, which knows nothing of GraphQL.
pub trait ToGraphql {
    fn extend(&self) -> async_graphql::Error;
}

impl ToGraphql for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Shared(inner) = self {
            return inner.extend();
        }
        if let Self::Internal(cause) = self {
            tracing::error!(error = %chain(cause.as_ref()), "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Self::BadInput {
                    field: Some(field), ..
                } => ext.set("field", *field),
                Self::RateLimited { retry_after_secs } | Self::Unavailable { retry_after_secs } => {
                    ext.set("retryAfterSeconds", *retry_after_secs)
                }
                _ => {}
            }
        })
    }
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

impl From<std::sync::Arc<AppError>> for GqlError {
    fn from(e: std::sync::Arc<AppError>) -> Self {
        Self(e.extend())
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(e: GqlError) -> Self {
        e.0
    }
}

impl ErrorExtensions for GqlError {
    fn extend(&self) -> async_graphql::Error {
        self.0.clone()
    }
}
