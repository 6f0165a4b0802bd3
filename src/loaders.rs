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

/// The loader of one request, with a cache that only query operations
/// turn on (see `QueryCacheExtension`).
pub type RequestLoader = DataLoader<AppLoader, async_graphql::dataloader::HashMapCache>;

/// The kernel's `Reader` for one caller, as a DataLoader batch source.
pub struct AppLoader(pub Reader);

impl std::ops::Deref for AppLoader {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.0
    }
}

/// Batching without a timer. A DataLoader batch must wait until every
/// field that will ask for a key of its kind has asked; instead of a fixed
/// window, it waits for the request itself to go idle. `settling` and
/// `settling_stream` drive a request and count its idle passes: polls
/// that end without the request having been woken meanwhile (a long list
/// yields and wakes itself half way; that pass is not idle). A batch
/// enqueued during a pass starts once an idle pass has ended after it, no
/// other batch is loading, and that idle pass began after the last batch
/// delivered its rows (a batch wakes the request when it finishes, so the
/// resolvers it fed enqueue their own keys first). A loader whose request
/// is not driven this way (none on the request path) loads at once.
#[derive(Clone, Default)]
pub struct Settle(Arc<SettleInner>);

#[derive(Default)]
struct SettleInner {
    driven: std::sync::atomic::AtomicBool,
    /// The request is gone (finished or cancelled, e.g. by its time
    /// limit): waiting batches go at once rather than wait forever.
    gone: std::sync::atomic::AtomicBool,
    /// Idle passes ended.
    idle: std::sync::atomic::AtomicU64,
    /// Batches finished.
    finished: std::sync::atomic::AtomicU64,
    /// The highest `finished` seen at the start of an idle pass.
    settled: std::sync::atomic::AtomicU64,
    /// Batches loading now.
    loading: std::sync::atomic::AtomicU64,
    notify: tokio::sync::Notify,
    waker: Arc<PassWaker>,
}

/// The waker a pass polls with: it notes that the request was woken
/// during the pass, then wakes the request's task.
#[derive(Default)]
struct PassWaker {
    task: std::sync::Mutex<Option<std::task::Waker>>,
    woken: std::sync::atomic::AtomicBool,
}

impl std::task::Wake for PassWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake_task();
    }
}

impl PassWaker {
    fn wake_task(&self) {
        let task = self.task.lock().ok().and_then(|w| w.clone());
        if let Some(w) = task {
            w.wake();
        }
    }
}

impl SettleInner {
    fn ready(&self, start: u64) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.gone.load(SeqCst)
            || self.idle.load(SeqCst) > start
                && self.loading.load(SeqCst) == 0
                && self.settled.load(SeqCst) >= self.finished.load(SeqCst)
    }

    /// Runs one pass of the request: `poll` with the pass waker.
    fn pass<T>(
        &self,
        cx: &mut std::task::Context<'_>,
        poll: impl FnOnce(&mut std::task::Context<'_>) -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        use std::sync::atomic::Ordering::SeqCst;
        if let Ok(mut task) = self.waker.task.lock() {
            match task.as_ref() {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => *task = Some(cx.waker().clone()),
            }
        }
        let started_at = self.finished.load(SeqCst);
        self.waker.woken.store(false, SeqCst);
        let waker = std::task::Waker::from(self.waker.clone());
        let polled = poll(&mut std::task::Context::from_waker(&waker));
        if polled.is_ready() || !self.waker.woken.load(SeqCst) {
            self.settled.fetch_max(started_at, SeqCst);
            self.idle.fetch_add(1, SeqCst);
        }
        self.notify.notify_waiters();
        polled
    }
}

/// Marks the request gone when its driver is dropped.
struct Driver(Arc<SettleInner>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.gone.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }
}

