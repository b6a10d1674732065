//! The front doors' access rules over a real socket: a method's ACL decides
//! what a caller from the internet gets (the call, 403, or the ACL's own
//! deny code), and a client's `ce-*` headers never reach the handler.

mod http_support;

use http_support::library::{component, method_info};
use http_support::{App, EchoDispatch, send};
use plinth::component::info::{Acl, MethodInfo, Principal};
use plinth::dispatch::SharedDispatch;
use plinth::http::{HttpOptions, router};

fn with_acl(name: &str, acl: Option<Acl>) -> MethodInfo {
    let mut method = method_info(name, "httptest.Echo", vec![]);
    method.acl = acl;
    method
}

const fn acl(allow: &'static [Principal], deny: &'static [Principal], deny_code: u32) -> Acl {
    Acl {
        allow,
        deny,
        deny_code,
    }
}

#[tokio::test]
async fn the_acl_of_a_method_decides_what_the_internet_gets() {
    let methods: &'static [MethodInfo] = Box::leak(
        vec![
            with_acl("Open", None),
            with_acl("Public", Some(acl(&[Principal::Internet], &[], 0))),
            with_acl("Closed", Some(acl(&[], &[], 0))),
            with_acl(
                "ServicesOnly",
                Some(acl(&[Principal::Service("*")], &[], 0)),
            ),
            with_acl(
                "Hidden",
                Some(acl(&[Principal::Service("billing")], &[], 5)),
            ),
            with_acl(
                "AllButInternet",
                Some(acl(&[Principal::All], &[Principal::Internet], 0)),
            ),
        ]
        .into_boxed_slice(),
    );
    let dispatch = EchoDispatch::new(vec![component(methods)]);
    let shared: SharedDispatch = dispatch.clone();
    let app = App::serve(router(shared, HttpOptions::default()).expect("the router builds"));
    let cases = [
        ("Open", 200, None),
        ("Public", 200, None),
        ("Closed", 403, Some(7)),
        ("ServicesOnly", 403, Some(7)),
        ("Hidden", 404, Some(5)),
        ("AllButInternet", 403, Some(7)),
    ];
    for (name, status, code) in cases {
        let path = format!("/httptest.Library/{name}");
        let reply = send(
            &app,
            "POST",
            &path,
            &[
                ("content-type", "application/json"),
                ("ce-subject", "forged"),
            ],
            r#"{"name": "x"}"#,
        )
        .await;
        match code {
            None => {
                assert_eq!(reply.status.as_u16(), status, "{name}: {}", reply.text());
                assert_eq!(dispatch.last_path(), path);
                assert_eq!(dispatch.last_metadata().get("ce-subject"), None, "{name}");
            }
            Some(code) => {
                let message = reply.error(status, code);
                assert!(message.contains(&path), "{name}: {message}");
            }
        }
    }
}
