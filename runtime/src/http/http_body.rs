//! `google.api.HttpBody`: a method that takes or returns one is served over
//! HTTP with a raw body instead of JSON — the request's bytes and
//! `Content-Type` go into the message as they are, and a reply's `data` is
//! the response body, with its `content_type` as the `Content-Type`.

use bytes::Bytes;

/// The fully qualified name of the message.
pub(crate) const HTTP_BODY: &str = "google.api.HttpBody";

/// A raw HTTP body and its content type (`google.api.HttpBody`), for
/// methods that serve or take something other than JSON (HTML, images,
/// files). Over gRPC it is an ordinary message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpBody {
    /// The `Content-Type` of the body.
    #[prost(string, tag = "1")]
    pub content_type: String,
    /// The body.
    #[prost(bytes = "bytes", tag = "2")]
    pub data: Bytes,
    /// Application-specific metadata.
    #[prost(message, repeated, tag = "3")]
    pub extensions: Vec<prost_types::Any>,
}

impl HttpBody {
    /// A body of `content_type`.
    pub fn new(content_type: impl Into<String>, data: impl Into<Bytes>) -> HttpBody {
        HttpBody {
            content_type: content_type.into(),
            data: data.into(),
            extensions: Vec::new(),
        }
    }
}
