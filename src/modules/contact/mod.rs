//! Contacts: the people and companies opportunities are for.
pub mod resolvers;
pub use crm_core::modules::contact::service;
pub mod types;

pub use resolvers::{ContactMutation, ContactQuery};
