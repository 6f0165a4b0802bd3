//! Per-request DataLoaders. One loader value serves every key type; each
//! module implements `Loader<Key>` for the relations it owns, next to its
//! queries. A loader is built for one caller, so every batch it runs is
//! scoped to that caller's tenant.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};
use uuid::Uuid;

use crate::auth::{AuthContext, TenantSettings};
use crate::error::{AppError, AppResult};
use crate::reader::Reader;
use crate::state::AppState;
use crate::tenancy::TenantScope;

/// The kernel's `Reader` for one caller, as a DataLoader batch source.
pub struct AppLoader(pub Reader);

impl std::ops::Deref for AppLoader {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.0
    }
}

pub fn data_loader(
    state: Arc<AppState>,
    auth: AuthContext,
    settings: TenantSettings,
) -> DataLoader<AppLoader> {
    // batches run in tasks of their own: they carry the request's tenant
    // and clock
    let clock = state.clock;
    let tenant = crate::tenancy::RequestTenant {
        tenant: Some(auth.tenant),
        app_filter: state.tenant_filter,
    };
    DataLoader::new(
        AppLoader(Reader {
            state,
            scope: TenantScope(auth.tenant),
            settings,
        }),
        move |batch| {
            tokio::spawn(crate::clock::run_on(
                clock,
                crate::tenancy::run_as(tenant, batch),
            ))
        },
    )
    // the default 1 ms window can split one list's keys into two batches
    // on a busy server; a few ms keeps "one statement per relation" true
    .delay(std::time::Duration::from_millis(5))
}

pub trait ContextLoader {
    fn loader(&self) -> AppResult<&DataLoader<AppLoader>>;
}

impl ContextLoader for Context<'_> {
    fn loader(&self) -> AppResult<&DataLoader<AppLoader>> {
        self.data_opt::<DataLoader<AppLoader>>()
            .ok_or(AppError::Unauthenticated)
    }
}

macro_rules! by_id_loader {
    ($($key:ident => $module:ident),* $(,)?) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub Uuid);

        impl Loader<$key> for AppLoader {
            type Value = entity::$module::Model;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
                let rows = self.0.by_ids::<entity::$module::Entity>(&ids).await?;
                Ok(rows.into_iter().map(|(id, m)| ($key(id), m)).collect())
            }
        }
    )*};
}

by_id_loader! {
    UserKey => user,
    StageKey => stage,
    PipelineKey => pipeline,
    SourceKey => source,
    ContactKey => contact,
    OpportunityKey => opportunity,
}

/// Loads one value by key through the request's loader.
pub async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> AppResult<Option<<AppLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    AppLoader: Loader<K, Error = Arc<AppError>>,
{
    ctx.loader()?.load_one(key).await.map_err(AppError::Shared)
}

/// A relation the kernel batches: the loader delegates to `Reader::load_*`.
macro_rules! reader_loader {
    ($($key:path => $value:ty, $method:ident);* $(;)?) => {$(
        impl Loader<$key> for AppLoader {
            type Value = $value;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, Arc<AppError>> {
                self.0.$method(keys).await.map_err(Arc::new)
            }
        }
    )*};
}

reader_loader! {
    crm_core::modules::pipeline::service::PipelineStagesKey => Vec<entity::stage::Model>, load_pipeline_stages;
    crm_core::modules::activity::service::TimelineKey => Vec<entity::activity::Model>, load_timeline;
    crm_core::modules::activity::service::NextActivityKey => entity::activity::Model, load_next_activity;
    crm_core::modules::activity::documents::DocumentsKey => Vec<entity::document::Model>, load_documents;
    crm_core::modules::opportunity::query::StageTotalsKey => crm_core::modules::opportunity::query::Totals, load_stage_totals;
    crm_core::modules::opportunity::query::PipelineTotalsKey => crm_core::modules::opportunity::query::Totals, load_pipeline_totals;
    crm_core::modules::opportunity::query::StageColumnKey => Vec<(serde_json::Value, entity::opportunity::Model)>, load_stage_column;
    crm_core::modules::opportunity::query::TeamKey => Vec<entity::user::Model>, load_team;
    crm_core::modules::opportunity::query::OpportunityContactsKey => Vec<entity::opportunity_contact::Model>, load_opportunity_contacts;
    crm_core::modules::opportunity::query::PrimaryContactKey => entity::contact::Model, load_primary_contact;
}
