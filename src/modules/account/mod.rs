//! Tenants, users and sessions.
pub mod resolvers;
pub mod service;
pub mod types;

pub use resolvers::{AccountMutation, AccountQuery};
