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
);

#[derive(Clone, Copy, Debug)]
pub struct TenantScope(pub TenantId);

impl TenantScope {
    pub fn find<E: TenantOwned>(self) -> Select<E> {
        E::find().filter(E::tenant_column().eq(self.0.0))
    }

    pub fn find_id<E: TenantOwned>(self, id: Uuid) -> Select<E> {
        self.find::<E>().filter(E::id_column().eq(id))
    }

    pub fn update_many<E: TenantOwned>(self) -> UpdateMany<E> {
        E::update_many().filter(E::tenant_column().eq(self.0.0))
    }

    pub fn delete_many<E: TenantOwned>(self) -> DeleteMany<E> {
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

/// Truncated to microseconds, the precision both backends store, so that a
/// value read back compares equal to the value written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
