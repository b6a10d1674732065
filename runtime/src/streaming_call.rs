//! A call of a server-streaming method, built by the generated clients: a
//! view's `stream_updates` query or a streaming action method. The runtime
//! makes such calls only for external clients; in tests
//! [`TestService::stream`](crate::testkit::TestService::stream) makes them
//! over real gRPC.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

/// A call of the server-streaming gRPC method `path` with an encoded
/// request; `R` is the type of each message of the reply stream.
pub struct StreamingCall<R> {
    path: &'static str,
    payload: Bytes,
    reply: PhantomData<fn() -> R>,
}

impl<R> StreamingCall<R> {
    /// A call of `path` (`/package.Service/Method`) with an encoded request.
    /// Generated clients build these; users rarely need to.
    pub fn new(path: &'static str, payload: Bytes) -> StreamingCall<R> {
        StreamingCall {
            path,
            payload,
            reply: PhantomData,
        }
    }

    /// The method path.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The encoded request.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }
}

impl<R> Clone for StreamingCall<R> {
    fn clone(&self) -> Self {
        StreamingCall::new(self.path, self.payload.clone())
    }
}

impl<R> fmt::Debug for StreamingCall<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingCall")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
