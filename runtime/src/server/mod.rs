//! One port, two front doors: an HTTP/1.1 + h2c server (hyper-util's auto
//! builder) that sends `content-type: application/grpc*` requests to the gRPC
//! router and everything else to the HTTP/JSON router, and shuts down
//! gracefully (no new connections; in-flight requests finish).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// The two routers behind the port.
#[derive(Clone, Debug)]
pub(crate) struct FrontDoors {
    /// Serves `application/grpc*` requests.
    pub(crate) grpc: axum::Router,
    /// Serves everything else.
    pub(crate) http: axum::Router,
}

impl FrontDoors {
    async fn route(
        self,
        request: http::Request<Incoming>,
    ) -> Result<axum::response::Response, Infallible> {
        let is_grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/grpc"));
        let request = request.map(axum::body::Body::new);
        if is_grpc {
            self.grpc.oneshot(request).await
        } else {
            self.http.oneshot(request).await
        }
    }
}

/// Serve connections from `listener` until `shutdown` completes, then wait up
/// to `grace` for open connections to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    doors: FrontDoors,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let doors = doors.clone();
        let service = hyper::service::service_fn(move |request| doors.clone().route(request));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "connections still open after the shutdown grace period"
        );
    }
}
