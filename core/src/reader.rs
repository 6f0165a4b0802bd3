//! What a batched read needs: the instance, the caller's tenant scope and
//! the tenant's settings. The GraphQL layer's DataLoader wraps one per
//! caller and delegates each batch to a `Reader::load_*` query, so every
//! batch is scoped to that caller's tenant.
use std::sync::Arc;

use crate::auth::TenantSettings;
use crate::state::AppState;
use crate::tenancy::TenantScope;

pub struct Reader {
    pub state: Arc<AppState>,
    pub scope: TenantScope,
    pub settings: TenantSettings,
}
