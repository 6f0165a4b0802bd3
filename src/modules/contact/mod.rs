//! Contacts: the people and companies opportunities are for.
pub mod resolvers;
pub mod service;
pub mod types;

pub use resolvers::{ContactMutation, ContactQuery};
