//! Streamed replies over HTTP: newline-delimited JSON, or Server-Sent Events
//! when the client asks for `text/event-stream`. An error ends the stream with
//! an error object (NDJSON) or an `error` event (SSE).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::ready;
use futures::stream::BoxStream;
use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor};

use crate::status::Status;

use super::error::error_json;
use super::json;
use super::typed_json::JsonCodec;

/// How a stream of replies is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamFormat {
    /// `application/x-ndjson`: one JSON value per line.
    NdJson,
    /// `text/event-stream`: one `data:` event per reply.
    ServerSentEvents,
}

impl StreamFormat {
    /// The format a request asks for with its `Accept` header.
    pub fn for_accept(accept: Option<&str>) -> StreamFormat {
        let wants_sse = accept.is_some_and(|accept| {
            accept.split(',').any(|item| {
                item.split(';')
                    .next()
                    .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
            })
        });
        if wants_sse {
            StreamFormat::ServerSentEvents
        } else {
            StreamFormat::NdJson
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            StreamFormat::NdJson => "application/x-ndjson",
            StreamFormat::ServerSentEvents => "text/event-stream",
        }
    }

    fn frame(self, json: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(json.len() + 8);
        match self {
            StreamFormat::NdJson => {
                out.extend_from_slice(json);
                out.push(b'\n');
            }
            StreamFormat::ServerSentEvents => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(json);
                out.extend_from_slice(b"\n\n");
            }
        }
        out.into()
    }

    fn error_frame(self, status: &Status) -> Bytes {
        match self {
            StreamFormat::NdJson => {
                let mut line = serde_json::json!({ "error": error_json(status) }).to_string();
                line.push('\n');
                line.into()
            }
            StreamFormat::ServerSentEvents => {
                format!("event: error\ndata: {}\n\n", error_json(status)).into()
            }
        }
    }
}

/// A response streaming `replies` (encoded `output` messages) as JSON frames.
pub(crate) fn streaming_response(
    replies: BoxStream<'static, Result<Bytes, Status>>,
    output: MessageDescriptor,
    response_body: Option<FieldDescriptor>,
    codec: Option<JsonCodec>,
    format: StreamFormat,
) -> Response {
    let float_wrappers = json::holds_float_wrappers(&output);
    // The generated writer renders whole replies; one field of them goes
    // through reflection.
    let codec = codec.filter(|_| response_body.is_none());
    let frames = replies
        .map(move |reply| {
            let rendered = reply.and_then(|bytes| {
                if let Some(json) = codec.and_then(|codec| (codec.render)(&bytes)) {
                    return Ok(json);
                }
                let message = DynamicMessage::decode(output.clone(), bytes).map_err(|err| {
                    Status::internal(format!(
                        "a streamed reply is not a valid `{}`: {err}",
                        output.full_name()
                    ))
                })?;
                json::encode(&message, response_body.as_ref(), float_wrappers)
            });
            match rendered {
                Ok(json) => (format.frame(&json), false),
                Err(status) => (format.error_frame(&status), true),
            }
        })
        .scan(false, |ended, (frame, last)| {
            if *ended {
                return ready(None);
            }
            *ended = last;
            ready(Some(Ok::<_, Infallible>(frame)))
        });
    let mut response = Response::new(Body::from_stream(frames));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_the_format() {
        assert_eq!(StreamFormat::for_accept(None), StreamFormat::NdJson);
        assert_eq!(
            StreamFormat::for_accept(Some("application/json")),
            StreamFormat::NdJson
        );
        assert_eq!(
            StreamFormat::for_accept(Some("text/html, text/event-stream;q=0.9")),
            StreamFormat::ServerSentEvents
        );
        assert_eq!(
            StreamFormat::for_accept(Some("TEXT/EVENT-STREAM")),
            StreamFormat::ServerSentEvents
        );
    }

    #[test]
    fn frames() {
        assert_eq!(
            StreamFormat::NdJson.frame(b"{}"),
            Bytes::from_static(b"{}\n")
        );
        assert_eq!(
            StreamFormat::ServerSentEvents.frame(b"{}"),
            Bytes::from_static(b"data: {}\n\n")
        );
        let error = StreamFormat::ServerSentEvents.error_frame(&Status::internal("boom"));
        assert_eq!(
            error,
            Bytes::from(format!(
                "event: error\ndata: {}\n\n",
                error_json(&Status::internal("boom"))
            ))
        );
        let line = StreamFormat::NdJson.error_frame(&Status::internal("boom"));
        let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed["error"]["code"], 13);
    }
}
