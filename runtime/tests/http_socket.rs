//! The HTTP router over a real TCP socket, driven by an HTTP client.

mod http_support;

use futures::StreamExt as _;
use http_support::app;
use serde_json::json;

async fn serve() -> (std::sync::Arc<http_support::EchoDispatch>, String) {
    let (dispatch, app) = app();
    (dispatch, app.base)
}

#[tokio::test]
async fn unary_calls_and_errors_over_tcp() {
    let (dispatch, base) = serve().await;
    let client = reqwest::Client::new();

    let reply = client
        .put(format!("{base}/v1/things/t%201"))
        .header("x-caller", "socket-test")
        .json(&json!({"page_size": 9, "big": "9007199254740993", "color": "RED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/json");
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["name"], "t 1");
    assert_eq!(body["pageSize"], 9);
    assert_eq!(body["big"], "9007199254740993");
    assert_eq!(body["color"], "RED");
    assert_eq!(dispatch.last_path(), "/httptest.Library/PutThing");
    assert_eq!(
        dispatch.last_metadata().get("x-caller"),
        Some("socket-test")
    );

    let reply = client
        .post(format!("{base}/v1/things/t1"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 405);
    assert!(reply.headers()["allow"].to_str().unwrap().contains("PUT"));
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["code"], 12);

    let reply = client.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.json::<serde_json::Value>().await.unwrap()["code"], 5);
}

#[tokio::test]
async fn stream_frames_are_sent_as_they_come() {
    let (_, base) = serve().await;
    let reply = reqwest::get(format!("{base}/v1/watch/endless"))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let mut chunks = reply.bytes_stream();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), chunks.next())
        .await
        .expect("the first frame arrives while the stream is still open")
        .unwrap()
        .unwrap();
    let line: serde_json::Value =
        serde_json::from_slice(first.strip_suffix(b"\n").expect("one whole line")).unwrap();
    assert_eq!(line["name"], "endless");
}

#[tokio::test]
async fn a_stream_error_ends_the_stream_over_tcp() {
    let (_, base) = serve().await;
    let reply = reqwest::get(format!("{base}/v1/watch/broken"))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/x-ndjson");
    let mut body = Vec::new();
    let mut chunks = reply.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    let lines: Vec<serde_json::Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["name"], "broken");
    assert_eq!(lines[2]["error"]["code"], 10);
}
