//! HTTP/JSON transcoding of `google.api.http` rules, each request sent by an
//! HTTP client to the router served on a loopback socket.

mod http_support;

use http_support::{app, app_with, send, send_json};
use plinth::http::HttpOptions;
use serde_json::json;

#[tokio::test]
async fn single_segment_variables_and_query_parameters() {
    let (calls, app) = app();
    let reply = send(
        &app,
        "GET",
        "/v1/shelves/s%201?name=n1&page_size=3",
        &[],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/json");
    let json = reply.json();
    assert_eq!(json["shelf"], "s 1");
    assert_eq!(json["name"], "n1");
    assert_eq!(json["pageSize"], 3);
    assert_eq!(calls.last_path(), "/httptest.Library/GetShelf");
}

#[tokio::test]
async fn an_escaped_first_segment_finds_the_route_of_its_literal() {
    let (calls, app) = app();
    let reply = send(&app, "GET", "/%761/shelves/s1", &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["shelf"], "s1");
    assert_eq!(calls.last_path(), "/httptest.Library/GetShelf");
    let reply = send(&app, "GET", "/v2/shelves/s1", &[], "").await;
    assert_eq!(reply.status, 404, "{}", reply.text());
}

#[tokio::test]
async fn literal_segments_beat_variables() {
    let (calls, app) = app();
    let reply = send(&app, "GET", "/v1/shelves/special", &[], "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["shelf"], "");
    assert_eq!(calls.last_path(), "/httptest.Library/SpecialShelf");
    send(&app, "GET", "/v1/shelves/specials", &[], "").await;
    assert_eq!(calls.last_path(), "/httptest.Library/GetShelf");
}

#[tokio::test]
async fn nested_path_variables_set_nested_fields() {
    let (calls, app) = app();
    let reply = send(
        &app,
        "GET",
        "/v1/shelves/s1/books/b%2F2?inner.level=4",
        &[],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["shelf"], "s1");
    assert_eq!(json["inner"], json!({"id": "b/2", "level": 4}));
    assert_eq!(calls.last_path(), "/httptest.Library/GetBook");
}

#[tokio::test]
async fn multi_segment_variables_and_additional_bindings() {
    let (calls, app) = app();
    let reply = send(&app, "GET", "/v1/libraries/l1/books/b2", &[], "").await;
    assert_eq!(reply.json()["name"], "libraries/l1/books/b2");
    assert_eq!(calls.last_path(), "/httptest.Library/GetByName");
    let reply = send(&app, "GET", "/v2/things/t1", &[], "").await;
    assert_eq!(reply.json()["name"], "things/t1");
    assert_eq!(calls.last_path(), "/httptest.Library/GetByName");
    assert_eq!(
        send(&app, "GET", "/v1/libraries/l1/books", &[], "")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn custom_verbs() {
    let (calls, app) = app();
    let reply = send_json(
        &app,
        "POST",
        "/v1/shelves/s1:publish",
        r#"{"flag": true, "name": "overridden"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    assert_eq!(
        json["name"], "shelves/s1",
        "path variables override the body"
    );
    assert_eq!(json["flag"], true);
    assert_eq!(calls.last_path(), "/httptest.Library/Publish");
    let reply = send_json(&app, "POST", "/v1/shelves/s1:unpublish", "{}").await;
    reply.error(405, 12);
}

#[tokio::test]
async fn double_wildcards() {
    let (calls, app) = app();
    let reply = send(&app, "GET", "/files/a/b%20c/d.txt", &[], "").await;
    assert_eq!(reply.json()["path"], "a/b c/d.txt");
    assert_eq!(calls.last_path(), "/httptest.Library/Files");
    assert_eq!(
        send(&app, "GET", "/files", &[], "").await.json()["path"],
        ""
    );
    assert_eq!(send(&app, "GET", "/raw/x/y/z", &[], "").await.status, 200);
    assert_eq!(calls.last_path(), "/httptest.Library/Raw");
    assert_eq!(send(&app, "GET", "/raw", &[], "").await.status, 404);
}

#[tokio::test]
async fn body_field_takes_one_field_and_query_parameters_the_rest() {
    let (calls, app) = app();
    let reply = send_json(
        &app,
        "PATCH",
        "/v1/things/t1?flag=true&tags=x",
        r#"{"id": "i1", "level": 3}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["name"], "t1");
    assert_eq!(json["inner"], json!({"id": "i1", "level": 3}));
    assert_eq!(json["flag"], true);
    assert_eq!(json["tags"], json!(["x"]));
    assert_eq!(calls.last_path(), "/httptest.Library/PatchThing");

    let reply = send_json(
        &app,
        "POST",
        "/v1/shelves/s1/books?request_id=r1",
        r#"{"id": "b1", "title": "T"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"shelf": "s1", "book": {"id": "b1", "title": "T"}, "requestId": "r1"})
    );

    let message = send_json(&app, "POST", "/v1/shelves/s1/books?book.title=x", "{}")
        .await
        .error(400, 3);
    assert!(message.contains("book.title"), "{message}");
    let message = send_json(&app, "PATCH", "/v1/things/t1", r#"{"level": "high"}"#)
        .await
        .error(400, 3);
    assert!(message.contains("inner.level"), "{message}");
}

#[tokio::test]
async fn whole_body_with_path_override_and_no_query_parameters() {
    let (calls, app) = app();
    let body = r#"{"name": "ignored", "page_size": 4, "big": 12, "at": "2024-01-02T03:04:05Z"}"#;
    let reply = send_json(&app, "PUT", "/v1/things/t1", body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["name"], "t1");
    assert_eq!(json["pageSize"], 4, "proto names are accepted");
    assert_eq!(json["big"], "12");
    assert_eq!(
        json["at"], "2024-01-02T03:04:05Z",
        "well-known types use their JSON form"
    );
    assert_eq!(calls.last_path(), "/httptest.Library/PutThing");

    let message = send_json(&app, "PUT", "/v1/things/t1?flag=true", "{}")
        .await
        .error(400, 3);
    assert!(message.contains("`flag`"), "{message}");
}

#[tokio::test]
async fn no_body_takes_every_other_field_from_the_query() {
    let (calls, app) = app();
    let uri = "/v1/things/t1?tags=a&tags=b&inner.level=5&pageSize=2&color=GREEN&big=9007199254740993&data=aGk&ratio=0.25";
    let reply = send(&app, "DELETE", uri, &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["name"], "t1");
    assert_eq!(json["tags"], json!(["a", "b"]));
    assert_eq!(json["inner"]["level"], 5);
    assert_eq!(json["pageSize"], 2);
    assert_eq!(json["color"], "GREEN");
    assert_eq!(json["big"], "9007199254740993", "int64 renders as a string");
    assert_eq!(json["data"], "aGk=");
    assert_eq!(json["ratio"], 0.25);
    assert_eq!(calls.last_path(), "/httptest.Library/DeleteThing");

    let reply = send(&app, "DELETE", "/v1/things/t1?color=1", &[], "").await;
    assert_eq!(
        reply.json()["color"],
        "RED",
        "enums are accepted by number and rendered by name"
    );
}

#[tokio::test]
async fn bad_query_parameters_are_named() {
    let (_, app) = app();
    for (query, named) in [
        ("nope=1", "`nope`"),
        ("inner.nope=1", "`inner.nope`"),
        ("inner=x", "inner"),
        ("page_size=x", "page_size"),
        ("color=BLUE", "color"),
        ("flag=maybe", "flag"),
        ("items.id=x", "items.id"),
    ] {
        let message = send(&app, "GET", &format!("/v1/shelves/s1?{query}"), &[], "")
            .await
            .error(400, 3);
        assert!(message.contains(named), "{query}: {message}");
    }
}

#[tokio::test]
async fn response_body_renders_one_field() {
    let (_, app) = app();
    let reply = send(&app, "GET", "/v1/tags/t?tags=a&tags=b", &[], "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!(["a", "b"]));
}

#[tokio::test]
async fn default_routes_post_the_whole_request() {
    let (calls, app) = app();
    let reply = send_json(&app, "POST", "/httptest.Library/Plain", r#"{"name": "p"}"#).await;
    assert_eq!(reply.json()["name"], "p");
    assert_eq!(calls.last_path(), "/httptest.Library/Plain");
    let reply = send_json(
        &app,
        "POST",
        "/httptest.Library/GetShelf",
        r#"{"shelf": "x"}"#,
    )
    .await;
    assert_eq!(
        reply.json()["shelf"],
        "x",
        "methods with rules keep their default route"
    );
    assert_eq!(calls.last_path(), "/httptest.Library/GetShelf");
    send(&app, "GET", "/httptest.Library/Plain", &[], "")
        .await
        .error(405, 12);
}

#[tokio::test]
async fn custom_methods() {
    let (calls, app) = app();
    assert_eq!(
        send_json(&app, "SEARCH", "/search", r#"{"name": "q"}"#)
            .await
            .json()["name"],
        "q"
    );
    assert_eq!(calls.last_path(), "/httptest.Library/Search");
    for method in ["GET", "DELETE", "OPTIONS", "POST"] {
        let reply = send(&app, method, "/any/x", &[], "").await;
        assert_eq!(reply.json()["name"], "x", "{method}");
        assert_eq!(calls.last_path(), "/httptest.Library/AnyMethod");
    }
    let reply = send(&app, "GET", "/search", &[], "").await;
    reply.error(405, 12);
    assert_eq!(reply.headers["allow"], "SEARCH");
}

#[tokio::test]
async fn every_field_is_rendered_with_its_default() {
    let (_, app) = app();
    let json = send(&app, "GET", "/v1/shelves/s1", &[], "").await.json();
    for (field, default) in [
        ("name", json!("")),
        ("big", json!("0")),
        ("color", json!("COLOR_UNSPECIFIED")),
        ("tags", json!([])),
        ("flag", json!(false)),
        ("pageSize", json!(0)),
        ("data", json!("")),
    ] {
        assert_eq!(json[field], default, "{field} in {json}");
    }
}

#[tokio::test]
async fn both_field_name_styles_are_accepted_in_bodies() {
    let (_, app) = app();
    let camel = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"pageSize": 7, "big": "-5"}"#,
    )
    .await
    .json();
    let snake = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"page_size": 7, "big": -5}"#,
    )
    .await
    .json();
    assert_eq!(camel, snake);
    assert_eq!(camel["pageSize"], 7);
    assert_eq!(camel["big"], "-5");
}

#[tokio::test]
async fn bad_json_is_a_400_naming_the_field() {
    let (_, app) = app();
    for (body, named) in [
        (r#"{"pageSize": "many"}"#, "pageSize"),
        (r#"{"inner": {"level": "x"}}"#, "inner.level"),
        (r#"{"nope": 1}"#, "nope"),
        (r#"{"color": "PURPLE"}"#, "color"),
        (r#"{"items": [{"id": 1}]}"#, "items[0].id"),
        (r#"{"name": "a""#, "invalid JSON"),
        (r#"{"name": "a"} trailing"#, "invalid JSON"),
    ] {
        let message = send_json(&app, "POST", "/httptest.Library/Plain", body)
            .await
            .error(400, 3);
        assert!(message.contains(named), "{body}: {message}");
    }
}

#[tokio::test]
async fn path_errors() {
    let (_, app) = app();
    let message = send(&app, "GET", "/nowhere", &[], "").await.error(404, 5);
    assert!(message.contains("/nowhere"), "{message}");
    let reply = send(&app, "POST", "/v1/things/t1", &[], "").await;
    reply.error(405, 12);
    let allow = reply.headers["allow"].to_str().unwrap().to_string();
    for method in ["PATCH", "PUT", "DELETE"] {
        assert!(allow.contains(method), "{allow}");
    }
    let message = send(&app, "GET", "/v1/shelves/%FF", &[], "")
        .await
        .error(400, 3);
    assert!(message.contains("shelf"), "{message}");
}

#[tokio::test]
async fn well_known_types_and_map_entries_come_from_the_query() {
    let (_, app) = app();
    let query = "at=2026-01-02T03:04:05Z&wait=1.5s&limit=7&enabled=true&mask=a,b.c\
                 &weight=0.25&labels[x]=1&labels%5By%5D=2";
    let reply = send(&app, "GET", &format!("/v1/shelves/s?{query}"), &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let echoed = reply.json();
    assert_eq!(echoed["at"], "2026-01-02T03:04:05Z");
    assert_eq!(echoed["wait"], "1.500s");
    assert_eq!(echoed["limit"], "7");
    assert_eq!(echoed["enabled"], true);
    assert_eq!(echoed["mask"], "a,b.c");
    assert_eq!(echoed["weight"], 0.25);
    assert_eq!(echoed["labels"], serde_json::json!({"x": 1, "y": 2}));
    for (bad, field) in [
        ("at=yesterday", "at"),
        ("wait=soon", "wait"),
        ("limit=many", "limit"),
        ("enabled=perhaps", "enabled"),
        ("labels[x]=one", "labels[x]"),
        ("shelf[x]=1", "shelf[x]"),
    ] {
        let message = send(&app, "GET", &format!("/v1/shelves/s?{bad}"), &[], "")
            .await
            .error(400, 3);
        assert!(message.contains(&format!("`{field}`")), "{bad}: {message}");
    }
}

#[tokio::test]
async fn non_finite_float_wrappers_render_as_their_names() {
    let (_, app) = app();
    for (sent, shown) in [
        (r#""NaN""#, "NaN"),
        (r#""Infinity""#, "Infinity"),
        (r#""-Infinity""#, "-Infinity"),
    ] {
        let body = format!(r#"{{"weight": {sent}, "ratio": {sent}}}"#);
        let reply = send_json(&app, "POST", "/httptest.Library/Plain", &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["weight"], shown, "the wrapper");
        assert_eq!(reply.json()["ratio"], shown, "the plain double");
    }
    let queried = send(&app, "GET", "/v1/shelves/s?weight=-Infinity", &[], "").await;
    assert_eq!(queried.json()["weight"], "-Infinity");
    let finite = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"weight": 1.5}"#,
    )
    .await;
    assert_eq!(finite.json()["weight"], 1.5);
}

#[tokio::test]
async fn the_root_path_is_a_route() {
    let (_, app) = app();
    let reply = send(&app, "GET", "/?name=home", &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["name"], "home");
}

#[tokio::test]
async fn a_field_given_twice_or_two_members_of_a_oneof_are_refused() {
    let (_, app) = app();
    let twice = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"pageSize": 1, "page_size": 2}"#,
    )
    .await
    .error(400, 3);
    assert!(
        twice.contains("field `page_size` is given twice"),
        "{twice}"
    );
    let repeated = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"name": "a", "name": "b"}"#,
    )
    .await
    .error(400, 3);
    assert!(repeated.contains("`name` is given twice"), "{repeated}");
    let nested = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"items": [{"id": "a"}, {"level": 1, "level": 2}]}"#,
    )
    .await
    .error(400, 3);
    assert!(nested.contains("`items[1].level`"), "{nested}");
    let both = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"left": "l", "right": "r"}"#,
    )
    .await
    .error(400, 3);
    assert!(
        both.contains("`left` and `right` of oneof `side`"),
        "{both}"
    );
    // One member, or one and a null, is fine; so is a body field's value.
    let one = send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"left": "l", "right": null}"#,
    )
    .await;
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(one.json()["left"], "l");
    let book = send_json(
        &app,
        "POST",
        "/v1/shelves/s/books",
        r#"{"id": "1", "id": "2"}"#,
    )
    .await
    .error(400, 3);
    assert!(book.contains("`id` is given twice"), "{book}");
}

#[tokio::test]
async fn body_checks() {
    let (_, app) = app_with(HttpOptions { max_body_bytes: 64 });
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(100));
    send_json(&app, "POST", "/httptest.Library/Plain", &big)
        .await
        .error(413, 8);
    let message = send(
        &app,
        "POST",
        "/httptest.Library/Plain",
        &[("content-type", "text/plain")],
        "{}",
    )
    .await
    .error(415, 3);
    assert!(message.contains("text/plain"), "{message}");
    // No content type: read as JSON (as grpc-gateway and Envoy do).
    let untyped = send(
        &app,
        "POST",
        "/httptest.Library/Plain",
        &[],
        r#"{"name": "n"}"#,
    )
    .await;
    assert_eq!(untyped.status, 200, "{}", untyped.text());
    let malformed = send(&app, "POST", "/httptest.Library/Plain", &[], "name=n")
        .await
        .error(400, 3);
    assert!(malformed.contains("invalid JSON"), "{malformed}");
    let charset = [("content-type", "application/json; charset=utf-8")];
    assert_eq!(
        send(
            &app,
            "POST",
            "/httptest.Library/Plain",
            &charset,
            r#"{"name": "c"}"#
        )
        .await
        .json()["name"],
        "c"
    );
    let empty = send(&app, "POST", "/httptest.Library/Plain", &[], "").await;
    assert_eq!(empty.status, 200, "an empty body needs no content-type");
    let message = send_json(&app, "GET", "/v1/shelves/s1", "{}")
        .await
        .error(400, 3);
    assert!(message.contains("no request body"), "{message}");
}

#[tokio::test]
async fn dispatch_errors_and_bad_replies() {
    let (_, app) = app();
    let reply = send_json(&app, "POST", "/v1/fail", "{}").await;
    assert_eq!(reply.error(404, 5), "no such thing");
    assert_eq!(
        reply.json(),
        json!({"code": 5, "message": "no such thing", "details": []})
    );
    send_json(
        &app,
        "POST",
        "/httptest.Library/Plain",
        r#"{"name": "garbage"}"#,
    )
    .await
    .error(500, 13);
}

#[tokio::test]
async fn headers_become_metadata() {
    let (calls, app) = app();
    send(
        &app,
        "GET",
        "/v1/shelves/s1",
        &[("X-Trace-Id", "t-1"), ("Authorization", "Bearer abc")],
        "",
    )
    .await;
    let metadata = calls.last_metadata();
    assert_eq!(metadata.get("x-trace-id"), Some("t-1"));
    assert!(
        metadata
            .iter()
            .any(|(key, value)| key == "authorization" && value == "Bearer abc")
    );
}

#[tokio::test]
async fn streams_as_ndjson() {
    let (calls, app) = app();
    let reply = send(&app, "GET", "/v1/watch/w1", &[], "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = reply
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|line| line["name"] == "w1" && line["big"] == "0")
    );
    assert_eq!(calls.last_path(), "/httptest.Library/Watch");

    let reply = send(&app, "GET", "/v1/watch/broken", &[], "").await;
    let lines: Vec<serde_json::Value> = reply
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "the error ends the stream");
    assert_eq!(
        lines[2],
        json!({"error": {"code": 10, "message": "the stream broke", "details": []}})
    );
}

#[tokio::test]
async fn streams_as_server_sent_events() {
    let (_, app) = app();
    let accept = [("accept", "text/event-stream")];
    let reply = send(&app, "GET", "/v1/watch/w1", &accept, "").await;
    assert_eq!(reply.headers["content-type"], "text/event-stream");
    let text = reply.text();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 2, "{text}");
    for event in events {
        let data = event.strip_prefix("data: ").expect("a data event");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(data).unwrap()["name"],
            "w1"
        );
    }

    let text = send(&app, "GET", "/v1/watch/broken", &accept, "")
        .await
        .text();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 3, "{text}");
    let error = events[2]
        .strip_prefix("event: error\ndata: ")
        .expect("an error event");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(error).unwrap()["code"],
        10
    );
}
