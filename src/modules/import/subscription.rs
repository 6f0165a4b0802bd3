//! An import followed live.
use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt};

use super::{ImportJob, job};
use crate::auth::ContextAuth;
use crate::error::ToGraphql;
use crate::events::Subject;
use crate::graphql::ContextState;
use crm_core::modules::import as service;

#[derive(Default)]
pub struct ImportSubscription;

#[Subscription]
impl ImportSubscription {
    /// An import as it runs: now, then after every percent of progress and
    /// at its end (the stream closes once it has ended).
    async fn import_job(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = ImportJob> + use<>> {
        let state = ctx.state().map_err(|e| e.extend())?;
        let auth = ctx.auth().map_err(|e| e.extend())?;
        let first = job(state, ctx, &id).await.map_err(|e| e.extend())?;
        let wanted = first.0.id;
        let db = state.db.clone();
        let events = crate::modules::changes::follow(ctx, None).await?;
        let updates = events
            .filter(move |e| {
                std::future::ready(matches!(e.subject, Subject::ImportJob { id } if id == wanted))
            })
            .then(move |_| {
                let db = db.clone();
                async move {
                    let scope = crate::tenancy::TenantScope(auth.tenant);
                    service::find(&db, scope, wanted).await.ok().map(ImportJob)
                }
            })
            .filter_map(std::future::ready);
        let ended = |j: &ImportJob| {
            service::status(&j.0, crate::tenancy::now()).is_ok_and(|s| {
                matches!(
                    s,
                    service::ImportStatus::Completed
                        | service::ImportStatus::Cancelled
                        | service::ImportStatus::Failed
                )
            })
        };
        let all = Box::pin(futures_util::stream::once(std::future::ready(first)).chain(updates));
        // closes right after the state that shows the end
        Ok(futures_util::stream::unfold(
            (all, false),
            move |(mut s, done)| async move {
                if done {
                    return None;
                }
                let j = s.next().await?;
                let end = ended(&j);
                Some((j, (s, end)))
            },
        ))
    }
}
