//! The dispatcher: maps a gRPC method path to its component and method, sends
//! entity commands to the executor and action calls to their adapter, and runs
//! the forwards and side effects that come back, through itself. Calls from
//! outside are bounded by [`budget`].

mod budget;
pub(crate) mod metrics;
mod span;
mod stream;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tracing::Instrument as _;

use span::handler_span;

use crate::component::adapter::{ActionAdapter, ActionReply};
use crate::component::info::ComponentInfo;
use crate::context::{ActionContext, Caller, Metadata};
use crate::dispatch::Dispatch;
use crate::eventing::{ContextLink, Publisher};
use crate::executor::guard::{guarded, panic_status};
use crate::executor::{CommandReply, EntityRunner};
use crate::schedule::Scheduler;
use crate::status::Status;
use crate::workflow::DRIVE_PATH;
use crate::workflow::runner::WorkflowDriver;
use crate::workflow::status::Workflows;

/// How many forwards deep a call may go before it is refused (a forward loop).
const MAX_FORWARD_DEPTH: usize = 16;

/// What serves the methods of one installed component.
#[derive(Clone)]
pub(crate) enum Handler {
    /// A value or event-sourced entity, through the executor.
    Entity(Arc<dyn EntityRunner>),
    /// An action.
    Action(Arc<dyn ActionAdapter>),
    /// A view: the view engine answers its queries (its update methods are
    /// fed by its projections).
    View(Arc<crate::view::ViewEngine>),
    /// A workflow: commands like an entity's, and the calls that drive its
    /// steps (from the scheduler).
    Workflow(Arc<dyn WorkflowDriver>),
}

/// One installed component.
pub(crate) struct Installed {
    /// Its description.
    pub(crate) info: &'static ComponentInfo,
    /// What serves it.
    pub(crate) handler: Handler,
}

#[derive(Clone)]
struct Route {
    info: &'static ComponentInfo,
    method: usize,
    handler: Handler,
    /// The method's calls and latencies.
    stat: Arc<metrics::MethodStat>,
}

/// Why the components cannot be served together.
#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    /// Two registered components have the same gRPC service name.
    #[error("service {0} is registered twice")]
    DuplicateService(&'static str),
    /// Two entity components store their state under the same type_id.
    #[error("components {first} and {second} both use type_id {type_id:?}")]
    DuplicateTypeId {
        /// The type_id.
        type_id: &'static str,
        /// The component registered first.
        first: &'static str,
        /// The component registered second.
        second: &'static str,
    },
}

/// The dispatcher of a service: the one [`Dispatch`] both front doors call.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    components: Vec<&'static ComponentInfo>,
    routes: HashMap<&'static str, Route>,
    budgets: budget::Budgets,
    /// The workflows, by type_id, for the calls that drive them.
    workflows: Workflows,
    /// Where published action results go, once eventing is set up.
    publisher: OnceLock<Arc<Publisher>>,
    /// Delivers side effects and fires timers.
    scheduler: OnceLock<Arc<Scheduler>>,
    /// Calls and latencies per method.
    metrics: Arc<metrics::MethodMetrics>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let services: Vec<_> = self.inner.components.iter().map(|c| c.service).collect();
        f.debug_struct("Dispatcher")
            .field("services", &services)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher for the installed components, serving at most
    /// `max_concurrency` unary calls and `max_streams` streaming calls at once.
    pub(crate) fn new(
        installed: Vec<Installed>,
        max_concurrency: usize,
        max_streams: usize,
    ) -> Result<Dispatcher, DispatcherError> {
        let mut routes = HashMap::new();
        let mut workflows = HashMap::new();
        let mut components: Vec<&'static ComponentInfo> = Vec::new();
        let mut metrics = metrics::MethodMetrics::default();
        for Installed { info, handler } in installed {
            if components.iter().any(|c| c.service == info.service) {
                return Err(DispatcherError::DuplicateService(info.service));
            }
            if !info.type_id.is_empty()
                && let Some(other) = components
                    .iter()
                    .find(|c| c.type_id == info.type_id && c.kind == info.kind)
            {
                return Err(DispatcherError::DuplicateTypeId {
                    type_id: info.type_id,
                    first: other.name,
                    second: info.name,
                });
            }
            if let Handler::Workflow(driver) = &handler {
                workflows.insert(info.type_id, driver.clone());
            }
            for (method, m) in info.methods.iter().enumerate() {
                routes.insert(
                    m.path,
                    Route {
                        info,
                        method,
                        handler: handler.clone(),
                        stat: metrics.add(m.path),
                    },
                );
            }
            components.push(info);
        }
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                metrics: Arc::new(metrics),
                components,
                routes,
                budgets: budget::Budgets::new(max_concurrency, max_streams),
                workflows: Arc::new(workflows),
                publisher: OnceLock::new(),
                scheduler: OnceLock::new(),
            }),
        })
    }

    /// The per-method metrics.
    pub(crate) fn metrics(&self) -> Arc<metrics::MethodMetrics> {
        self.inner.metrics.clone()
    }

    /// Publish action results and explicit publishes through `publisher`
    /// (set once, before serving).
    pub(crate) fn set_publisher(&self, publisher: Arc<Publisher>) {
        let _ = self.inner.publisher.set(publisher);
    }

    /// Deliver side effects and serve timers through `scheduler` (set once,
    /// before serving).
    pub(crate) fn set_scheduler(&self, scheduler: Arc<Scheduler>) {
        let _ = self.inner.scheduler.set(scheduler);
    }

    /// The workflows, by type_id (for their status page).
    pub(crate) fn workflows(&self) -> Workflows {
        self.inner.workflows.clone()
    }

    /// End every open stream with a last `UNAVAILABLE` item and refuse new
    /// ones: the first step of a shutdown.
    pub(crate) fn end_streams(&self) {
        self.inner.budgets.end_streams();
    }

    /// Wait until no call is in flight, or `timeout` passes; returns whether
    /// everything drained. New calls fail with `UNAVAILABLE` afterwards.
    pub(crate) async fn drain(&self, timeout: Duration) -> bool {
        self.inner.budgets.drain(timeout).await
    }
}

