//! The `httptest.Library` proto compiled at test time, and hand-written
//! component statics mirroring it (what codegen would emit).

use std::path::PathBuf;
use std::sync::OnceLock;

use plinth::component::info::{
    BodySelector, ComponentInfo, ComponentKind, HttpMethod, HttpRule, IdSource, MethodInfo,
    PathTemplate, Segment,
};
use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

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
            client_streaming: false,
            id: IdSource::None,
            http: $http,
            subscribe: None,
            view: None,
            publish: None,
            acl: None,
            jwt: None,
            trigger: None,
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
    // A site's root.
    method!(
        "Root",
        &[rule(Get, "/", &[], None, BodySelector::None, None)]
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
        client_streaming: false,
        id: IdSource::None,
        http: Box::leak(http.into_boxed_slice()),
        subscribe: None,
        view: None,
        publish: None,
        acl: None,
        jwt: None,
        trigger: None,
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
        json: &[],
    }))
}
