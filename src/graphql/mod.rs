//! Schema assembly, limits and the glue resolvers use to reach shared state.
pub mod limits;
mod nulls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Context, MergedObject, MergedSubscription, Response, Schema, ServerError};

use crate::error::{AppError, AppResult};
use crate::error::{ToGraphql, codes};
use crate::modules::account::{AccountMutation, AccountQuery};
use crate::modules::activity::{ActivityMutation, ActivityQuery, ActivitySubscription};
use crate::modules::analytics::AnalyticsQuery;
use crate::modules::contact::{ContactMutation, ContactQuery};
use crate::modules::intake::{IntakeMutation, IntakeQuery};
use crate::modules::opportunity::{OpportunityMutation, OpportunityQuery, OpportunitySubscription};
use crate::modules::pipeline::{PipelineMutation, PipelineQuery};
use crate::state::AppState;

#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    ActivityQuery,
    PipelineQuery,
    ContactQuery,
    OpportunityQuery,
    AnalyticsQuery,
    IntakeQuery,
    crate::modules::changes::ChangesQuery,
    crate::modules::webhook::WebhookQuery,
    crate::modules::tag::TagQuery,
    crate::modules::custom_field::CustomFieldQuery,
    crate::modules::saved_view::SavedViewQuery,
    crate::modules::import::ImportQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    ActivityMutation,
    PipelineMutation,
    ContactMutation,
    OpportunityMutation,
    IntakeMutation,
    crate::modules::webhook::WebhookMutation,
    crate::modules::tag::TagMutation,
    crate::modules::custom_field::CustomFieldMutation,
    crate::modules::opportunity::bulk::BulkMutation,
    crate::modules::saved_view::SavedViewMutation,
    crate::modules::import::ImportMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    OpportunitySubscription,
    ActivitySubscription,
    crate::modules::import::ImportSubscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

pub const MAX_RECURSIVE_DEPTH: usize = 32;
pub use limits::{MAX_ALIASES, MAX_COST, MAX_DEPTH};

/// The schema; `introspection: false` (the `INTROSPECTION` setting) turns
/// off `__schema`, `__type` and field suggestions.
pub fn build_schema(state: Option<Arc<AppState>>, introspection: bool) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
    .extension(ExecutionMarker)
    .extension(limits::CostLimit)
    .extension(nulls::FieldErrors)
    .extension(SchemaDescription)
    .extension(crate::loaders::QueryCacheExtension);
    if !introspection {
        // a schema that does not describe itself does not hint at field
        // names in its errors either
        builder = builder
            .disable_introspection()
            .disable_suggestions()
            .extension(limits::NoIntrospection);
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    let sdl = build_schema(None, true)
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by());
    // async-graphql prints no schema description: add ours to the schema
    // block, as introspection answers it
    match sdl.rfind("schema {") {
        Some(at) => format!(
            "{}\"\"\"\n{SCHEMA_DESCRIPTION}\n\"\"\"\n{}",
            sdl.get(..at).unwrap_or_default(),
            sdl.get(at..).unwrap_or_default()
        ),
        None => sdl,
    }
}

/// What `__schema { description }` answers and `schema.graphql` prints.
pub const SCHEMA_DESCRIPTION: &str = "The CRM API: business opportunities moving through pipelines, with their contacts, activities and documents, and live updates over subscriptions. Every error carries extensions.code.";

/// Answers `__schema { description }` with this API's description.
/// async-graphql answers the description of the `__Schema` type itself
/// there ("A GraphQL Schema defines the capabilities of a GraphQL
/// server..."), which clients then print as if it were ours.
struct SchemaDescription;

impl ExtensionFactory for SchemaDescription {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SchemaDescription)
    }
}

#[async_trait::async_trait]
impl Extension for SchemaDescription {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: async_graphql::extensions::ResolveInfo<'_>,
        next: async_graphql::extensions::NextResolve<'_>,
    ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
        if info.parent_type == "__Schema" && info.name == "description" {
            return Ok(Some(async_graphql::Value::String(
                SCHEMA_DESCRIPTION.to_string(),
            )));
        }
        next.run(ctx, info).await
    }
}

pub trait ContextState {
    fn state(&self) -> AppResult<&AppState>;
}

