//! Opportunities: the deals moving through pipelines.
pub mod query;
pub mod resolvers;
pub mod service;
pub mod subscription;
pub mod types;

pub use query::{PipelineTotalsKey, StageTotalsKey, Totals};
pub use resolvers::{OpportunityMutation, OpportunityQuery};
pub use subscription::OpportunitySubscription;
