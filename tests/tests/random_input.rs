//! Random and mangled requests over real sockets, HTTP/JSON and gRPC: every one
//! gets a well-formed answer (never a dropped connection), only the known
//! panicking method answers 500, and the server keeps serving correct state.
//! The sequence is seeded, so a failure names the seed that reproduces it.

use std::time::Duration;

use http::uri::PathAndQuery;
use plinth::Config;
use plinth_tests::fixture::{CounterState, Increment};
use tonic_prost::ProstCodec;

const PATHS: &[&str] = &[
    "/test.Counter/Increment",
    "/test.Counter/Get",
    "/test.Counter/Create",
    "/test.Counter/Reset",
    "/test.Counter/IncrementViaForward",
    "/test.EsCounter/Increment",
    "/test.EsCounter/Get",
    "/test.EsCounter/AddMany",
    "/test.Echo/Say",
    "/test.Echo/Repeat",
    "/test.Echo/Slow",
    "/test.Counter/Nope",
    "/",
    "/test.Counter",
    "/test.Counter/Increment/extra",
    "/%ff%fe",
    "/test.Counter/Increment?by=1&by=2&id=%00",
];

const VALID: &[&str] = &[
    r#"{"id":"r1","by":1}"#,
    r#"{"id":"r2","by":"3"}"#,
    r#"{"text":"hi","count":2}"#,
    r#"{"id":"r3","by":-1}"#,
];