impl ContextState for Context<'_> {
    fn state(&self) -> AppResult<&AppState> {
        // Only the SDL printer builds a schema without state.
        self.data_opt::<Arc<AppState>>()
            .map(AsRef::as_ref)
            .ok_or_else(|| AppError::Internal("schema executed without AppState".into()))
    }
}

/// Set by the executor once a request got past parsing and validation.
/// The HTTP layer reads it to tell request errors (400 under
/// graphql-response+json, no `data`) from field errors (200).
#[derive(Clone, Default)]
pub struct Executed(pub Arc<AtomicBool>);

impl Executed {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

struct ExecutionMarker;

impl ExtensionFactory for ExecutionMarker {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ExecutionMarker)
    }
}

#[async_trait::async_trait]
impl Extension for ExecutionMarker {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(flag) = ctx.data_opt::<Executed>() {
            flag.0.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}

/// Where GraphQL work runs: threads of its own, each driving a
/// single-threaded runtime, so that validating and executing a document
/// (CPU work, however bounded) never holds an HTTP worker's event loop;
/// the workers only move bytes, and `/healthz` answers while queries run.
/// Single-threaded like the HTTP workers, so that one request's
/// DataLoader batches still gather every key of a level before they run.
pub struct Executor {
    handles: Vec<tokio::runtime::Handle>,
    next: std::sync::atomic::AtomicUsize,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Executor {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        for i in 0..threads.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            stops.push(stop);
            std::thread::Builder::new()
                .name(format!("graphql-{i}"))
                .spawn(move || {
                    // runs the tasks spawned onto this runtime until the
                    // executor is dropped
                    let _ = runtime.block_on(stopped);
                })?;
        }
        Ok(Self {
            handles,
            next: std::sync::atomic::AtomicUsize::new(0),
            stops,
        })
    }

    fn spawn<F>(&self, work: F) -> Option<tokio::task::JoinHandle<F::Output>>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let len = self.handles.len().max(1);
        self.handles.get(n % len).map(|h| h.spawn(work))
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

/// Cancels a spawned request when its client goes away (the HTTP handler
/// is dropped) or its deadline passes.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one request on the executor with a wall-clock limit. A panic
/// anywhere in it is an INTERNAL answer rather than a dropped connection
/// (the panic hook logged it); at the deadline the work is cancelled,
/// which frees its database connection.
pub async fn run_bounded(
    executor: &Executor,
    request: impl std::future::Future<Output = Response> + Send + 'static,
    limit: std::time::Duration,
) -> Response {
    let Some(task) = executor.spawn(request) else {
        return Response::from_errors(vec![server_error(&AppError::Unavailable {
            retry_after_secs: 1,
        })]);
    };
    let _cancel = AbortOnDrop(task.abort_handle());
    let error = match tokio::time::timeout(limit, task).await {
        Ok(Ok(response)) => return response,
        Ok(Err(e)) if e.is_panic() => AppError::Internal("a request panicked".into()),
        Ok(Err(_)) => AppError::Internal("a request was cancelled".into()),
        Err(_) => AppError::Timeout,
    };
    Response::from_errors(vec![server_error(&error)])
}

/// An `AppError` as a request-level GraphQL error.
pub fn server_error(error: &AppError) -> ServerError {
    error
        .extend()
        .into_server_error(async_graphql::Pos::default())
}

/// Every error a client sees carries `extensions.code`. async-graphql's
/// own execution errors (a scalar that does not parse, a variable of the
/// wrong type) come without one: they are the client's input at fault.
pub fn fill_codes(errors: &mut [ServerError]) {
    for e in errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", codes::BAD_USER_INPUT);
        }
    }
}

/// A GraphQL `MaybeUndefined` as the domain's `Patch`, mapping the value.
pub fn patch<T, U>(
    v: async_graphql::MaybeUndefined<T>,
    f: impl FnOnce(T) -> U,
) -> crate::domain::Patch<U> {
    match v {
        async_graphql::MaybeUndefined::Undefined => crate::domain::Patch::Undefined,
        async_graphql::MaybeUndefined::Null => crate::domain::Patch::Null,
        async_graphql::MaybeUndefined::Value(v) => crate::domain::Patch::Value(f(v)),
    }
}
