//! What an action handler can do through its [`ActionContext`] besides
//! replying: publish messages to topics, and call other components.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::cloudevents as ce;
use super::publisher::{Origin, Publisher};
use crate::component::adapter::ActionReply;
use crate::context::ActionContext;
use crate::context::Metadata;
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

impl ActionContext {
    /// Publish `message` (of the fully qualified type `ce_type`) to `topic` (a
    /// name or `${ENV}` template), with CloudEvents attributes; its
    /// `ce-subject` is this call's, if it has one. Returns once the message is
    /// durable. Fails with `FAILED_PRECONDITION` outside a running service.
    pub async fn publish<M: prost::Message>(
        &self,
        topic: &str,
        ce_type: &str,
        message: &M,
    ) -> Result<(), Status> {
        self.publish_encoded(
            topic,
            ce_type,
            ce::PROTOBUF,
            Bytes::from(message.encode_to_vec()),
        )
        .await
    }

    /// Publish an already encoded payload with its content type
    /// (`application/protobuf` or `application/json`).
    pub async fn publish_encoded(
        &self,
        topic: &str,
        ce_type: &str,
        content_type: &str,
        payload: Bytes,
    ) -> Result<(), Status> {
        let link = self.link().ok_or_else(|| {
            Status::failed_precondition("publishing needs a context from a running service")
        })?;
        let publisher = link.publisher.as_ref().ok_or_else(|| {
            Status::failed_precondition("the service has no topic backend configured")
        })?;
        let origin = Origin {
            source: link.source,
            ce_type,
            incoming: self.metadata(),
            keep_id: false,
            content_type,
        };
        publisher.publish(topic, origin, payload).await.map(drop)
    }

    /// Call a unary method of another component of this service and wait for
    /// its reply, e.g. `ctx.call(CustomerServiceClient::get_customer(request)).await?`
    /// with a generated client. The call carries this call's metadata; entity
    /// commands are serialized with the entity's other commands as usual, and
    /// the callee's error comes back as it is. Fails with `FAILED_PRECONDITION`
    /// outside a running service.
    pub async fn call<R: prost::Message + Default>(
        &self,
        call: DeferredCall<R>,
    ) -> Result<R, Status> {
        let path = call.path();
        let link = self.link().ok_or_else(|| {
            Status::failed_precondition(format!(
                "cannot call {path}: this context is not connected to a running service"
            ))
        })?;
        let reply = (link.caller)(path, call.payload().clone(), self.metadata().clone()).await?;
        match reply {
            ActionReply::Unary(bytes) => R::decode(bytes).map_err(|error| {
                Status::internal(format!("the reply of {path} does not decode: {error}"))
            }),
            ActionReply::Stream(_) => Err(Status::invalid_argument(format!(
                "{path} streams its replies; call it from a client instead"
            ))),
        }
    }
}
