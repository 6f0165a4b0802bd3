//! The one place that scopes queries to a tenant.
//!
//! Every service reaches tenant-owned tables through `TenantScope`: it adds
//! `tenant_id = ?` to every select, update and delete, and stamps
//! `tenant_id` on every insert. A row of another tenant is therefore simply
//! not found, which is what the API answers (NOT_FOUND, never FORBIDDEN).
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany,
};
use uuid::Uuid;

use crate::domain::TenantId;

/// An entity whose rows belong to one tenant.
pub trait TenantOwned: EntityTrait {
    fn tenant_column() -> Self::Column;
    fn id_column() -> Self::Column;
}

macro_rules! tenant_owned {
    ($($module:ident),* $(,)?) => {$(
        impl TenantOwned for entity::$module::Entity {
            fn tenant_column() -> Self::Column {
                entity::$module::Column::TenantId
            }
            fn id_column() -> Self::Column {
                entity::$module::Column::Id
            }
        }
    )*};
}

tenant_owned!(
    user,
    refresh_token,
    pipeline,
    stage,
    source,
    exchange_rate,
    contact,
    opportunity,
    opportunity_contact,
    opportunity_team,
    stage_change,
    opportunity_change,
    activity,
    document,
    intake_key,
    intake_request,
    webhook_endpoint,
    webhook_delivery,
    tag,
    opportunity_tag,
    contact_tag,
    custom_field,
    custom_field_option,
    opportunity_field_value,
    contact_field_value,
    saved_view,
    import_job,
    import_chunk,
    import_error,
);

/// The tenant a piece of work runs for, as the database sees it: on
/// PostgreSQL every connection handed to this work first sets
/// `app.tenant_id` to it, and row-level security shows that tenant's rows
/// only. Work outside any request (logins, the sweeper) has none.
#[derive(Clone, Copy, Debug)]
pub struct RequestTenant {
    pub tenant: Option<TenantId>,
    /// Off only in tests that prove the row-level security backstop
    /// alone keeps tenants apart (`Settings::tenant_filter`).
    pub app_filter: bool,
}

tokio::task_local! {
    static REQUEST_TENANT: RequestTenant;
}

/// Runs `work` as `tenant`'s: see [`RequestTenant`].
pub async fn run_as<F: std::future::Future>(tenant: RequestTenant, work: F) -> F::Output {
    REQUEST_TENANT.scope(tenant, work).await
}

tokio::task_local! {
    static REQUEST_ID: uuid::Uuid;
}

/// Runs `work` as the request `id` (its events record it).
pub async fn with_request_id<F: std::future::Future>(id: uuid::Uuid, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The id of the request the running work serves, if any.
pub fn request_id() -> Option<uuid::Uuid> {
    REQUEST_ID.try_with(|id| *id).ok()
}

/// The tenant of the running work, if any.
pub fn request_tenant() -> Option<RequestTenant> {
    REQUEST_TENANT.try_with(|t| *t).ok()
}

fn app_filter_on() -> bool {
    request_tenant().is_none_or(|t| t.app_filter)
}

#[derive(Clone, Copy, Debug)]
pub struct TenantScope(pub TenantId);

impl TenantScope {
    pub fn find<E: TenantOwned>(self) -> Select<E> {
        if !app_filter_on() {
            return E::find();
        }
        E::find().filter(E::tenant_column().eq(self.0.0))
    }

    pub fn find_id<E: TenantOwned>(self, id: Uuid) -> Select<E> {
        self.find::<E>().filter(E::id_column().eq(id))
    }

    /// A row of this tenant by id, or NOT_FOUND naming `what`: a foreign
    /// id is answered exactly like an unknown one.
    pub async fn get<E: TenantOwned, C: sea_orm::ConnectionTrait>(
        self,
        conn: &C,
        id: Uuid,
        what: &'static str,
    ) -> crate::error::AppResult<E::Model> {
        self.find_id::<E>(id)
            .one(conn)
            .await?
            .ok_or(crate::error::AppError::NotFound(what))
    }

    pub fn update_many<E: TenantOwned>(self) -> UpdateMany<E> {
        if !app_filter_on() {
            return E::update_many();
        }
        E::update_many().filter(E::tenant_column().eq(self.0.0))
    }

    pub fn delete_many<E: TenantOwned>(self) -> DeleteMany<E> {
        if !app_filter_on() {
            return E::delete_many();
        }
        E::delete_many().filter(E::tenant_column().eq(self.0.0))
    }

    /// Sets `tenant_id` on a new row, whatever the caller put there.
    pub fn stamp<A>(self, mut model: A) -> A
    where
        A: ActiveModelTrait,
        A::Entity: TenantOwned,
    {
        model.set(<A::Entity as TenantOwned>::tenant_column(), self.0.0.into());
        model
    }
}

/// Now, on the clock of the running work (see `clock`).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    crate::clock::now()
}