impl Dispatch for Dispatcher {
    fn components(&self) -> &[&'static ComponentInfo] {
        &self.inner.components
    }

    fn dispatch(
        &self,
        path: &str,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        // One request: a unary slot (or, for a streamed reply, a stream slot).
        let started = Instant::now();
        let route = self.inner.routes.get(path);
        let stat = route.map(|route| route.stat.clone());
        let streaming =
            route.is_some_and(|route| route.info.methods[route.method].server_streaming);
        let slot = match self.inner.budgets.acquire(path, streaming) {
            Ok(slot) => slot,
            Err(status) => {
                if let Some(stat) = &stat {
                    stat.record(status.code(), started.elapsed());
                }
                return futures::future::ready(Err(status)).boxed();
            }
        };
        // A registered method's path never names a workflow drive: those
        // (and unknown paths) are for `call` to sort out.
        let call = match route {
            Some(route) => self
                .inner
                .clone()
                .call_route(route.clone(), payload, metadata, 0),
            None => self
                .inner
                .clone()
                .call(path.to_string(), payload, metadata, 0),
        };
        let inner = self.inner.clone();
        async move {
            let reply = match call.await {
                Ok(ActionReply::Stream(stream)) => {
                    Ok(ActionReply::Stream(inner.budgets.bound(stream, slot)))
                }
                other => other,
            };
            if let Some(stat) = stat {
                stat.finish(started, &reply);
            }
            reply
        }
        .boxed()
    }

    fn dispatch_stream(
        &self,
        path: &str,
        requests: BoxStream<'static, Result<Bytes, Status>>,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        self.stream_call(path, requests, metadata)
    }
}

impl Inner {
    fn call(
        self: Arc<Self>,
        path: String,
        payload: Bytes,
        metadata: Metadata,
        depth: usize,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        if let Some(type_id) = path.strip_prefix(DRIVE_PATH) {
            let type_id = type_id.to_owned();
            return async move { self.drive(&type_id, payload, metadata, depth).await }.boxed();
        }
        match self.routes.get(path.as_str()).cloned() {
            Some(route) => self.call_route(route, payload, metadata, depth),
            None => {
                let status = Status::unimplemented(format!("unknown method {path}"));
                futures::future::ready(Err(status)).boxed()
            }
        }
    }

    /// A call of the method `route` serves.
    fn call_route(
        self: Arc<Self>,
        route: Route,
        payload: Bytes,
        metadata: Metadata,
        depth: usize,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let span = handler_span(Some(&route), &metadata);
        async move {
            if depth > MAX_FORWARD_DEPTH {
                let path = route.info.methods[route.method].path;
                return Err(Status::failed_precondition(format!(
                    "call to {path} forwarded more than {MAX_FORWARD_DEPTH} times (a forward loop?)"
                )));
            }
            match route.handler {
                Handler::Entity(runner) => {
                    self.command(runner, route.method, payload, metadata, depth)
                        .await
                }
                Handler::Workflow(runner) => {
                    self.command(runner, route.method, payload, metadata, depth)
                        .await
                }
                Handler::Action(adapter) => {
                    let publisher = self.publisher.get().cloned();
                    let link = self.link(route.info.service, depth);
                    let reply = call_action(
                        route.info,
                        route.method,
                        adapter,
                        payload,
                        metadata.clone(),
                        link,
                    )
                    .await?;
                    crate::eventing::publish_reply(
                        publisher.as_ref(),
                        route.info,
                        route.method,
                        &metadata,
                        reply,
                    )
                    .await
                }
                Handler::View(engine) => engine.query(route.method, payload).await,
            }
        }
        .instrument(span)
        .boxed()
    }

