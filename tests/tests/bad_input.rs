//! Every way a request can be wrong, over real sockets: the status, the error
//! body, and that nothing was written.

use plinth::storage::{EntityStore, FeedSource};
use std::time::Duration;

use http::uri::PathAndQuery;
use plinth::Config;
use plinth::storage::{SqliteOptions, SqliteStorage};
use plinth_tests::fixture::{CounterState, Increment};
use tonic_prost::ProstCodec;

struct Case {
    name: &'static str,
    method: reqwest::Method,
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    /// Text the error message must contain.
    message: &'static str,
}

fn case(
    name: &'static str,
    path: &'static str,
    body: &str,
    status: u16,
    message: &'static str,
) -> Case {
    Case {
        name,
        method: reqwest::Method::POST,
        path,
        content_type: "application/json",
        body: body.as_bytes().to_vec(),
        status,
        message,
    }
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let mut config = Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(&db);
    config.max_body_bytes = 1024;
    let service = plinth_tests::fixture::service()
        .config(config)
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let cases = vec![
        case("unknown route", "/nowhere", "{}", 404, ""),
        case("unknown method", "/test.Counter/Nope", "{}", 404, ""),
        case(
            "malformed JSON",
            "/test.Counter/Increment",
            "{\"id\": ",
            400,
            "",
        ),
        case(
            "wrong field type",
            "/test.Counter/Increment",
            "{\"id\": \"a\", \"by\": \"many\"}",
            400,
            "by",
        ),
        case(
            "unknown field",
            "/test.Counter/Increment",
            "{\"id\": \"a\", \"bogus\": 1}",
            400,
            "bogus",
        ),
        case(
            "empty entity id",
            "/test.Counter/Increment",
            "{\"id\": \"\", \"by\": 1}",
            400,
            "entity id",
        ),
        case(
            "handler refusal",
            "/test.Counter/Increment",
            "{\"id\": \"a\", \"by\": -1}",
            400,
            "negative",
        ),
        case(
            "business rule with an explicit HTTP status",
            "/test.Counter/Increment",
            "{\"id\": \"a\", \"by\": 1000001}",
            422,
            "would pass",
        ),
        case(
            "handler panic",
            "/test.Counter/Explode",
            "{\"id\": \"a\", \"by\": 1}",
            500,
            "correlation id",
        ),
        Case {
            body: format!("{{\"id\": \"a\", \"pad\": \"{}\"}}", "x".repeat(4096)).into_bytes(),
            ..case("body too large", "/test.Counter/Increment", "", 413, "")
        },
        Case {
            content_type: "text/plain",
            ..case("not JSON", "/test.Counter/Increment", "id=a", 415, "")
        },
        Case {
            method: reqwest::Method::GET,
            ..case("wrong HTTP method", "/test.Counter/Increment", "", 405, "")
        },
    ];
    for case in &cases {
        let reply = client
            .request(case.method.clone(), format!("{base}{}", case.path))
            .header("content-type", case.content_type)
            .body(case.body.clone())
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        assert_eq!(status, case.status, "{}: body {text}", case.name);
        let body: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: error body is JSON: {text}", case.name));
        // The google.rpc.Status shape: a numeric code, a message, details.
        assert!(body["code"].is_u64(), "{}: code in {body}", case.name);
        assert!(
            body["details"].is_array(),
            "{}: details in {body}",
            case.name
        );
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(case.message),
            "{}: message {message:?}",
            case.name
        );
    }

    // The same mistakes over gRPC.
    let channel = tonic::transport::Endpoint::from_shared(base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let grpc_cases: [(&str, &'static str, Vec<u8>, tonic::Code); 5] = [
        (
            "unknown method",
            "/test.Counter/Nope",
            vec![],
            tonic::Code::Unimplemented,
        ),
        (
            "undecodable message",
            "/test.Counter/Increment",
            vec![0xff, 0xff, 0xff],
            tonic::Code::InvalidArgument,
        ),
        (
            "handler refusal",
            "/test.Counter/Increment",
            prost::Message::encode_to_vec(&Increment {
                id: "a".into(),
                by: -1,
            }),
            tonic::Code::InvalidArgument,
        ),
        (
            "business rule",
            "/test.Counter/Increment",
            prost::Message::encode_to_vec(&Increment {
                id: "a".into(),
                by: 1_000_001,
            }),
            tonic::Code::FailedPrecondition,
        ),
        (
            "message too large",
            "/test.Counter/Increment",
            prost::Message::encode_to_vec(&Increment {
                id: "a".repeat(4096),
                by: 1,
            }),
            tonic::Code::OutOfRange,
        ),
    ];
    for (name, path, payload, code) in grpc_cases {
        let mut client = tonic::client::Grpc::new(channel.clone());
        client.ready().await.unwrap();
        let error = client
            .unary(
                tonic::Request::new(bytes::Bytes::from(payload)),
                PathAndQuery::from_static(path),
                plinth::grpc::BytesCodec,
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), code, "{name}: {}", error.message());
    }
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.unwrap();
    let state = client
        .unary(
            tonic::Request::new(Increment {
                id: "a".into(),
                by: 0,
            }),
            PathAndQuery::from_static("/test.Counter/Get"),
            ProstCodec::<Increment, CounterState>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.value, 0);
    service.shutdown().await;

    let storage = SqliteStorage::open(&db, SqliteOptions::default()).unwrap();
    let feed = storage.read_feed(0, &[], 10).await.unwrap();
    assert!(feed.is_empty(), "nothing was written: {feed:?}");
    assert_eq!(storage.load_state("counters", "a").await.unwrap(), None);
}
