//! Pipelines and their ordered stages, marketing sources, exchange rates.
pub mod resolvers;
pub mod service;
pub mod types;

pub use resolvers::{PipelineMutation, PipelineQuery};