    /// What an action (or a workflow step) may do through its context:
    /// call this service's components one level deeper, publish, start timers.
    fn link(self: &Arc<Self>, source: &'static str, depth: usize) -> ContextLink {
        let inner = self.clone();
        ContextLink {
            publisher: self.publisher.get().cloned(),
            caller: Arc::new(move |target, payload, metadata| {
                inner
                    .clone()
                    .call(target.to_string(), payload, metadata, depth + 1)
            }),
            source,
            scheduler: self.scheduler.get().cloned(),
        }
    }

    /// A call that drives workflow steps: from the scheduler (the runtime)
    /// only; nothing else can name these paths.
    async fn drive(
        self: Arc<Self>,
        type_id: &str,
        payload: Bytes,
        metadata: Metadata,
        depth: usize,
    ) -> Result<ActionReply, Status> {
        let driver = match self.workflows.get(type_id) {
            Some(driver) if metadata.caller() == Caller::Runtime => driver.clone(),
            _ => {
                return Err(Status::unimplemented(format!(
                    "unknown method {DRIVE_PATH}{type_id}"
                )));
            }
        };
        let link = self.link(driver.service(), depth);
        let driven = driver
            .drive(
                payload,
                ActionContext::new(metadata).with_outbound(Arc::new(link)),
            )
            .await?;
        if let Some(scheduler) = self.scheduler.get() {
            scheduler.enqueue(driven.now);
            if driven.later {
                scheduler.poke();
            }
        }
        Ok(ActionReply::Unary(Bytes::new()))
    }

    /// An entity or workflow command; its side effects and step calls go to
    /// the scheduler, a forward is made here.
    async fn command(
        self: Arc<Self>,
        runner: Arc<dyn EntityRunner>,
        method: usize,
        payload: Bytes,
        metadata: Metadata,
        depth: usize,
    ) -> Result<ActionReply, Status> {
        let result = runner.run(method, payload, metadata.clone()).await?;
        // Stored with the command; delivered from here on (and
        // after a crash by the next run).
        if let Some(scheduler) = self.scheduler.get() {
            scheduler.enqueue(result.side_effects);
            if result.timers_changed {
                scheduler.poke();
            }
        }
        match result.reply {
            CommandReply::Message(message) => Ok(ActionReply::Unary(message)),
            CommandReply::Forward(call) => {
                // A stored forward is the caller's to wait for; the
                // scheduler keeps it unless it was delivered.
                let scheduler = self.scheduler.get().cloned();
                let stored = result.forward.filter(|_| scheduler.is_some());
                if let (Some(scheduler), Some(stored)) = (&scheduler, &stored) {
                    scheduler.hold(&stored.key);
                }
                let reply = self
                    .clone()
                    .call(
                        call.path().to_string(),
                        call.payload().clone(),
                        metadata,
                        depth + 1,
                    )
                    .await;
                if let (Some(scheduler), Some(stored)) = (scheduler, stored) {
                    scheduler.forwarded(stored, reply.as_ref().err());
                }
                reply
            }
        }
    }
}

/// Call an action, turning a panic anywhere in its handler (or its reply
/// stream) into `INTERNAL`.
async fn call_action(
    info: &'static ComponentInfo,
    method: usize,
    adapter: Arc<dyn ActionAdapter>,
    payload: Bytes,
    metadata: Metadata,
    link: ContextLink,
) -> Result<ActionReply, Status> {
    let ctx = ActionContext::new(metadata).with_outbound(Arc::new(link));
    let future = guarded(info, method, || adapter.call(method, payload, ctx))?;
    let reply = AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .map_err(|panic| panic_status(info, method, panic))??;
    Ok(match reply {
        ActionReply::Unary(message) => ActionReply::Unary(message),
        ActionReply::Stream(stream) => ActionReply::Stream(
            AssertUnwindSafe(stream)
                .catch_unwind()
                .map(move |item| {
                    item.unwrap_or_else(|panic| Err(panic_status(info, method, panic)))
                })
                .boxed(),
        ),
    })
}
