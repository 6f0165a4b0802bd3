//! Tenants, users and sessions.
pub mod resolvers;
pub use crm_core::modules::account::service;
pub mod types;

pub use resolvers::{AccountMutation, AccountQuery};
