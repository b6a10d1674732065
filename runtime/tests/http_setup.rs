//! Building the HTTP router: inconsistent components are refused with an
//! error naming the problem.

mod http_support;

use http_support::library::{
    METHODS, component, component_with, descriptor_set, lit, method_info, rule, var,
};
use http_support::{App, EchoDispatch, send};
use plinth::component::info::{BodySelector, HttpMethod, MethodInfo, Segment};
use plinth::dispatch::SharedDispatch;
use plinth::http::{HttpOptions, HttpSetupError, router};

fn build(methods: Vec<MethodInfo>) -> Result<axum::Router, HttpSetupError> {
    let methods: &'static [MethodInfo] = Box::leak(methods.into_boxed_slice());
    let dispatch: SharedDispatch = EchoDispatch::new(vec![component(methods)]);
    router(dispatch, HttpOptions::default())
}

fn get(source: &'static str, segments: &'static [Segment]) -> plinth::component::info::HttpRule {
    rule(
        HttpMethod::Get,
        source,
        segments,
        None,
        BodySelector::None,
        None,
    )
}

const SHELF: &[Segment] = &[lit("shelves"), var(&["shelf"], &[])];
const NAME: &[Segment] = &[lit("shelves"), var(&["name"], &[Segment::Wildcard])];

#[test]
fn clashing_routes_are_refused() {
    let err = build(vec![
        method_info("A", "httptest.Echo", vec![get("/shelves/{shelf}", SHELF)]),
        method_info("B", "httptest.Echo", vec![get("/shelves/{name=*}", NAME)]),
    ])
    .unwrap_err();
    assert!(
        matches!(
            err,
            HttpSetupError::DuplicateRoute {
                first: "/httptest.Library/A",
                second: "/httptest.Library/B",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("GET /shelves/{name=*}"), "{err}");
    // The same shape under another HTTP method is fine.
    let put = rule(
        HttpMethod::Put,
        "/shelves/{name=*}",
        NAME,
        None,
        BodySelector::Whole,
        None,
    );
    let both = vec![
        method_info("A", "httptest.Echo", vec![get("/shelves/{shelf}", SHELF)]),
        method_info("B", "httptest.Echo", vec![put]),
    ];
    assert!(build(both).is_ok());
}

#[test]
fn fields_named_by_rules_must_fit() {
    const NOPE: &[Segment] = &[lit("x"), var(&["nope"], &[])];
    const TAGS: &[Segment] = &[lit("x"), var(&["tags"], &[])];
    const INNER: &[Segment] = &[lit("x"), var(&["inner"], &[])];
    const DEEP: &[Segment] = &[lit("x"), var(&["name", "id"], &[])];
    const X: &[Segment] = &[lit("x")];
    for (rule, named) in [
        (get("/x/{nope}", NOPE), "nope"),
        (get("/x/{tags}", TAGS), "repeated"),
        (get("/x/{inner}", INNER), "message"),
        (get("/x/{name.id}", DEEP), "name"),
        (
            rule(
                HttpMethod::Post,
                "/x",
                X,
                None,
                BodySelector::Field("nope"),
                None,
            ),
            "body field `nope`",
        ),
        (
            rule(
                HttpMethod::Post,
                "/x",
                X,
                None,
                BodySelector::Whole,
                Some("nope"),
            ),
            "response_body field `nope`",
        ),
    ] {
        let err = build(vec![method_info("A", "httptest.Echo", vec![rule])]).unwrap_err();
        assert!(
            matches!(
                err,
                HttpSetupError::BadField {
                    method: "/httptest.Library/A",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(named), "{named}: {err}");
    }
}

#[test]
fn messages_must_be_in_the_descriptors() {
    let err = build(vec![method_info("A", "httptest.Missing", vec![])]).unwrap_err();
    assert!(
        matches!(
            err,
            HttpSetupError::MissingMessage {
                message: "httptest.Missing",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn descriptor_sets_must_decode() {
    let dispatch: SharedDispatch = EchoDispatch::new(vec![component_with(&[], b"\xff\xff")]);
    let err = router(dispatch, HttpOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            HttpSetupError::Descriptors {
                component: "Library",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn components_sharing_files_share_one_pool() {
    // A copy of the same set at another address: its files are already in the pool.
    let copy: &'static [u8] = Box::leak(descriptor_set().to_vec().into_boxed_slice());
    let other: &'static [MethodInfo] =
        Box::leak(vec![method_info("Other", "httptest.Echo", vec![])].into_boxed_slice());
    let dispatch = EchoDispatch::new(vec![
        component(METHODS),
        component(METHODS),
        component_with(other, copy),
    ]);
    let shared: SharedDispatch = dispatch.clone();
    let app = App::serve(router(shared, HttpOptions::default()).expect("duplicate files are fine"));
    let reply = send(&app, "POST", "/httptest.Library/Other", &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(dispatch.last_path(), "/httptest.Library/Other");
}

#[tokio::test]
async fn the_most_specific_route_wins() {
    const DEEP: &[Segment] = &[lit("w"), var(&["name"], &[Segment::DoubleWildcard])];
    const ONE: &[Segment] = &[lit("w"), var(&["name"], &[])];
    const FIXED: &[Segment] = &[lit("w"), lit("fixed")];
    let any = rule(
        HttpMethod::Custom("*"),
        "/w/{name}",
        ONE,
        None,
        BodySelector::None,
        None,
    );
    let methods: &'static [MethodInfo] = Box::leak(
        vec![
            method_info("Deep", "httptest.Echo", vec![get("/w/{name=**}", DEEP)]),
            method_info("Any", "httptest.Echo", vec![any]),
            method_info("One", "httptest.Echo", vec![get("/w/{name}", ONE)]),
            method_info("Fixed", "httptest.Echo", vec![get("/w/fixed", FIXED)]),
        ]
        .into_boxed_slice(),
    );
    let dispatch = EchoDispatch::new(vec![component(methods)]);
    let shared: SharedDispatch = dispatch.clone();
    let app = App::serve(router(shared, HttpOptions::default()).unwrap());
    for (method, path, expected) in [
        ("GET", "/w/fixed", "Fixed"),
        ("GET", "/w/x", "One"),
        ("POST", "/w/x", "Any"),
        ("DELETE", "/w/fixed", "Any"),
        ("GET", "/w/a/b", "Deep"),
        ("GET", "/w", "Deep"),
    ] {
        let reply = send(&app, method, path, &[], "").await;
        assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text());
        assert_eq!(
            dispatch.last_path(),
            format!("/httptest.Library/{expected}"),
            "{method} {path}"
        );
    }
    let reply = send(&app, "PUT", "/w/a/b", &[], "").await;
    reply.error(405, 12);
    assert_eq!(reply.headers["allow"], "GET");
}
