//! One port, two front doors: an HTTP/1.1 + h2c server (hyper-util's auto
//! builder) that sends `content-type: application/grpc*` requests to the gRPC
//! router and everything else to the HTTP/JSON router. A call of the
//! service's own methods and routes skips the router and goes straight to
//! what the router would have fallen back to (the gRPC gateway, the HTTP/JSON
//! route table): the routers' own routes are the runtime's (health,
//! reflection, `/_plinth/*`, the direct streams).
//!
//! What a client can hold is bounded ([`connections`]): a cap on open
//! connections below the open-file limit ([`files`]) that evicts the longest
//! idle connection rather than stop accepting, an idle timeout, hyper's
//! HTTP/1 header-read timeout against slow request heads, and a cap on
//! concurrent HTTP/2 streams per connection. Shutdown stops accepting, asks
//! every connection to finish its calls (HTTP/2 sends GOAWAY), and closes
//! what is still open when the grace period ends.
//!
//! With TLS configured ([`tls`]) every connection is TLS, the handshake
//! bounded by the header-read timeout; a verified client certificate names
//! the calling service ([`Peer`]). The admin surface (`/_plinth/*`, gRPC
//! reflection) answers callers on this host only unless opened to all.

mod access;
mod connections;
mod files;
mod tls;

pub(crate) use access::record_http_route;
pub(crate) use tls::{TlsError, acceptor as tls_acceptor};

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::{Service as _, ServiceExt};
use tracing::Instrument as _;

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
    /// The components' gRPC methods, served without `grpc`'s router (which
    /// would only have fallen back to this gateway for them).
    pub(crate) methods: Option<crate::grpc::gateway::Gateway>,
    /// Serves everything else.
    pub(crate) http: axum::Router,
    /// The service's own HTTP/JSON routes, served without `http`'s router
    /// when the path is not one of the runtime's ([`is_runtime_path`]):
    /// there `http` would only have fallen back to them.
    pub(crate) routes: Option<Arc<crate::http::Frontend>>,
    /// Whether callers from other hosts may reach the admin surface here.
    pub(crate) admin_from_anywhere: bool,
}

/// Who is at the other end of a connection, as the runtime established it;
/// every request carries it as an extension.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// The remote address.
    pub(crate) addr: SocketAddr,
    /// The calling service, proven by a verified client certificate.
    pub(crate) service: Option<String>,
}

/// The service a request comes from, proven by its connection's client
/// certificate; `None` for a caller from the internet.
pub(crate) fn calling_service(extensions: &http::Extensions) -> Option<&str> {
    extensions.get::<Peer>()?.service.as_deref()
}

/// Who a request comes from: the service its client certificate names, else
/// the internet.
pub(crate) fn caller(extensions: &http::Extensions) -> crate::context::Caller {
    match calling_service(extensions) {
        Some(service) => crate::context::Caller::Service(service.to_owned()),
        None => crate::context::Caller::Internet,
    }
}

