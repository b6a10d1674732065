//! The request handler: route lookup, body and content-type checks, request
//! message assembly (body, then query parameters, then path variables),
//! dispatch, and rendering of the reply.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http_body::Body as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prost::Message as _;
use prost_reflect::{DynamicMessage, Value};

use crate::component::adapter::ActionReply;
use crate::context::{Metadata, is_reserved};
use crate::dispatch::SharedDispatch;
use crate::status::Status;

use super::HttpOptions;
use super::binding;
use super::error::{
    bad_request, error_response, method_not_allowed, not_found, payload_too_large,
    unsupported_media_type,
};
use super::http_body::{HTTP_BODY, HttpBody};
use super::json;
use super::routes::{Body, Lookup, Route, RouteTable};
use super::stream::{StreamFormat, streaming_response};
use super::template::PathMatch;

/// What the handler serves from.
pub(crate) struct Frontend {
    /// Where calls go.
    pub dispatch: SharedDispatch,
    /// The routes.
    pub table: RouteTable,
    /// Limits.
    pub options: HttpOptions,
    /// Checks bearer tokens.
    pub auth: Arc<crate::auth::Authenticator>,
}

impl std::fmt::Debug for Frontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frontend")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Serve one request (the router's fallback handler).
pub(crate) async fn handle(State(front): State<Arc<Frontend>>, request: Request) -> Response {
    serve(&front, request).await
}

/// Serve one request on the routes of `front`: its response, or the error
/// response of why it has none.
pub(crate) async fn serve(front: &Frontend, request: Request) -> Response {
    match respond(front, request).await {
        Ok(response) => response,
        Err(status) => error_response(&status),
    }
}

async fn respond(front: &Frontend, request: Request) -> Result<Response, Status> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let (route, found) = match front.table.lookup(&parts.method, path) {
        Lookup::Found(route, found) => (route, found),
        Lookup::NotFound => return Err(not_found(path)),
        Lookup::MethodNotAllowed(allowed) => {
            let mut response = error_response(&method_not_allowed(parts.method.as_str(), path));
            if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return Ok(response);
        }
    };
    crate::server::record_http_route(&parts.method, &route.pattern.source, route.method.path);
    crate::acl::check(
        route.method,
        crate::server::calling_service(&parts.extensions),
    )?;
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let claims = front.auth.authenticate(route.method, authorization)?;

    let limit = front.options.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(payload_too_large(limit));
    }
    // A request without a body (a GET, or a declared length of 0) has
    // nothing to collect.
    let body = match Limited::new(body, limit) {
        body if body.is_end_stream() => Bytes::new(),
        body => match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(payload_too_large(limit));
            }
            Err(err) => {
                return Err(bad_request(format!(
                    "the request body could not be read: {err}"
                )));
            }
        },
    };

    let mut metadata = metadata(&parts.headers);
    metadata.set_caller(crate::server::caller(&parts.extensions));
    let reply = if route.method.client_streaming {
        // A request stream over HTTP: one JSON message per line.
        let mut requests = Vec::new();
        for message in ndjson_requests(route, &body)? {
            let payload = Bytes::from(message.encode_to_vec());
            requests.push(
                front
                    .auth
                    .fill_fields(route.method, payload, claims.as_deref()),
            );
        }
        metadata.set_claims(claims);
        let requests = futures::stream::iter(requests).boxed();
        front
            .dispatch
            .dispatch_stream(route.method.path, requests, metadata)
            .await?
    } else {
        let request = match typed_request(route, &found, &parts.headers, parts.uri.query(), &body) {
            Some(request) => request,
            None => build_request(route, &found, &parts.headers, parts.uri.query(), &body)?
                .encode_to_vec(),
        };
        let payload =
            front
                .auth
                .fill_fields(route.method, Bytes::from(request), claims.as_deref())?;
        metadata.set_claims(claims);
        front
            .dispatch
            .dispatch(route.method.path, payload, metadata)
            .await?
    };
    let raw_reply = route.response_body.is_none() && route.output.full_name() == HTTP_BODY;
    match reply {
        ActionReply::Unary(bytes) if raw_reply => raw_response(&bytes),
        ActionReply::Stream(replies) if raw_reply => raw_stream(replies).await,
        ActionReply::Unary(bytes) => {
            if let Some(json) = route
                .output_codec
                .filter(|_| route.response_body.is_none())
                .and_then(|codec| (codec.render)(&bytes))
            {
                return Ok(json_response(json));
            }
            let message = DynamicMessage::decode(route.output.clone(), bytes).map_err(|err| {
                Status::internal(format!(
                    "the reply is not a valid `{}`: {err}",
                    route.output.full_name()
                ))
            })?;
            let json = json::encode(&message, route.response_body.as_ref(), route.float_wrappers)?;
            Ok(json_response(json))
        }
        ActionReply::Stream(replies) => {
            let accept = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            Ok(streaming_response(
                replies,
                route.output.clone(),
                route.response_body.clone(),
                route.output_codec,
                StreamFormat::for_accept(accept),
            ))
        }
    }
}

