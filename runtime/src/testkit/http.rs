//! The harness's HTTP/JSON client: one request on a fresh HTTP/1
//! connection, the reply parsed as JSON.

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// `method` `path` on the service at `base` with an optional JSON body.
///
/// # Panics
/// When the service cannot be reached or the request cannot be built: the
/// test cannot go on.
pub(crate) async fn request(
    base: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let bytes = body.map(|body| body.to_string()).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(bytes)))
        .unwrap_or_else(|error| panic!("cannot build the request {method} {path}: {error}"));
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|error| panic!("{method} {path} failed: {error}"));
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|error| panic!("the reply to {method} {path} broke off: {error}"))
        .to_bytes();
    if body.is_empty() {
        return (status, serde_json::Value::Null);
    }
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}
