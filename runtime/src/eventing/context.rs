//! What an action handler can do through its context besides replying —
//! call other components, publish to topics, start timers — as the
//! runtime's [`Outbound`]: the dispatcher lends each call a [`ContextLink`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::publisher::{Origin, Publisher};
use crate::component::adapter::ActionReply;
use crate::context::{Metadata, Outbound};
use crate::effect::DeferredCall;
use crate::status::Status;

/// Sends a call to a method of this service: the dispatcher, one forward
/// level deeper than the calling action (so call loops end) and outside the
/// concurrency limit (the caller already holds a place).
pub(crate) type CallFn = dyn Fn(&'static str, Bytes, Metadata) -> BoxFuture<'static, Result<ActionReply, Status>>
    + Send
    + Sync;

/// The runtime's services lent to one action call.
#[derive(Clone)]
pub struct ContextLink {
    /// Publishing, when the service has a topic backend.
    pub(crate) publisher: Option<Arc<Publisher>>,
    /// Calls to the service's components.
    pub(crate) caller: Arc<CallFn>,
    /// The calling component (`package.Service`), the `ce-source` of what it
    /// publishes.
    pub(crate) source: &'static str,
    /// Timers, in a running service.
    pub(crate) scheduler: Option<Arc<crate::schedule::Scheduler>>,
}

impl std::fmt::Debug for ContextLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextLink")
            .field("source", &self.source)
            .field("publisher", &self.publisher)
            .finish_non_exhaustive()
    }
}

impl Outbound for ContextLink {
    fn call(
        &self,
        path: &'static str,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<Bytes, Status>> {
        let reply = (self.caller)(path, payload, metadata);
        Box::pin(async move {
            match reply.await? {
                ActionReply::Unary(bytes) => Ok(bytes),
                ActionReply::Stream(_) => Err(Status::invalid_argument(format!(
                    "{path} streams its replies; call it from a client instead"
                ))),
            }
        })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        ce_type: &'a str,
        content_type: &'a str,
        payload: Bytes,
        incoming: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let publisher = self.publisher.as_ref().ok_or_else(|| {
                Status::failed_precondition("the service has no topic backend configured")
            })?;
            let origin = Origin::explicit(self.source, ce_type, content_type, incoming);
            publisher.publish(topic, origin, payload).await.map(drop)
        })
    }

    fn start_timer<'a>(
        &'a self,
        name: &'a str,
        delay: Duration,
        call: DeferredCall<Bytes>,
        max_retries: u32,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            self.scheduler()?
                .start_timer(name, delay, call, max_retries)
                .await
        })
    }

    fn cancel_timer<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move { self.scheduler()?.cancel_timer(name).await })
    }
}

impl ContextLink {
    fn scheduler(&self) -> Result<&Arc<crate::schedule::Scheduler>, Status> {
        self.scheduler.as_ref().ok_or_else(|| {
            Status::failed_precondition("timers need a context from a running service")
        })
    }
}
