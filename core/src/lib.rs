//! The kernel and the domain of the CRM server.
//!
//! The kernel (`error`, `domain`, `tenancy`, `clock`, `money`, `pagination`,
//! `db`) depends on nothing of the domain. The domain modules hold commands
//! and queries: they take a connection, a tenant scope, the acting user and
//! validated input, and return models with the events to publish. Nothing in
//! this crate knows GraphQL or HTTP; the `crm-server` crate converts at its
//! boundary.
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod jobs;
pub mod modules;
pub mod money;
pub mod pagination;
pub mod reader;
pub mod seed;
pub mod state;
pub mod tenancy;
