pub mod model;
pub mod query;
pub mod service;
