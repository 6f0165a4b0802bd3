//! Pipelines and their ordered stages, marketing sources, exchange rates.
pub mod resolvers;
pub use crm_core::modules::pipeline::service;
pub mod types;

pub use resolvers::{PipelineMutation, PipelineQuery};
