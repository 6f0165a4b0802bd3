//! CRM opportunity server: a multi-tenant GraphQL API for sales pipelines.
//!
//! This crate is the GraphQL layer and the HTTP transport; the kernel and
//! the domain are in `crm-core`, re-exported here under their old paths.
pub use crm_core::{clock, config, db, domain, events, jobs, reader, seed, state, tenancy};
pub mod auth;
pub mod error;
pub mod graphql;
pub mod http;
pub mod loaders;
pub mod modules;
pub mod money;
pub mod pagination;
pub mod scalars;
pub mod startup;
pub mod telemetry;
pub mod webhooks;