/// A mangled version of a valid body: truncated, with bytes flipped or
/// inserted, values swapped for other JSON types, or random bytes.
fn mangle(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut body = VALID[rng.usize(..VALID.len())].as_bytes().to_vec();
    match rng.u8(..10) {
        0 => body.truncate(rng.usize(..body.len())),
        1 => {
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..body.len());
                body[i] = rng.u8(..);
            }
        }
        2 => {
            let i = rng.usize(..body.len());
            let junk = [
                b"null".as_slice(),
                b"[]",
                b"{}",
                b"1e999",
                b"\"\\u0000\"",
                b"-",
            ];
            body.splice(i..i, junk[rng.usize(..junk.len())].iter().copied());
        }
        3 => body = (0..rng.usize(..64)).map(|_| rng.u8(..)).collect(),
        4 => {
            let deep = rng.usize(1..300);
            body = format!("{}{}", "[".repeat(deep), "]".repeat(deep)).into_bytes();
        }
        _ => {}
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_get_answers_and_never_break_the_server() {
    let seed = std::env::var("PLINTH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(dir.path().join("plinth.db"));
    config.max_body_bytes = 4096;
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
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"];
    let types = [
        "application/json",
        "text/plain",
        "",
        "application/json; charset=utf-8",
    ];

    let (mut answered_ok, mut refused) = (0, 0);
    for i in 0..600 {
        let path = PATHS[rng.usize(..PATHS.len())];
        // Mostly what a client would send, so handlers are reached too.
        let method = if rng.u8(..10) < 6 {
            "POST"
        } else {
            methods[rng.usize(..methods.len())]
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = mangle(&mut rng);
        let content_type = if rng.bool() {
            types[0]
        } else {
            types[rng.usize(..types.len())]
        };
        // Every tenth request is a correct one, answered between the others.
        let (method, path, body, content_type) = if i % 10 == 0 {
            let body = VALID[0].as_bytes().to_vec();
            (reqwest::Method::POST, PATHS[0], body, types[0])
        } else {
            (method, path, body, content_type)
        };
        let mut request = client
            .request(method.clone(), format!("{base}{path}"))
            .body(body.clone());
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let reply = request.send().await.unwrap_or_else(|error| {
            panic!("seed {seed}, request {i}: {method} {path} {body:?}: no answer: {error}")
        });
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        let context =
            || format!("seed {seed}, request {i}: {method} {path} {body:?} -> {status} {text}");
        assert!((200..600).contains(&status), "{}", context());
        assert!(status != 500 && status != 502, "{}", context());
        if status < 300 {
            answered_ok += 1;
        } else {
            refused += 1;
        }
        if status >= 400 {
            let json: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("error bodies are JSON: {}", context()));
            assert!(json["message"].is_string(), "{}", context());
        }
    }

    // The mix reaches handlers as well as every kind of refusal.
    assert!(
        answered_ok >= 20 && refused >= 300,
        "{answered_ok} ok, {refused} refused"
    );

    let channel = tonic::transport::Endpoint::from_shared(base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    for i in 0..300 {
        let path = PATHS[rng.usize(..11)];
        let payload: Vec<u8> = if rng.bool() {
            mangle(&mut rng)
        } else {
            (0..rng.usize(..48)).map(|_| rng.u8(..)).collect()
        };
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let path_and_query = PathAndQuery::from_static(path);
        let result = if path == "/test.Echo/Repeat" {
            grpc.server_streaming(
                tonic::Request::new(bytes::Bytes::from(payload.clone())),
                path_and_query,
                plinth::grpc::BytesCodec,
            )
            .await
            .map(|_| ())
        } else {
            grpc.unary(
                tonic::Request::new(bytes::Bytes::from(payload.clone())),
                path_and_query,
                plinth::grpc::BytesCodec,
            )
            .await
            .map(|_| ())
        };
        if let Err(status) = result {
            assert_ne!(
                status.code(),
                tonic::Code::Internal,
                "seed {seed}, gRPC call {i}: {path} {payload:?}: {status:?}"
            );
        }
    }

    // Still serving, with state that only successful commands changed.
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let before = grpc
        .unary(
            tonic::Request::new(Increment {
                id: "after".into(),
                by: 0,
            }),
            PathAndQuery::from_static("/test.Counter/Get"),
            ProstCodec::<Increment, CounterState>::default(),
        )
        .await
        .unwrap()
        .into_inner()
        .value;
    let reply = client
        .post(format!("{base}/test.Counter/Increment"))
        .json(&serde_json::json!({"id": "after", "by": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["value"], (before + 2).to_string(), "{body}");
    service.shutdown().await;
}

/// A random header line: known names with mangled values, random names,
/// bytes no header may hold, and oversized values.
fn random_header(rng: &mut fastrand::Rng) -> Vec<u8> {
    const NAMES: &[&str] = &[
        "content-type",
        "content-length",
        "transfer-encoding",
        "authorization",
        "accept",
        "ce-type",
        "ce-subject",
        "x-caller",
        "grpc-timeout",
        "te",
        "expect",
        "host",
    ];
    const VALUES: &[&str] = &[
        "application/json",
        "chunked",
        "Bearer",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
        "-1",
        "99999999999999999999",
        "text/event-stream",
        "100-continue",
        "1H",
        "",
    ];
    let name: Vec<u8> = match rng.u8(..4) {
        0 => (0..rng.usize(1..12)).map(|_| rng.u8(..)).collect(),
        _ => NAMES[rng.usize(..NAMES.len())].as_bytes().to_vec(),
    };
    let value: Vec<u8> = match rng.u8(..6) {
        0 => (0..rng.usize(..40)).map(|_| rng.u8(..)).collect(),
        1 => vec![b'a'; rng.usize(1_000..40_000)],
        _ => VALUES[rng.usize(..VALUES.len())].as_bytes().to_vec(),
    };
    [name, b": ".to_vec(), value, b"\r\n".to_vec()].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_headers_get_a_client_error_or_an_answer_never_a_server_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let seed = std::env::var("PLINTH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x4ead_u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(dir.path().join("plinth.db"));
    let service = plinth_tests::fixture::service()
        .config(config)
        .start()
        .await
        .unwrap();
    let addr = service.local_addr();

    let mut client_errors = 0;
    for i in 0..300 {
        let path = PATHS[rng.usize(..11)];
        let body = VALID[rng.usize(..VALID.len())];
        let mut request = format!("POST {path} HTTP/1.1\r\nhost: test\r\n").into_bytes();
        for _ in 0..rng.usize(1..6) {
            request.extend(random_header(&mut rng));
        }
        request.extend(
            format!(
                "connection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .bytes(),
        );
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        // The server may answer and close before reading everything.
        let _ = socket.write_all(&request).await;
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
        let context = || {
            format!(
                "seed {seed}, request {i}: {:?} -> {:?}",
                String::from_utf8_lossy(&request[..request.len().min(400)]),
                String::from_utf8_lossy(&answer[..answer.len().min(300)])
            )
        };
        assert!(read.is_ok(), "no answer in time: {}", context());
        let status: u16 = std::str::from_utf8(answer.get(9..12).unwrap_or_default())
            .ok()
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("an HTTP answer: {}", context()));
        assert!(answer.starts_with(b"HTTP/1.1 "), "{}", context());
        assert!((200..500).contains(&status), "{}", context());
        if status >= 400 {
            client_errors += 1;
        }
    }
    assert!(
        client_errors >= 30,
        "the headers were refused too: {client_errors}"
    );

    // Still serving.
    let reply = reqwest::Client::new()
        .post(format!("http://{addr}/test.Echo/Say"))
        .json(&serde_json::json!({"text": "still here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
}
