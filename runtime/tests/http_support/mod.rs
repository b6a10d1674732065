//! Shared fixtures of the HTTP front-door tests: the `httptest.Library` proto
//! compiled at test time, hand-written component statics mirroring it, and a
//! dispatcher that echoes requests back.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use plinth::component::adapter::ActionReply;
use plinth::component::info::{
    BodySelector, ComponentInfo, ComponentKind, HttpMethod, HttpRule, IdSource, MethodInfo,
    PathTemplate, Segment,
};
use plinth::dispatch::{Dispatch, SharedDispatch};
use plinth::http::{HttpOptions, router};
use plinth::{Metadata, Status};
use prost_reflect::{DescriptorPool, DynamicMessage};
use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};
use tower::ServiceExt as _;

/// Serves the embedded annotation protos (`google/api/annotations.proto`, ...).
struct AnnotationResolver;

impl FileResolver for AnnotationResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match plinth_annotations::find(name) {
            Some(file) => File::from_source(file.name, file.source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// The encoded descriptor set (options kept) of `tests/protos/http_library.proto`.
pub fn descriptor_set() -> &'static [u8] {
    static SET: OnceLock<Vec<u8>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut resolver = ChainFileResolver::new();
        resolver.add(AnnotationResolver);
        resolver.add(IncludeFileResolver::new(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/protos"),
        ));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler
            .open_file("http_library.proto")
            .expect("the test proto compiles");
        compiler.encode_file_descriptor_set()
    })
}

/// A literal segment.
pub const fn lit(text: &'static str) -> Segment {
    Segment::Literal(text)
}

/// A variable segment.
pub const fn var(field_path: &'static [&'static str], pattern: &'static [Segment]) -> Segment {
    Segment::Variable {
        field_path,
        pattern,
    }
}

/// An HTTP rule.
pub const fn rule(
    method: HttpMethod,
    source: &'static str,
    segments: &'static [Segment],
    verb: Option<&'static str>,
    body: BodySelector,
    response_body: Option<&'static str>,
) -> HttpRule {
    HttpRule {
        method,
        template: PathTemplate {
            source,
            segments,
            verb,
        },
        body,
        response_body,
    }
}

macro_rules! method {
    ($name:literal, $input:literal, $output:literal, $streaming:expr, $http:expr) => {
        MethodInfo {
            name: $name,
            path: concat!("/httptest.Library/", $name),
            input_type: $input,
            output_type: $output,
            server_streaming: $streaming,
            id: IdSource::None,
            http: $http,
            subscribe: None,
            view: None,
            publish: None,
            acl: None,
            jwt: None,
        }
    };
    ($name:literal, $http:expr) => {
        method!($name, "httptest.Echo", "httptest.Echo", false, $http)
    };
}

use BodySelector::{Field, Whole};
use HttpMethod::{Custom, Delete, Get, Patch, Post, Put};

