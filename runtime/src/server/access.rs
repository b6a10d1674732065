//! The access log: one line per call through the front doors, at DEBUG on
//! target `plinth::access` (`PLINTH_LOG=info,plinth::access=debug` turns
//! it on), with the method, the path, the HTTP status (and for gRPC the
//! `grpc-status` when the response head carries it: refusals and errors
//! before any reply), the time to the response head and a request id.
//!
//! The request id is the client's `x-request-id` when it is a short
//! printable token, else a new UUID; either way the response carries it
//! back in `x-request-id`, so a client can quote it.
//!
//! Each call is also served inside one INFO span, `plinth.call` (exported
//! under the name `POST /route/{template}` once a route matched, or the
//! gRPC method; never the raw path, which may hold user data), with the
//! method, route, request id and, once the head is ready, the status. With
//! spans exported, a valid `traceparent` from the caller is its parent.
//! Fields are formatted only when a subscriber records the span.

use std::time::Instant;

use http::{HeaderName, HeaderValue, Request, Response};
use tracing::field::Empty;

/// The header carrying the request id.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The status in a gRPC response head (a refusal, or an error before any reply).
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// The longest client request id kept.
const MAX_ID: usize = 128;

/// One call being served.
pub(crate) struct Access {
    method: http::Method,
    path: String,
    grpc: bool,
    started: Instant,
    id: HeaderValue,
    span: tracing::Span,
}

impl Access {
    /// Note the start of `request`.
    pub(crate) fn start<B>(request: &Request<B>, grpc: bool) -> Access {
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .filter(|value| {
                value.len() <= MAX_ID && value.as_bytes().iter().all(|b| b.is_ascii_graphic())
            })
            .cloned()
            .unwrap_or_else(new_request_id);
        let span = tracing::info_span!(
            "plinth.call",
            otel.name = Empty,
            otel.kind = "server",
            rpc.system = Empty,
            rpc.method = Empty,
            http.request.method = %request.method(),
            http.route = Empty,
            http.response.status_code = Empty,
            rpc.grpc.status_code = Empty,
            request_id = Empty,
        );
        if !span.is_disabled() {
            crate::telemetry::set_remote_parent(&span, request.headers());
            let path = request.uri().path();
            span.record("request_id", id.to_str().unwrap_or("-"));
            if grpc {
                let method = path.trim_start_matches('/');
                span.record("otel.name", method);
                span.record("rpc.system", "grpc");
                span.record("rpc.method", method);
            }
        }
        Access {
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            grpc,
            started: Instant::now(),
            id,
            span,
        }
    }

    /// The span the call is served in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Log the call once its response head is ready, and hand the request
    /// id back on the response.
    pub(crate) fn finish<B>(self, response: &mut Response<B>) {
        let grpc_status = if self.grpc {
            response
                .headers()
                .get(&GRPC_STATUS)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        } else {
            None
        };
        self.span
            .record("http.response.status_code", response.status().as_u16());
        if let Some(code) = grpc_status.as_deref().and_then(|c| c.parse::<u32>().ok()) {
            self.span.record("rpc.grpc.status_code", code);
        }
        tracing::debug!(
            target: "plinth::access",
            method = %self.method,
            path = %self.path,
            protocol = %if self.grpc { "grpc" } else { "http" },
            status = response.status().as_u16(),
            grpc_status = %grpc_status.as_deref().unwrap_or(if self.grpc { "trailers" } else { "-" }),
            latency_us = self.started.elapsed().as_micros() as u64,
            request_id = %self.id.to_str().unwrap_or("-"),
            "call"
        );
        response.headers_mut().insert(REQUEST_ID, self.id);
    }
}

/// A new request id: a random UUID, drawn from the thread's generator (the
/// `fast-rng` feature: no system call per request) and formatted on the
/// stack. It is marked sensitive so that HTTP/2's header compression sends
/// it as a literal instead of entering a value that never repeats into the
/// connection's table (which would evict the entries that do repeat).
fn new_request_id() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    let mut id = HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("-"));
    id.set_sensitive(true);
    id
}

/// Name the current call's span by the HTTP route that serves it: its
/// template (not the path, which may hold user data) and the method behind.
pub(crate) fn record_http_route(method: &http::Method, template: &str, rpc_method: &str) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    crate::telemetry::rename(&span, format!("{method} {template}"));
    span.record("http.route", template);
    span.record("rpc.method", rpc_method.trim_start_matches('/'));
}
