//! Sign-up: a new tenant with its first ADMIN, its default pipeline and
//! sources, and a session for that admin, all in one transaction. Its own
//! module because it spans account and pipeline, which sit below it.
use crate::error::AppResult;
use crate::modules::account::model::{Session, SignUpInput};
use crate::modules::account::service as accounts;
use crate::modules::pipeline::service as pipelines;
use crate::state::AppState;
use crate::tenancy::TenantScope;

/// Creates a tenant and its first ADMIN, and signs that admin in.
pub async fn sign_up(state: &AppState, input: SignUpInput) -> AppResult<Session> {
    let new = accounts::prepare_sign_up(state, input).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let (tenant, admin) = accounts::open_tenant_in(&txn, new).await?;
    pipelines::seed_defaults(&txn, TenantScope(crate::domain::TenantId(tenant.id))).await?;
    let session = accounts::issue_session(&txn, state, tenant, admin, None).await?;
    txn.commit().await?;
    Ok(session)
}
