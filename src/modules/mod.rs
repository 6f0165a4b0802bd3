//! Domain modules: each holds its GraphQL types, resolvers and a service
//! with the SeaORM queries.
pub mod account;
pub mod activity;
pub mod analytics;
pub mod changes;
pub mod contact;
pub mod custom_field;
pub mod import;
pub mod intake;
pub mod opportunity;
pub mod pipeline;
pub mod saved_view;
pub mod tag;
pub mod webhook;
