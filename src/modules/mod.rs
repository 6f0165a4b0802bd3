//! Domain modules: each holds its GraphQL types, resolvers and a service
//! with the SeaORM queries.
pub mod account;
pub mod contact;
pub mod opportunity;
pub mod pipeline;
