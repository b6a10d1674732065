//! One port, two front doors: an HTTP/1.1 + h2c server (hyper-util's auto
//! builder) that sends `content-type: application/grpc*` requests to the gRPC
//! router and everything else to the HTTP/JSON router.
//!
//! What a client can hold is bounded ([`connections`]): a cap on open
//! connections below the open-file limit ([`files`]) that evicts the longest
//! idle connection rather than stop accepting, an idle timeout, hyper's
//! HTTP/1 header-read timeout against slow request heads, and a cap on
//! concurrent HTTP/2 streams per connection. Shutdown stops accepting, asks
//! every connection to finish its calls (HTTP/2 sends GOAWAY), and closes
//! what is still open when the grace period ends.

mod connections;
mod files;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use connections::{Admission, Close, InFlight, Registry};

/// Concurrent HTTP/2 streams one connection may open.
const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// How often an HTTP/2 connection is pinged, and how long the answer may take.
const KEEP_ALIVE: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(20));

/// The two routers behind the port.
#[derive(Clone, Debug)]
pub(crate) struct FrontDoors {
    /// Serves `application/grpc*` requests.
    pub(crate) grpc: axum::Router,
    /// Serves everything else.
    pub(crate) http: axum::Router,
}

/// What a client may hold.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The most open connections (lowered to fit the open-file limit).
    pub(crate) max_connections: usize,
    /// How long an HTTP/1 request head may take to arrive.
    pub(crate) header_read_timeout: Duration,
    /// How long a connection may stay open with nothing in flight.
    pub(crate) idle_timeout: Duration,
}

impl FrontDoors {
    async fn route(
        self,
        request: http::Request<Incoming>,
        call: InFlight,
    ) -> Result<axum::response::Response, Infallible> {
        let is_grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/grpc"));
        let request = request.map(axum::body::Body::new);
        let response = if is_grpc {
            self.grpc.oneshot(request).await?
        } else {
            self.http.oneshot(request).await?
        };
        // The call stays in flight until its body is sent or dropped.
        Ok(response.map(|body| {
            axum::body::Body::new(body.map_frame(move |frame| {
                let _in_flight = &call;
                frame
            }))
        }))
    }
}

/// Serve connections from `listener` until `shutdown` completes, then wait up
/// to `grace` for open connections to finish their calls. Returns when the
/// shutdown began.
pub(crate) async fn serve(
    listener: TcpListener,
    doors: FrontDoors,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Instant {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .keep_alive_interval(Some(KEEP_ALIVE.0))
        .keep_alive_timeout(KEEP_ALIVE.1);
    let registry = Registry::new(files::connection_cap(limits.max_connections));
    let reaper = tokio::spawn(close_idle(registry.clone(), limits.idle_timeout));
    let mut refusals = Throttle::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of file descriptors and the like: make room, keep serving.
                    refusals.warn(|suppressed| tracing::warn!(%error, suppressed, "accept failed"));
                    registry.evict_longest_idle();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if registry.admit() == Admission::Refused {
            refusals.warn(|suppressed| {
                tracing::warn!(
                    %peer,
                    open = registry.len(),
                    suppressed,
                    "connection refused: every connection has a call in flight"
                );
            });
            drop(stream);
            continue;
        }
        spawn_connection(&builder, stream, peer, doors.clone(), registry.clone());
    }
    let began = Instant::now();
    drop(listener);
    registry.close_all();
    if tokio::time::timeout(grace, registry.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            open = registry.len(),
            "connections still open after the shutdown grace period; closing them"
        );
        registry.abort_all();
        let _ = tokio::time::timeout(Duration::from_secs(1), registry.closed()).await;
    }
    reaper.abort();
    began
}

/// Serve one connection until it ends or is asked to close.
fn spawn_connection(
    builder: &auto::Builder<TokioExecutor>,
    stream: TcpStream,
    peer: SocketAddr,
    doors: FrontDoors,
    registry: Arc<Registry>,
) {
    let _ = stream.set_nodelay(true);
    let conn = registry.register();
    let service = hyper::service::service_fn({
        let conn = conn.clone();
        move |request| doors.clone().route(request, conn.begin())
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .into_owned();
    tokio::spawn(async move {
        let mut signal = conn.close_signal();
        tokio::pin!(connection);
        let mut graceful = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    break;
                }
                changed = signal.changed() => {
                    let ask = if changed.is_ok() { *signal.borrow_and_update() } else { Close::Now };
                    match ask {
                        Close::Open => {}
                        Close::Gracefully if !graceful => {
                            graceful = true;
                            connection.as_mut().graceful_shutdown();
                        }
                        Close::Gracefully => {}
                        Close::Now => break,
                    }
                }
            }
        }
        registry.remove(&conn);
    });
}

/// Close connections idle for `timeout`, checking a few times per timeout.
async fn close_idle(registry: Arc<Registry>, timeout: Duration) {
    let period = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let closed = registry.close_idle(timeout);
        if closed > 0 {
            tracing::debug!(closed, "idle connections closed");
        }
    }
}

/// At most one log line per second for a repeated refusal, with a count of
/// the ones not logged.
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    fn warn(&mut self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return;
        }
        log(self.suppressed);
        self.last = Some(now);
        self.suppressed = 0;
    }
}
