//! SeaORM entities. These are storage models only: they never derive GraphQL
//! types, so columns such as `tenant_id` and `password_hash` cannot leak into
//! the API by accident.
pub mod login_failure;
pub mod refresh_token;
pub mod tenant;
pub mod user;
