//! What a batched read needs: the instance, the caller's tenant scope and
//! the tenant's settings. The GraphQL layer's DataLoader wraps one per
//! caller and delegates each batch to a `Reader::load_*` query, so every
//! batch is scoped to that caller's tenant.
use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

use crate::error::AppResult;

use crate::auth::TenantSettings;
use crate::state::AppState;
use crate::tenancy::{TenantOwned, TenantScope};

pub struct Reader {
    pub state: Arc<AppState>,
    pub scope: TenantScope,
    pub settings: TenantSettings,
}

impl Reader {
    /// Rows of a tenant-owned table by primary key, in one statement.
    pub async fn by_ids<E>(&self, ids: &[Uuid]) -> AppResult<HashMap<Uuid, E::Model>>
    where
        E: TenantOwned,
        E::Model: HasId,
    {
        let rows = self
            .scope
            .find::<E>()
            .filter(E::id_column().is_in(ids.iter().copied()))
            .all(&self.state.db)
            .await?;
        Ok(rows.into_iter().map(|m| (m.id(), m)).collect())
    }
}

/// A row with a `Uuid` primary key.
pub trait HasId {
    fn id(&self) -> Uuid;
}

macro_rules! has_id {
    ($($module:ident),* $(,)?) => {$(
        impl HasId for entity::$module::Model {
            fn id(&self) -> Uuid {
                self.id
            }
        }
    )*};
}

has_id!(user, stage, pipeline, source, contact, opportunity);
