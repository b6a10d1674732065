//! The HTTP/JSON front door: HTTP requests transcoded into calls of the
//! dispatcher by the methods' `google.api.http` rules, and replies rendered as
//! canonical proto3 JSON.
//!
//! - `routes`: the route table built from every method's HTTP rules (plus the
//!   default `POST /package.Service/Method`), resolved against one descriptor
//!   pool, and the lookup of a request's route.
//! - `template`: compiled path templates and the segment matcher.
//! - `binding`: path variables and query parameters into request fields.
//! - `json`: JSON bodies in, JSON replies out by reflection; `json_check`:
//!   the object rules that decoder does not check (duplicate fields, oneofs).
//! - `typed_json`: the same JSON through generated code, for the messages
//!   that have a generated codec (the hot path; reflection stays the
//!   fallback and the reference).
//! - `handler`: one request from route lookup to rendered reply.
//! - `stream`: streamed replies as NDJSON or Server-Sent Events.
//! - `error`: setup errors and the JSON error body.

mod binding;
pub(crate) mod error;
mod handler;
mod http_body;
pub(crate) mod json;
mod json_check;
pub(crate) mod openapi;
mod routes;
mod stream;
mod template;
pub(crate) mod typed_json;

use std::sync::Arc;

pub use error::{HttpSetupError, error_response};
pub use http_body::HttpBody;

pub(crate) use handler::{Frontend, serve};

use crate::dispatch::SharedDispatch;

/// Limits of the HTTP front door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// The largest request body accepted (default 4 MiB); larger ones get 413.
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The router serving every HTTP route of `dispatch`'s components: each
/// method's `google.api.http` bindings and its default
/// `POST /package.Service/Method`. Fails when the components' descriptors or
/// HTTP rules are inconsistent (unknown messages or fields, clashing routes).
///
/// Without the service's configured keys, a method that validates bearer
/// tokens refuses every call with `UNAUTHENTICATED`.
pub fn router(
    dispatch: SharedDispatch,
    options: HttpOptions,
) -> Result<axum::Router, HttpSetupError> {
    router_with_auth(dispatch, options, Arc::default()).map(|(router, _, _)| router)
}

/// [`router`], checking bearer tokens with `auth`; also what serves its
/// routes without the router ([`serve`]), and the OpenAPI document of the
/// routes.
pub(crate) fn router_with_auth(
    dispatch: SharedDispatch,
    options: HttpOptions,
    auth: Arc<crate::auth::Authenticator>,
) -> Result<(axum::Router, Arc<Frontend>, serde_json::Value), HttpSetupError> {
    let components = dispatch.components();
    let pool = routes::descriptor_pool(components)?;
    let table = routes::RouteTable::build(components, &pool)?;
    let document = openapi::of_table(&table);
    let front = Arc::new(handler::Frontend {
        dispatch,
        table,
        options,
        auth,
    });
    let router = axum::Router::new()
        .fallback(handler::handle)
        .with_state(front.clone());
    Ok((router, front, document))
}
