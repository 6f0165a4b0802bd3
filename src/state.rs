//! Shared, immutable state of one server instance.
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::auth::jwt::JwtService;

pub struct AppState {
    pub db: DatabaseConnection,
    pub jwt: JwtService,
    pub refresh_ttl: Duration,
}
