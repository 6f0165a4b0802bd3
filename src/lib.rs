//! CRM opportunity server: a multi-tenant GraphQL API for sales pipelines.
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod loaders;
pub mod modules;
pub mod money;
pub mod pagination;
pub mod scalars;
pub mod seed;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tenancy;
