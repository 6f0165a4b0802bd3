//! Field errors answered the way the GraphQL specification ("Handling
//! Field Errors") and strict clients (Apollo iOS, Apollo Client's
//! normalized cache) expect, for every field in one place.
//!
//! async-graphql drops the key of any field whose resolver fails and keeps
//! its parent, whether the field is nullable or not (its issues #1449 and
//! #1549). This extension wraps every field's resolution instead:
//!
//! - a **nullable** field that fails answers `null`, its key present, and
//!   its error (with its `path`) joins the response's `errors`;
//! - a **non-null** field that fails makes its nearest nullable ancestor
//!   field `null`; with none, it reaches the root and `data` is `null`.
//!
//! Every list in the schema has non-null items, so a failed item nulls the
//! list's nearest nullable field, as the specification asks for `[T!]`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, NextSubscribe,
    ResolveInfo,
};
use async_graphql::futures_util::StreamExt;
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::{PathSegment, Response, ServerError, ServerResult, Value};

pub struct FieldErrors;

impl ExtensionFactory for FieldErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldErrorsExtension {
            state: Arc::new(State::default()),
        })
    }
}

/// What one request's (or one subscription's current event's) failed
/// fields left to do.
#[derive(Default)]
struct State {
    /// Set while `failed` is not empty, so that the many fields that
    /// succeed never take the lock.
    pending: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Errors of nullable fields answered `null`: async-graphql never saw
    /// them, so they are added to the response here.
    errors: Vec<ServerError>,
    /// Paths of non-null fields that failed and whose failure has not yet
    /// reached a nullable ancestor.
    failed: Vec<Vec<PathSegment>>,
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the errors kept aside to `response` and, when a non-null
    /// field's failure reached the root, answers `data: null`.
    fn finish(&self, mut response: Response) -> Response {
        let mut inner = self.lock();
        response.errors.append(&mut inner.errors);
        if !inner.failed.is_empty() {
            response.data = Value::Null;
            inner.failed.clear();
        }
        self.pending.store(false, Ordering::Release);
        response
    }
}

struct FieldErrorsExtension {
    state: Arc<State>,
}

fn is_under(child: &[PathSegment], parent: &[PathSegment]) -> bool {
    child.len() > parent.len() && child.starts_with(parent)
}

#[async_trait::async_trait]
impl Extension for FieldErrorsExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        self.state.finish(response)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let state = self.state.clone();
        next.run(ctx, stream)
            .map(move |response| state.finish(response))
            .boxed()
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        let nullable = !info.return_type.ends_with('!');
        let path = info.path_node;
        let result = next.run(ctx, info).await;
        match result {
            Ok(value) if !nullable || !self.state.pending.load(Ordering::Acquire) => Ok(value),
            Ok(value) => {
                // a non-null descendant failed: this field absorbs it
                let here = path_of(path);
                let mut inner = self.state.lock();
                let before = inner.failed.len();
                inner.failed.retain(|failed| !is_under(failed, &here));
                let absorbed = inner.failed.len() != before;
                self.state
                    .pending
                    .store(!inner.failed.is_empty(), Ordering::Release);
                Ok(if absorbed { Some(Value::Null) } else { value })
            }
            Err(mut error) => {
                let here = path_of(path);
                if error.path.is_empty() {
                    error.path = here.clone();
                }
                let mut inner = self.state.lock();
                inner.failed.retain(|failed| !is_under(failed, &here));
                if nullable {
                    inner.errors.push(error);
                    self.state
                        .pending
                        .store(!inner.failed.is_empty(), Ordering::Release);
                    Ok(Some(Value::Null))
                } else {
                    inner.failed.push(here);
                    self.state.pending.store(true, Ordering::Release);
                    Err(error)
                }
            }
        }
    }
}

/// The response path of a field, root first.
fn path_of(node: &async_graphql::QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut path: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|n| match n.segment {
            async_graphql::QueryPathSegment::Index(i) => PathSegment::Index(i),
            async_graphql::QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
        })
        .collect();
    path.reverse();
    path
}
