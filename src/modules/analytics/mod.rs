//! Analytics: the forecast, source performance and the stage funnel. Every
//! count and sum is computed by the database; Rust only validates input,
//! lays out the buckets and names them.
pub mod resolvers;
pub use crm_core::modules::analytics::service;
pub mod types;

pub use resolvers::AnalyticsQuery;
