//! The one dispatcher both front doors (gRPC and HTTP/JSON) call: a method path,
//! an encoded request and its metadata in; an encoded reply (or a stream of
//! them) out.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::component::adapter::ActionReply;
use crate::component::info::ComponentInfo;
use crate::context::Metadata;
use crate::status::Status;

/// Routes calls to the method handlers of the registered components.
pub trait Dispatch: Send + Sync + 'static {
    /// The registered components.
    fn components(&self) -> &[&'static ComponentInfo];

    /// Call the method at gRPC path `path` (`/package.Service/Method`) with an
    /// encoded request. Unknown paths fail with `UNIMPLEMENTED`.
    fn dispatch(
        &self,
        path: &str,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<ActionReply, Status>>;

    /// Call the method at `path`, which takes a stream of requests (an
    /// action's client-streaming or bidirectional method), with `requests`.
    /// Methods that take one request fail with `UNIMPLEMENTED`.
    fn dispatch_stream(
        &self,
        path: &str,
        requests: BoxStream<'static, Result<Bytes, Status>>,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        let _ = (requests, metadata);
        let status = Status::unimplemented(format!("{path} does not take a request stream"));
        Box::pin(futures::future::ready(Err(status)))
    }
}

/// A shared dispatcher.
pub type SharedDispatch = Arc<dyn Dispatch>;
