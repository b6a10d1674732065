//! The access log: one line per call through the front doors, at DEBUG on
//! target `plinth::access` (`PLINTH_LOG=info,plinth::access=debug` turns
//! it on), with the method, the path, the HTTP status (and for gRPC the
//! `grpc-status` when the response head carries it: refusals and errors
//! before any reply), the time to the response head and a request id.
//!
//! The request id is the client's `x-request-id` when it is a short
//! printable token, else a new UUID; either way the response carries it
//! back in `x-request-id`, so a client can quote it.

use std::time::Instant;

use http::{HeaderValue, Request, Response};

/// The header carrying the request id.
const REQUEST_ID: &str = "x-request-id";
/// The longest client request id kept.
const MAX_ID: usize = 128;

/// One call being served.
pub(crate) struct Access {
    method: http::Method,
    path: String,
    grpc: bool,
    started: Instant,
    id: HeaderValue,
}

impl Access {
    /// Note the start of `request`.
    pub(crate) fn start<B>(request: &Request<B>, grpc: bool) -> Access {
        let id = request
            .headers()
            .get(REQUEST_ID)
            .filter(|value| {
                value.len() <= MAX_ID && value.as_bytes().iter().all(|b| b.is_ascii_graphic())
            })
            .cloned()
            .unwrap_or_else(|| {
                HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                    .unwrap_or(HeaderValue::from_static("-"))
            });
        Access {
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            grpc,
            started: Instant::now(),
            id,
        }
    }

    /// Log the call once its response head is ready, and hand the request
    /// id back on the response.
    pub(crate) fn finish<B>(self, response: &mut Response<B>) {
        let grpc_status = response
            .headers()
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
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