impl Settle {
    /// Wraps a batch: it waits until the request has settled, loads, then
    /// wakes the request so the resolvers it fed run a pass. Reads the pass
    /// count synchronously, so call it from inside the pass.
    fn batch<F>(&self, batch: F) -> impl std::future::Future<Output = ()> + Send + 'static
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        use std::sync::atomic::Ordering::SeqCst;
        let inner = self.0.clone();
        let start = inner.idle.load(SeqCst);
        let driven = inner.driven.load(SeqCst);
        async move {
            if !driven {
                return batch.await;
            }
            loop {
                let notified = inner.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if inner.ready(start) {
                    break;
                }
                notified.await;
            }
            inner.loading.fetch_add(1, SeqCst);
            batch.await;
            inner.loading.fetch_sub(1, SeqCst);
            inner.finished.fetch_add(1, SeqCst);
            inner.waker.wake_task();
            inner.notify.notify_waiters();
        }
    }

    /// Drives `fut`, counting its idle passes.
    pub async fn settling<F: std::future::Future>(self, fut: F) -> F::Output {
        self.0
            .driven
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let driver = Driver(self.0.clone());
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(move |cx| driver.0.pass(cx, |cx| fut.as_mut().poll(cx))).await
    }

    /// Drives `stream` (a subscription), counting its idle passes.
    pub fn settling_stream<S>(self, stream: S) -> impl futures_util::Stream<Item = S::Item>
    where
        S: futures_util::Stream + Unpin,
    {
        self.0
            .driven
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let driver = Driver(self.0.clone());
        let mut stream = stream;
        futures_util::stream::poll_fn(move |cx| {
            driver
                .0
                .pass(cx, |cx| std::pin::Pin::new(&mut stream).poll_next(cx))
        })
    }
}

pub fn data_loader(
    state: Arc<AppState>,
    auth: AuthContext,
    settings: TenantSettings,
    settle: Settle,
) -> RequestLoader {
    // batches run in tasks of their own: they carry the request's tenant
    // and clock
    let clock = state.clock;
    let tenant = crate::tenancy::RequestTenant {
        tenant: Some(auth.tenant),
        app_filter: state.tenant_filter,
    };
    let loader = DataLoader::with_cache(
        AppLoader(Reader {
            state,
            scope: TenantScope(auth.tenant),
            settings,
        }),
        move |batch| {
            tokio::spawn(crate::clock::run_on(
                clock,
                crate::tenancy::run_as(tenant, settle.batch(batch)),
            ))
        },
        async_graphql::dataloader::HashMapCache::default(),
    )
    // the batch waits for the pass that enqueued it (see `Settle`), not
    // for a window of time
    .delay(std::time::Duration::ZERO);
    // off until the document turns out to hold only queries
    loader.enable_all_cache(false);
    loader
}

pub trait ContextLoader {
    fn loader(&self) -> AppResult<&RequestLoader>;
}

impl ContextLoader for Context<'_> {
    fn loader(&self) -> AppResult<&RequestLoader> {
        self.data_opt::<RequestLoader>()
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
    crm_core::modules::activity::documents::DocumentsKey => Vec<entity::document::Model>, load_documents;
    crm_core::modules::opportunity::query::StageTotalsKey => crm_core::modules::opportunity::query::Totals, load_stage_totals;
    crm_core::modules::opportunity::query::PipelineTotalsKey => crm_core::modules::opportunity::query::Totals, load_pipeline_totals;
    crm_core::modules::opportunity::query::StageColumnKey => Vec<(serde_json::Value, entity::opportunity::Model)>, load_stage_column;
    crm_core::modules::opportunity::query::TeamKey => Vec<entity::user::Model>, load_team;
    crm_core::modules::opportunity::query::OpportunityContactsKey => Vec<entity::opportunity_contact::Model>, load_opportunity_contacts;
    crm_core::modules::tag::OpportunityTagsKey => Vec<entity::tag::Model>, load_opportunity_tags;
    crm_core::modules::tag::ContactTagsKey => Vec<entity::tag::Model>, load_contact_tags;
    crm_core::modules::custom_field::FieldOptionsKey => Vec<entity::custom_field_option::Model>, load_field_options;
    crm_core::modules::custom_field::value::OpportunityValuesKey => Vec<crm_core::modules::custom_field::value::FieldValue>, load_opportunity_values;
    crm_core::modules::custom_field::value::ContactValuesKey => Vec<crm_core::modules::custom_field::value::FieldValue>, load_contact_values;
}