/// A `200 OK` with a JSON body (built directly: through `IntoResponse` the
/// body's own content type is set first and then replaced).
fn json_response(json: Vec<u8>) -> Response {
    let mut response = Response::new(axum::body::Body::from(json));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The encoded request through the route's generated codec, when it takes
/// this request: a JSON body that is the whole request (or none), no query
/// string, path variables that each set a value. `None` leaves the request
/// to [`build_request`], which also reports every problem; both give the
/// same message. Path variables are encoded apart and appended: a field
/// given again later in protobuf's encoding replaces a singular value and
/// merges into a message, as setting it on the decoded body does.
fn typed_request(
    route: &Route,
    found: &PathMatch,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Option<Vec<u8>> {
    let codec = route.input_codec?;
    if !query.unwrap_or("").is_empty() {
        return None;
    }
    let mut request = match route.body {
        Body::None | Body::Whole if body.is_empty() => Vec::new(),
        Body::Whole
            if headers
                .get(header::CONTENT_TYPE)
                .is_none_or(|value| value.to_str().is_ok_and(is_json)) =>
        {
            (codec.parse)(body)?
        }
        _ => return None,
    };
    let mut variables: Option<DynamicMessage> = None;
    for (capture, fields) in found.captures.iter().zip(&route.path_fields) {
        let text = capture.decode().ok()?;
        if binding::encode_plain_string(fields, &text, &mut request) {
            continue;
        }
        let variables = variables.get_or_insert_with(|| DynamicMessage::new(route.input.clone()));
        binding::set_text(variables, fields, &text, "").ok()?;
        // A default value would not be encoded, so it could not replace the body's.
        if !binding::is_set(variables, fields) {
            return None;
        }
    }
    if let Some(variables) = variables {
        variables.encode(&mut request).ok()?;
    }
    Some(request)
}

/// A `google.api.HttpBody` reply as the response: its data with its content type.
fn raw_response(bytes: &[u8]) -> Result<Response, Status> {
    let body = HttpBody::decode(bytes)
        .map_err(|err| Status::internal(format!("the reply is not a valid HttpBody: {err}")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type_of(&body))],
        body.data,
    )
        .into_response())
}

/// A stream of `google.api.HttpBody` replies as one response: the first
/// reply's content type, then every reply's data as it comes (a failure
/// after the first reply ends the body early).
async fn raw_stream(
    mut replies: futures::stream::BoxStream<'static, Result<Bytes, Status>>,
) -> Result<Response, Status> {
    let decode = |bytes: Bytes| {
        HttpBody::decode(bytes)
            .map_err(|err| Status::internal(format!("a reply is not a valid HttpBody: {err}")))
    };
    let first = match replies.next().await {
        Some(first) => decode(first?)?,
        None => HttpBody::default(),
    };
    let content_type = content_type_of(&first);
    let rest = replies.map(move |item| {
        item.and_then(decode)
            .map(|body| body.data)
            .map_err(|status| std::io::Error::other(status.message().to_owned()))
    });
    let chunks = futures::stream::once(async move { Ok(first.data) }).chain(rest);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        axum::body::Body::from_stream(chunks),
    )
        .into_response())
}

