//! Activities (tasks, calendar events, calls, notes), documents (quotes,
//! proposals, contracts) and each user's calendar feed.
pub mod calendar;
pub mod documents;
pub mod resolvers;
pub mod service;
pub mod subscription;
pub mod types;

pub use resolvers::{ActivityMutation, ActivityQuery};
pub use subscription::ActivitySubscription;