/// A relation that may be absent (no primary contact, no next activity):
/// every key answers, `None` when absent, so that a primed page's misses
/// are known too and never wait for a batch of their own.
macro_rules! optional_loader {
    ($($key:path => $value:ty, $method:ident);* $(;)?) => {$(
        impl Loader<$key> for AppLoader {
            type Value = Option<$value>;
            type Error = Arc<AppError>;

            async fn load(
                &self,
                keys: &[$key],
            ) -> Result<HashMap<$key, Option<$value>>, Arc<AppError>> {
                let mut found = self.0.$method(keys).await.map_err(Arc::new)?;
                Ok(keys.iter().map(|k| (*k, found.remove(k))).collect())
            }
        }
    )*};
}

optional_loader! {
    crm_core::modules::activity::service::NextActivityKey => entity::activity::Model, load_next_activity;
    crm_core::modules::opportunity::query::PrimaryContactKey => entity::contact::Model, load_primary_contact;
}

/// Loads one relation of many rows now, in one statement, and hands the
/// answers to the request's loader, so that each row's field resolver finds
/// its value at once instead of waiting for a batch. `complete` answers
/// keys the batch did not find with the value's default (an empty list,
/// `None`): only for relations where absence is an answer. Does nothing
/// outside query operations, whose loader keeps no values (a mutation or
/// a subscription's later event must see what changed).
pub async fn prime<K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
    complete: fn(&K) -> Option<<AppLoader as Loader<K>>::Value>,
) -> AppResult<()>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    AppLoader: Loader<K, Error = Arc<AppError>>,
{
    if !ctx
        .data_opt::<QueryCache>()
        .is_some_and(|c| c.0.load(std::sync::atomic::Ordering::Acquire))
    {
        return Ok(());
    }
    let loader = ctx.loader()?;
    let keys: Vec<K> = keys
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let mut found = loader
        .loader()
        .load(&keys)
        .await
        .map_err(AppError::Shared)?;
    for k in keys {
        if !found.contains_key(&k)
            && let Some(v) = complete(&k)
        {
            found.insert(k, v);
        }
    }
    loader.feed_many(found).await;
    Ok(())
}

/// Answers nothing for a missing key: for relations every row has.
pub fn found_only<V>(_: &impl Sized) -> Option<V> {
    None
}

/// Answers the default (empty list, `None`) for a missing key.
pub fn or_default<V: Default>(_: &impl Sized) -> Option<V> {
    Some(V::default())
}

/// Whether this request's loader keeps values: set for query operations
/// only (see `QueryCacheExtension`).
#[derive(Default)]
pub struct QueryCache(pub std::sync::atomic::AtomicBool);

/// Turns the request loader's cache on when every operation of the
/// document is a query. Mutations and subscriptions keep loading fresh.
pub struct QueryCacheExtension;

impl async_graphql::extensions::ExtensionFactory for QueryCacheExtension {
    fn create(&self) -> Arc<dyn async_graphql::extensions::Extension> {
        Arc::new(QueryCacheExtension)
    }
}

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for QueryCacheExtension {
    async fn parse_query(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        query: &str,
        variables: &async_graphql::Variables,
        next: async_graphql::extensions::NextParseQuery<'_>,
    ) -> async_graphql::ServerResult<async_graphql::parser::types::ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let only_queries = doc
            .operations
            .iter()
            .all(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Query);
        if only_queries
            && let (Some(flag), Some(loader)) = (
                ctx.data_opt::<QueryCache>(),
                ctx.data_opt::<RequestLoader>(),
            )
        {
            loader.enable_all_cache(true);
            flag.0.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(doc)
    }
}
