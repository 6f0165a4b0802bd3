//! Web intake: keys that let a website post requests (a name, an email, a
//! message) straight into a pipeline stage as new opportunities.
pub mod http;
pub mod resolvers;
pub use crm_core::modules::intake::service;
pub mod types;

pub use resolvers::{IntakeMutation, IntakeQuery};
