pub mod calendar;
pub mod documents;
pub mod model;
pub mod service;
