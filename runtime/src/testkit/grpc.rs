//! The harness's gRPC client: one lazily connected channel, raw encoded
//! messages with the runtime's bytes codec, statuses mapped to Plinth's.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::uri::PathAndQuery;

use crate::context::Metadata;
use crate::grpc::codec::BytesCodec;
use crate::status::{Code, Status};

/// A channel to the service under test, connected on first use.
#[derive(Debug)]
pub(super) struct GrpcClient {
    base: String,
    channel: tokio::sync::OnceCell<tonic::transport::Channel>,
}

impl GrpcClient {
    pub(super) fn new(base: String) -> GrpcClient {
        GrpcClient {
            base,
            channel: tokio::sync::OnceCell::new(),
        }
    }

    async fn ready(&self) -> Result<tonic::client::Grpc<tonic::transport::Channel>, Status> {
        let channel = self
            .channel
            .get_or_try_init(|| async {
                tonic::transport::Endpoint::from_shared(self.base.clone())
                    .map_err(|error| Status::internal(error.to_string()))?
                    .connect()
                    .await
                    .map_err(|error| Status::unavailable(error.to_string()))
            })
            .await?;
        let mut client = tonic::client::Grpc::new(channel.clone());
        client
            .ready()
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        Ok(client)
    }

    /// A unary call of `path`; the encoded reply.
    pub(super) async fn unary(
        &self,
        path: &'static str,
        payload: Bytes,
        metadata: &Metadata,
    ) -> Result<Bytes, Status> {
        let mut client = self.ready().await?;
        let reply = client
            .unary(
                request(payload, metadata),
                PathAndQuery::from_static(path),
                BytesCodec,
            )
            .await
            .map_err(status)?;
        Ok(reply.into_inner())
    }

    /// A server-streaming call of `path`; the stream of encoded replies.
    pub(super) async fn server_streaming(
        &self,
        path: &'static str,
        payload: Bytes,
        metadata: &Metadata,
    ) -> Result<tonic::Streaming<Bytes>, Status> {
        let mut client = self.ready().await?;
        let reply = client
            .server_streaming(
                request(payload, metadata),
                PathAndQuery::from_static(path),
                BytesCodec,
            )
            .await
            .map_err(status)?;
        Ok(reply.into_inner())
    }
}

/// A request with the metadata entries that are valid gRPC ASCII metadata.
fn request(payload: Bytes, metadata: &Metadata) -> tonic::Request<Bytes> {
    let mut request = tonic::Request::new(payload);
    for (key, value) in metadata.iter() {
        if let (Ok(key), Ok(value)) = (
            key.parse::<tonic::metadata::MetadataKey<tonic::metadata::Ascii>>(),
            value.parse(),
        ) {
            request.metadata_mut().insert(key, value);
        }
    }
    request
}

fn status(status: tonic::Status) -> Status {
    Status::new(Code::from_i32(status.code() as i32), status.message())
}

/// Decode one reply of `path` as `R`.
pub(super) fn decode<R: prost::Message + Default>(path: &str, bytes: Bytes) -> Result<R, Status> {
    R::decode(bytes)
        .map_err(|error| Status::internal(format!("the reply of {path} does not decode: {error}")))
}

/// The replies of a server-streaming call made by
/// [`TestService::stream`](super::TestService::stream), decoded as `R`; a
/// [`Stream`] (use `futures::StreamExt::next`, or [`ReplyStream::next`]).
/// The stream ends when the service ends it; an error ends it too.
#[derive(Debug)]
pub struct ReplyStream<R> {
    path: &'static str,
    inner: tonic::Streaming<Bytes>,
    reply: PhantomData<fn() -> R>,
}

impl<R: prost::Message + Default> ReplyStream<R> {
    pub(super) fn new(path: &'static str, inner: tonic::Streaming<Bytes>) -> ReplyStream<R> {
        ReplyStream {
            path,
            inner,
            reply: PhantomData,
        }
    }

    /// The next reply, `None` when the stream has ended.
    pub async fn next(&mut self) -> Option<Result<R, Status>> {
        futures::StreamExt::next(self).await
    }
}

impl<R: prost::Message + Default> Stream for ReplyStream<R> {
    type Item = Result<R, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        Pin::new(&mut this.inner).poll_next(cx).map(|item| {
            item.map(|result| {
                result
                    .map_err(status)
                    .and_then(|bytes| decode(this.path, bytes))
            })
        })
    }
}
