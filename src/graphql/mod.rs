//! Schema assembly, limits and the glue resolvers use to reach shared state.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Context, MergedObject, MergedSubscription, Response, Schema};

use crate::error::{AppError, AppResult};
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
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    ActivityMutation,
    PipelineMutation,
    ContactMutation,
    OpportunityMutation,
    IntakeMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(OpportunitySubscription, ActivitySubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

pub const MAX_DEPTH: usize = 10;
pub const MAX_COMPLEXITY: usize = 2000;
pub const MAX_RECURSIVE_DEPTH: usize = 32;
pub const MAX_ALIASES: usize = 15;

pub fn build_schema(state: Option<Arc<AppState>>) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
    .extension(ExecutionMarker);
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    build_schema(None).sdl()
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
