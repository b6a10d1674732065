//! The harness's HTTP/JSON client: one request on a fresh HTTP/1
//! connection, the reply parsed as JSON.

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An HTTP reply: its status, headers and body parsed as JSON (`null`
/// when empty, a JSON string when it is not JSON).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: serde_json::Value,
}

/// `method` `path` on the service at `base` with an optional JSON body and
/// extra headers.
///
/// # Panics
/// When the service cannot be reached or the request cannot be built: the
/// test cannot go on.
pub(crate) async fn request(
    base: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
) -> HttpReply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let bytes = body.map(|body| body.to_string()).unwrap_or_default();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(bytes)))
        .unwrap_or_else(|error| panic!("cannot build the request {method} {path}: {error}"));
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|error| panic!("{method} {path} failed: {error}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|error| panic!("the reply to {method} {path} broke off: {error}"))
        .to_bytes();
    let body = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
        })
    };
    HttpReply {
        status,
        headers,
        body,
    }
}
