//! Activities (tasks, calendar events, calls, notes), documents (quotes,
//! proposals, contracts) and each user's calendar feed.
pub mod calendar;
pub use crm_core::modules::activity::documents;
pub mod resolvers;
pub use crm_core::modules::activity::service;
pub mod subscription;
pub mod types;

pub use resolvers::{ActivityMutation, ActivityQuery};
pub use subscription::ActivitySubscription;