/// The `Content-Type` of a raw reply (`application/octet-stream` when it names none).
fn content_type_of(body: &HttpBody) -> HeaderValue {
    HeaderValue::from_str(&body.content_type)
        .ok()
        .filter(|_| !body.content_type.is_empty())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// Assemble the request message: the body first, then query parameters, then
/// path variables (which override both).
fn build_request(
    route: &Route,
    found: &PathMatch,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, Status> {
    let mut message = match raw_body(route, headers, body) {
        // The whole request is the raw body: nothing else can set a field.
        Some(message) if matches!(route.body, Body::Whole) => return Ok(message),
        Some(message) => message,
        None => json_body(route, headers, body)?,
    };

    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key.is_empty() {
            continue;
        }
        if matches!(route.body, Body::Whole) {
            return Err(bad_request(format!(
                "unknown query parameter `{key}`: the body of `{}` carries the whole request",
                route.pattern.source
            )));
        }
        // `labels[k]=v` sets entry `k` of map field `labels`.
        let (path, map_key) = match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
            Some((path, map_key)) => (path, Some(map_key)),
            None => (key.as_ref(), None),
        };
        let steps: Vec<&str> = path.split('.').collect();
        let fields = binding::resolve(&route.input, &steps, true).map_err(|problem| {
            bad_request(format!("unknown query parameter `{key}`: {problem}"))
        })?;
        if let (Body::Field(body_field), Some(first)) = (&route.body, fields.first())
            && body_field == first
        {
            return Err(bad_request(format!(
                "query parameter `{key}` sets field `{}`, which the body carries",
                first.name()
            )));
        }
        match map_key {
            Some(map_key) => binding::set_map_entry(&mut message, &fields, map_key, &value, &key),
            None => binding::set_text(&mut message, &fields, &value, &key),
        }
        .map_err(bad_request)?;
    }

    for (capture, fields) in found.captures.iter().zip(&route.path_fields) {
        let name = fields
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(".");
        let text = capture.decode().map_err(|_| {
            bad_request(format!(
                "the path value for field `{name}` is not valid UTF-8"
            ))
        })?;
        binding::set_text(&mut message, fields, &text, &name).map_err(bad_request)?;
    }
    Ok(message)
}

/// The requests of a method that takes a request stream, from an NDJSON
/// body (one JSON message per non-blank line; the body is read whole,
/// within the body limit). Such a route's body is the whole request.
fn ndjson_requests(route: &Route, body: &[u8]) -> Result<Vec<DynamicMessage>, Status> {
    body.split(|byte| *byte == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(number, line)| {
            json::decode_message(route.input.clone(), line)
                .map_err(|status| bad_request(format!("line {}: {}", number + 1, status.message())))
        })
        .collect()
}

/// The request of a method whose body is a `google.api.HttpBody` (the
/// whole request, or the body field): the raw bytes and their content type,
/// with no query parameters or path variables beside them.
fn raw_body(route: &Route, headers: &HeaderMap, body: &[u8]) -> Option<DynamicMessage> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let http_body = |desc: prost_reflect::MessageDescriptor| {
        let mut message = DynamicMessage::new(desc);
        message.set_field_by_name("content_type", Value::String(content_type.to_owned()));
        message.set_field_by_name("data", Value::Bytes(Bytes::copy_from_slice(body)));
        message
    };
    let is_http_body = |desc: &prost_reflect::MessageDescriptor| desc.full_name() == HTTP_BODY;
    match &route.body {
        Body::Whole if is_http_body(&route.input) => Some(http_body(route.input.clone())),
        Body::Field(field) => match field.kind() {
            prost_reflect::Kind::Message(desc) if is_http_body(&desc) => {
                let mut message = DynamicMessage::new(route.input.clone());
                message.set_field(field, Value::Message(http_body(desc)));
                Some(message)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The request as a JSON body sets it (the whole message or one field), or
/// the empty message when there is no body. A body without a content type is
/// read as JSON, as grpc-gateway and Envoy's transcoder do; any other declared
/// type is refused.
fn json_body(route: &Route, headers: &HeaderMap, body: &[u8]) -> Result<DynamicMessage, Status> {
    if body.is_empty() {
        return Ok(DynamicMessage::new(route.input.clone()));
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("(not text)");
        if !is_json(content_type) {
            return Err(unsupported_media_type(content_type));
        }
    }
    match &route.body {
        Body::None => Err(bad_request(format!(
            "`{}` takes no request body",
            route.pattern.source
        ))),
        Body::Whole => json::decode_message(route.input.clone(), body),
        Body::Field(field) => json::decode_field(route.input.clone(), field, body),
    }
}

/// Whether a content-type is JSON (`application/json`, parameters allowed).
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The request headers as metadata (keys lower-case; values that are not text
/// are left out, and so are the keys only the runtime sets, [`is_reserved`]).
fn metadata(headers: &HeaderMap) -> Metadata {
    let mut metadata = Metadata::new();
    for (name, value) in headers {
        if is_reserved(name.as_str()) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            metadata.insert(name.as_str(), value);
        }
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
    }

    #[test]
    fn headers_become_lower_case_metadata() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Request-Id", HeaderValue::from_static("r1"));
        headers.insert("binary", HeaderValue::from_bytes(&[0xff]).unwrap());
        headers.insert("CE-Subject", HeaderValue::from_static("forged"));
        headers.insert("ce-id", HeaderValue::from_static("forged"));
        let metadata = metadata(&headers);
        assert_eq!(metadata.get("x-request-id"), Some("r1"));
        assert_eq!(
            metadata.get("ce-subject"),
            None,
            "client ce-* never reach handlers"
        );
        assert_eq!(metadata.iter().count(), 1);
    }
}
