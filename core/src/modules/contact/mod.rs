mod list;
pub mod model;
pub mod service;
