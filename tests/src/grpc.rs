//! A gRPC client for the end-to-end tests: calls by method path with the
//! messages' own types, as a stock client would send them.

use http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

/// A connection to the service at `base` (`http://127.0.0.1:port`).
pub async fn connect(base: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(base.to_string())
        .expect("a valid address")
        .connect()
        .await
        .expect("the service accepts gRPC connections")
}

/// Call the unary method at `path` (`/package.Service/Method`).
pub async fn unary<Q, R>(
    channel: &Channel,
    path: &'static str,
    request: Q,
) -> Result<R, tonic::Status>
where
    Q: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    let mut client = tonic::client::Grpc::new(channel.clone());
    client
        .ready()
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    let reply = client
        .unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(path),
            ProstCodec::<Q, R>::default(),
        )
        .await?;
    Ok(reply.into_inner())
}