/// The methods of `httptest.Library`, as codegen describes them.
pub static METHODS: &[MethodInfo] = &[
    method!(
        "GetShelf",
        &[rule(
            Get,
            "/v1/shelves/{shelf}",
            &[
                lit("v1"),
                lit("shelves"),
                var(&["shelf"], &[Segment::Wildcard])
            ],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "SpecialShelf",
        &[rule(
            Get,
            "/v1/shelves/special",
            &[lit("v1"), lit("shelves"), lit("special")],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "GetBook",
        &[rule(
            Get,
            "/v1/shelves/{shelf}/books/{inner.id}",
            &[
                lit("v1"),
                lit("shelves"),
                var(&["shelf"], &[Segment::Wildcard]),
                lit("books"),
                var(&["inner", "id"], &[Segment::Wildcard])
            ],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "GetByName",
        &[
            rule(
                Get,
                "/v1/{name=libraries/*/books/*}",
                &[
                    lit("v1"),
                    var(
                        &["name"],
                        &[
                            lit("libraries"),
                            Segment::Wildcard,
                            lit("books"),
                            Segment::Wildcard
                        ]
                    )
                ],
                None,
                BodySelector::None,
                None
            ),
            rule(
                Get,
                "/v2/{name=things/*}",
                &[
                    lit("v2"),
                    var(&["name"], &[lit("things"), Segment::Wildcard])
                ],
                None,
                BodySelector::None,
                None
            ),
        ]
    ),
    method!(
        "Publish",
        &[rule(
            Post,
            "/v1/{name=shelves/*}:publish",
            &[
                lit("v1"),
                var(&["name"], &[lit("shelves"), Segment::Wildcard])
            ],
            Some("publish"),
            Whole,
            None
        )]
    ),
    method!(
        "Files",
        &[rule(
            Get,
            "/files/{path=**}",
            &[lit("files"), var(&["path"], &[Segment::DoubleWildcard])],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "Raw",
        &[rule(
            Get,
            "/raw/*/**",
            &[lit("raw"), Segment::Wildcard, Segment::DoubleWildcard],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "PatchThing",
        &[rule(
            Patch,
            "/v1/things/{name}",
            &[lit("v1"), lit("things"), var(&["name"], &[])],
            None,
            Field("inner"),
            None
        )]
    ),
    method!(
        "PutThing",
        &[rule(
            Put,
            "/v1/things/{name}",
            &[lit("v1"), lit("things"), var(&["name"], &[])],
            None,
            Whole,
            None
        )]
    ),
    method!(
        "DeleteThing",
        &[rule(
            Delete,
            "/v1/things/{name}",
            &[lit("v1"), lit("things"), var(&["name"], &[])],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "AnyMethod",
        &[rule(
            Custom("*"),
            "/any/{name}",
            &[lit("any"), var(&["name"], &[])],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "Search",
        &[rule(
            Custom("SEARCH"),
            "/search",
            &[lit("search")],
            None,
            Whole,
            None
        )]
    ),
    method!(
        "Tags",
        &[rule(
            Get,
            "/v1/tags/{name}",
            &[lit("v1"), lit("tags"), var(&["name"], &[])],
            None,
            BodySelector::None,
            Some("tags")
        )]
    ),
    method!(
        "CreateBook",
        "httptest.CreateBookRequest",
        "httptest.CreateBookRequest",
        false,
        &[rule(
            Post,
            "/v1/shelves/{shelf}/books",
            &[
                lit("v1"),
                lit("shelves"),
                var(&["shelf"], &[]),
                lit("books")
            ],
            None,
            Field("book"),
            None
        )]
    ),
    // Codegen gives a method without `google.api.http` its default route.
    method!(
        "Plain",
        &[rule(
            Post,
            "/httptest.Library/Plain",
            &[lit("httptest.Library"), lit("Plain")],
            None,
            Whole,
            None
        )]
    ),
    method!(
        "Watch",
        "httptest.Echo",
        "httptest.Echo",
        true,
        &[rule(
            Get,
            "/v1/watch/{name}",
            &[lit("v1"), lit("watch"), var(&["name"], &[])],
            None,
            BodySelector::None,
            None
        )]
    ),
    method!(
        "Fail",
        &[rule(
            Post,
            "/v1/fail",
            &[lit("v1"), lit("fail")],
            None,
            Whole,
            None
        )]
    ),
];

/// A method of `httptest.Library` built at run time.
pub fn method_info(name: &str, input_type: &'static str, http: Vec<HttpRule>) -> MethodInfo {
    MethodInfo {
        name: Box::leak(name.to_string().into_boxed_str()),
        path: Box::leak(format!("/httptest.Library/{name}").into_boxed_str()),
        input_type,
        output_type: "httptest.Echo",
        server_streaming: false,
        id: IdSource::None,
        http: Box::leak(http.into_boxed_slice()),
        subscribe: None,
        view: None,
        publish: None,
        acl: None,
        jwt: None,
    }
}

/// A component description of `httptest.Library` with these methods.
pub fn component(methods: &'static [MethodInfo]) -> &'static ComponentInfo {
    component_with(methods, descriptor_set())
}

/// A component description with these methods and descriptors.
pub fn component_with(
    methods: &'static [MethodInfo],
    file_descriptor_set: &'static [u8],
) -> &'static ComponentInfo {
    Box::leak(Box::new(ComponentInfo {
        kind: ComponentKind::Action,
        name: "Library",
        service: "httptest.Library",
        type_id: "",
        state_type: "",
        event_types: &[],
        snapshot_every: 0,
        methods,
        file_descriptor_set,
    }))
}

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

/// The echo dispatcher of the full `httptest.Library` and its router.
pub fn app_with(options: HttpOptions) -> (Arc<EchoDispatch>, axum::Router) {
    let dispatch = EchoDispatch::new(vec![component(METHODS)]);
    let shared: SharedDispatch = dispatch.clone();
    let app = router(shared, options).expect("the router builds");
    (dispatch, app)
}

/// [`app_with`] default options.
pub fn app() -> (Arc<EchoDispatch>, axum::Router) {
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

/// Send one request through the router.
pub async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

/// Send a JSON body.
pub async fn send_json(app: &axum::Router, method: &str, uri: &str, body: &str) -> Reply {
    send(
        app,
        method,
        uri,
        &[("content-type", "application/json")],
        body,
    )
    .await
}
