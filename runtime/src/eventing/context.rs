//! What an action handler can do through its [`ActionContext`] besides
//! replying: publish messages to topics, and call other components.

use std::sync::Arc;

use bytes::Bytes;

use super::cloudevents as ce;
use super::publisher::{Origin, Publisher};
use crate::component::adapter::ActionReply;
use crate::context::ActionContext;
use crate::dispatch::SharedDispatch;
use crate::effect::DeferredCall;
use crate::status::Status;

/// The runtime's services lent to one action call.
#[derive(Clone)]
pub struct ContextLink {
    /// Publishing, when the service has a topic backend.
    pub(crate) publisher: Option<Arc<Publisher>>,
    /// Calls to the service's components.
    pub(crate) dispatch: SharedDispatch,
    /// The calling component (`package.Service`), the `ce-source` of what it
    /// publishes.
    pub(crate) source: &'static str,
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

    /// Call a method of a component of this service (a generated client's
    /// `DeferredCall`) and wait for its reply. The call carries this call's
    /// metadata. Fails with `FAILED_PRECONDITION` outside a running service.
    pub async fn call<R: prost::Message + Default>(
        &self,
        call: DeferredCall<R>,
    ) -> Result<R, Status> {
        let link = self.link().ok_or_else(|| {
            Status::failed_precondition("calls need a context from a running service")
        })?;
        let reply = link
            .dispatch
            .dispatch(call.path(), call.payload().clone(), self.metadata().clone())
            .await?;
        match reply {
            ActionReply::Unary(bytes) => R::decode(bytes).map_err(|error| {
                Status::internal(format!(
                    "the reply of {} cannot be decoded: {error}",
                    call.path()
                ))
            }),
            ActionReply::Stream(_) => Err(Status::failed_precondition(format!(
                "{} streams its replies; call it over gRPC instead",
                call.path()
            ))),
        }
    }
}
