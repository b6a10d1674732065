//! What can go wrong building the router, and how errors look on the wire.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::status::{Code, Status};

/// Why the HTTP router could not be built from the registered components.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    /// A component's `file_descriptor_set` is not a valid descriptor set, or
    /// conflicts with the files already in the pool.
    #[error("the descriptors of component `{component}` are invalid: {source}")]
    Descriptors {
        /// The component.
        component: &'static str,
        /// What the descriptor pool reported.
        #[source]
        source: prost_reflect::DescriptorError,
    },
    /// A method names a message missing from its component's descriptors.
    #[error(
        "method `{method}` uses message `{message}`, which its component's descriptors do not define"
    )]
    MissingMessage {
        /// The gRPC path of the method.
        method: &'static str,
        /// The fully qualified message name.
        message: &'static str,
    },
    /// A field named by an HTTP rule (path variable, `body` or `response_body`)
    /// cannot be used there.
    #[error("HTTP rule `{template}` of method `{method}`: {problem}")]
    BadField {
        /// The gRPC path of the method.
        method: &'static str,
        /// The rule's path template.
        template: String,
        /// What is wrong with the field.
        problem: String,
    },
    /// Two methods claim the same HTTP method and path template.
    #[error("{http_method} {template} is bound by both `{first}` and `{second}`")]
    DuplicateRoute {
        /// The HTTP method.
        http_method: String,
        /// The path template.
        template: String,
        /// The gRPC path of the method bound first.
        first: &'static str,
        /// The gRPC path of the other method.
        second: &'static str,
    },
}

/// An HTTP response carrying `status` as a JSON `google.rpc.Status`:
/// `{"code": 5, "message": "...", "details": []}`, with HTTP status
/// [`Status::http_status`].
pub fn error_response(status: &Status) -> Response {
    let code =
        StatusCode::from_u16(status.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, error_body(status)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if code == StatusCode::UNAUTHORIZED {
        // RFC 6750 §3: a 401 names the scheme that would be accepted.
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The JSON `google.rpc.Status` object of `status`.
pub(crate) fn error_json(status: &Status) -> serde_json::Value {
    serde_json::json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": [],
    })
}

fn error_body(status: &Status) -> String {
    error_json(status).to_string()
}

/// 400: the request does not fit the method.
pub(crate) fn bad_request(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}

/// 404: no route has this path.
pub(crate) fn not_found(path: &str) -> Status {
    Status::not_found(format!("no route matches path `{path}`"))
}

/// 405: routes have this path, but not for this method.
pub(crate) fn method_not_allowed(method: &str, path: &str) -> Status {
    Status::new(
        Code::Unimplemented,
        format!("method {method} is not allowed on `{path}`"),
    )
    .with_http_status(405)
}

/// 413: the body is larger than allowed.
pub(crate) fn payload_too_large(limit: usize) -> Status {
    Status::resource_exhausted(format!("request body exceeds the limit of {limit} bytes"))
        .with_http_status(413)
}

/// 415: the body is declared as something other than JSON.
pub(crate) fn unsupported_media_type(content_type: &str) -> Status {
    let message = format!("content-type must be application/json, not `{content_type}`");
    Status::invalid_argument(message).with_http_status(415)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_google_rpc_status_objects() {
        let response = error_response(&Status::not_found("no cart c1"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            error_json(&Status::not_found("no cart c1")),
            serde_json::json!({"code": 5, "message": "no cart c1", "details": []})
        );
        assert_eq!(
            error_response(&payload_too_large(10)).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            error_response(&unsupported_media_type("text/plain")).status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            error_response(&method_not_allowed("GET", "/x")).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let unauthenticated = error_response(&Status::unauthenticated("no token"));
        assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            unauthenticated.headers()[header::WWW_AUTHENTICATE],
            "Bearer"
        );
        let custom = Status::invalid_argument("odd").with_http_status(999);
        assert_eq!(error_response(&custom).status().as_u16(), 999);
        let out_of_range = Status::invalid_argument("odd").with_http_status(1000);
        assert_eq!(
            error_response(&out_of_range).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