/// Whether `path` is on the admin surface.
fn is_admin(path: &str) -> bool {
    path.starts_with("/_plinth/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// Whether `path` is one the runtime serves beside the service's routes (the
/// admin surface and the direct streams): every route of the HTTP router
/// that is not its fallback starts so.
fn is_runtime_path(path: &str) -> bool {
    path.starts_with("/_plinth/") || path.starts_with("/plinth.direct/")
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
    /// The refusal of an admin path to a caller from another host, unless
    /// the admin surface is open to all here.
    fn admin_refusal(
        &self,
        path: &str,
        peer: &Peer,
        is_grpc: bool,
    ) -> Option<axum::response::Response> {
        if self.admin_from_anywhere || peer.addr.ip().is_loopback() || !is_admin(path) {
            return None;
        }
        let status = crate::status::Status::permission_denied(
            "the admin surface answers callers on this host only",
        );
        Some(if is_grpc {
            crate::grpc::gateway::to_tonic(status)
                .into_http()
                .map(|()| axum::body::Body::empty())
        } else {
            crate::http::error::error_response(&status)
        })
    }

    async fn route(
        self,
        mut request: http::Request<Incoming>,
        call: InFlight,
        peer: Arc<Peer>,
    ) -> Result<axum::response::Response, Infallible> {
        let is_grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/grpc"));
        let access = access::Access::start(&request, is_grpc);
        if let Some(mut refusal) = self.admin_refusal(request.uri().path(), &peer, is_grpc) {
            access.finish(&mut refusal);
            return Ok(refusal);
        }
        request.extensions_mut().insert(peer.as_ref().clone());
        let request = request.map(axum::body::Body::new);
        let span = access.span().clone();
        let mut response = if is_grpc {
            match &self.methods {
                Some(methods) if methods.serves(request.uri().path()) => methods
                    .clone()
                    .call(request)
                    .instrument(span)
                    .await?
                    .map(axum::body::Body::new),
                _ => self.grpc.oneshot(request).instrument(span).await?,
            }
        } else {
            match &self.routes {
                Some(routes) if !is_runtime_path(request.uri().path()) => {
                    crate::http::serve(routes, request).instrument(span).await
                }
                _ => self.http.oneshot(request).instrument(span).await?,
            }
        };
        access.finish(&mut response);
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
    tls: Option<TlsAcceptor>,
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
        let _ = stream.set_nodelay(true);
        let conn = registry.register();
        let (builder, doors, registry) = (builder.clone(), doors.clone(), registry.clone());
        let tls = tls.clone();
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            match tls {
                None => {
                    let peer = Peer {
                        addr: peer,
                        service: None,
                    };
                    serve_connection(&builder, stream, peer, doors, &conn).await;
                }
                Some(tls) => {
                    let mut signal = conn.close_signal();
                    let handshake = tokio::time::timeout(handshake_timeout, tls.accept(stream));
                    tokio::select! {
                        shaken = handshake => match shaken {
                            Ok(Ok(stream)) => {
                                let service = tls::peer_service(stream.get_ref().1);
                                let peer = Peer { addr: peer, service };
                                serve_connection(&builder, stream, peer, doors, &conn).await;
                            }
                            Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        },
                        _ = async { signal.wait_for(|ask| *ask == Close::Now).await.is_ok() } => {}
                    }
                }
            }
            registry.remove(&conn);
        });
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
async fn serve_connection<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    peer: Peer,
    doors: FrontDoors,
    conn: &Arc<connections::Conn>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let addr = peer.addr;
    let peer = Arc::new(peer);
    let service = hyper::service::service_fn({
        let conn = conn.clone();
        move |request| doors.clone().route(request, conn.begin(), peer.clone())
    });
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let mut signal = conn.close_signal();
    tokio::pin!(connection);
    let mut graceful = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(peer = %addr, %error, "connection ended with an error");
                }
                return;
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
                    Close::Now => return,
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn doors(admin_from_anywhere: bool) -> FrontDoors {
        FrontDoors {
            grpc: axum::Router::new(),
            methods: None,
            http: axum::Router::new(),
            routes: None,
            admin_from_anywhere,
        }
    }

    fn peer(addr: &str) -> Peer {
        Peer {
            addr: addr.parse().unwrap(),
            service: None,
        }
    }

    #[test]
    fn the_admin_surface_answers_this_host_only_unless_opened() {
        let remote = peer("192.0.2.7:5000");
        let local = peer("127.0.0.1:5000");
        let cases = [
            (false, &remote, "/_plinth/metrics", false, Some(403)),
            (
                false,
                &remote,
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                true,
                Some(200),
            ),
            (false, &remote, "/customers/7", false, None),
            (false, &remote, "/grpc.health.v1.Health/Check", true, None),
            (false, &local, "/_plinth/metrics", false, None),
            (true, &remote, "/_plinth/views", false, None),
        ];
        for (open, peer, path, is_grpc, refused) in cases {
            let refusal = doors(open).admin_refusal(path, peer, is_grpc);
            assert_eq!(
                refusal.as_ref().map(|r| r.status().as_u16()),
                refused,
                "{path}"
            );
            if let Some(response) = refusal.filter(|_| is_grpc) {
                assert_eq!(response.headers()["grpc-status"], "7");
            }
        }
    }
}
