//! Opportunities: the deals moving through pipelines.
pub mod bulk;
pub use crm_core::modules::opportunity::query;
pub mod resolvers;
pub use crm_core::modules::opportunity::service;
pub mod subscription;
pub mod types;

pub use query::{PipelineTotalsKey, StageTotalsKey, Totals};
pub use resolvers::{OpportunityMutation, OpportunityQuery};
pub use subscription::OpportunitySubscription;
