//! Shared fixtures of the HTTP front-door tests: the `httptest.Library` proto
//! compiled at test time, hand-written component statics mirroring it, a
//! dispatcher that echoes requests back, and the router served on a loopback
//! socket so every request goes through a real HTTP client and connection.

#![allow(dead_code)]

pub mod library;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use plinth::component::adapter::ActionReply;
use plinth::component::info::ComponentInfo;
use plinth::dispatch::{Dispatch, SharedDispatch};
use plinth::http::{HttpOptions, router};
use plinth::{Metadata, Status};
use prost_reflect::{DescriptorPool, DynamicMessage};

use library::{METHODS, component, descriptor_set};

/// A dispatcher echoing each request back as the reply, recording the calls.
///
/// `Fail` answers `NOT_FOUND`; `Watch` streams the request twice, then fails
/// with `ABORTED` when the request's name is `broken`; a request named
/// `endless` streams it once and then never ends; a request named
/// `garbage` gets bytes that are not a message.
pub struct EchoDispatch {
    components: Vec<&'static ComponentInfo>,
    pool: DescriptorPool,
    /// Every call: its gRPC path and metadata.
    pub calls: Mutex<Vec<(String, Metadata)>>,
}

impl EchoDispatch {
    /// A dispatcher for these components.
    pub fn new(components: Vec<&'static ComponentInfo>) -> Arc<EchoDispatch> {
        let pool = DescriptorPool::decode(descriptor_set()).expect("descriptors decode");
        Arc::new(EchoDispatch {
            components,
            pool,
            calls: Mutex::new(Vec::new()),
        })
    }

    /// The gRPC path of the last call.
    pub fn last_path(&self) -> String {
        self.calls
            .lock()
            .unwrap()
            .last()
            .map(|(path, _)| path.clone())
            .unwrap_or_default()
    }

    /// The metadata of the last call.
    pub fn last_metadata(&self) -> Metadata {
        self.calls
            .lock()
            .unwrap()
            .last()
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }

    fn name_of(&self, payload: &Bytes) -> String {
        let desc = self.pool.get_message_by_name("httptest.Echo").unwrap();
        DynamicMessage::decode(desc, payload.clone())
            .ok()
            .and_then(|m| {
                m.get_field_by_name("name")
                    .and_then(|v| v.as_str().map(str::to_string))
            })
            .unwrap_or_default()
    }
}

impl Dispatch for EchoDispatch {
    fn components(&self) -> &[&'static ComponentInfo] {
        &self.components
    }

    fn dispatch(
        &self,
        path: &str,
        payload: Bytes,
        metadata: Metadata,
    ) -> BoxFuture<'static, Result<ActionReply, Status>> {
        self.calls
            .lock()
            .unwrap()
            .push((path.to_string(), metadata));
        let reply = match path {
            "/httptest.Library/Fail" => Err(Status::not_found("no such thing")),
            "/httptest.Library/Watch" if self.name_of(&payload) == "endless" => {
                let first = futures::stream::iter([Ok(payload)]);
                Ok(ActionReply::Stream(Box::pin(
                    first.chain(futures::stream::pending()),
                )))
            }
            "/httptest.Library/Watch" => {
                let mut items = vec![Ok(payload.clone()), Ok(payload.clone())];
                if self.name_of(&payload) == "broken" {
                    items.push(Err(Status::aborted("the stream broke")));
                    items.push(Ok(payload));
                }
                Ok(ActionReply::Stream(Box::pin(futures::stream::iter(items))))
            }
            _ if self.name_of(&payload) == "garbage" => {
                Ok(ActionReply::Unary(Bytes::from_static(&[0xff, 0xff, 0xff])))
            }
            _ => Ok(ActionReply::Unary(payload)),
        };
        Box::pin(async move { reply })
    }
}

/// A router served on a loopback socket, with an HTTP client for it.
#[derive(Debug, Clone)]
pub struct App {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::Client,
}

impl App {
    /// Serve `router` on a free loopback port (inside the test's runtime).
    pub fn serve(router: axum::Router) -> App {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        App {
            base,
            client: reqwest::Client::new(),
        }
    }
}

/// The echo dispatcher of the full `httptest.Library` and its served router.
pub fn app_with(options: HttpOptions) -> (Arc<EchoDispatch>, App) {
    let dispatch = EchoDispatch::new(vec![component(METHODS)]);
    let shared: SharedDispatch = dispatch.clone();
    let app = router(shared, options).expect("the router builds");
    (dispatch, App::serve(app))
}

/// [`app_with`] default options.
pub fn app() -> (Arc<EchoDispatch>, App) {
    app_with(HttpOptions::default())
}

/// A reply: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.body))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("UTF-8 body")
    }

    /// The message of a JSON error body, after checking its shape and code.
    pub fn error(&self, status: u16, code: i64) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.headers["content-type"], "application/json");
        let json = self.json();
        assert_eq!(json["code"], code, "{json}");
        assert_eq!(json["details"], serde_json::json!([]), "{json}");
        json["message"].as_str().expect("a message").to_string()
    }
}

/// Send one request over the socket.
pub async fn send(
    app: &App,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, format!("{}{uri}", app.base))
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a whole body");
    Reply {
        status,
        headers,
        body,
    }
}

/// Send a JSON body.
pub async fn send_json(app: &App, method: &str, uri: &str, body: &str) -> Reply {
    send(
        app,
        method,
        uri,
        &[("content-type", "application/json")],
        body,
    )
    .await
}
