//! Methods that return or take `google.api.HttpBody`, over a real socket:
//! a reply is served as its raw data with its content type (streamed replies
//! chunk by chunk), a request body goes into the message as it is, whatever
//! its content type, also as one field beside path variables; an error is the
//! usual JSON status. Over gRPC it is an ordinary message.

use plinth::{Config, HttpBody, RunningService, Service};
use plinth_tests::web::{Site, StaticFilesActionComponent, UploadReply};
use serde_json::json;

async fn start() -> (RunningService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().expect("addr"))
        .with_sqlite(dir.path().join("plinth.db"));
    let service = Service::new()
        .with(StaticFilesActionComponent::new(Site))
        .config(config)
        .start()
        .await
        .expect("starts");
    (service, dir)
}

#[tokio::test]
async fn replies_are_raw_bodies_with_their_content_type() {
    let (service, _dir) = start().await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();

    let index = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.text().await.unwrap(), "<h1>Hello</h1>");

    let css = client
        .get(format!("{base}/site/css/site.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css");
    assert_eq!(css.text().await.unwrap(), "h1 { color: red }");

    // No content type: octet-stream, bytes as they are.
    let bin = client
        .get(format!("{base}/site/data.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(bin.headers()["content-type"], "application/octet-stream");
    assert_eq!(bin.bytes().await.unwrap().as_ref(), [0u8, 159, 146, 150]);

    let missing = client
        .get(format!("{base}/site/nope.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let error: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(error["message"], "no file nope.txt");

    let chunks = client
        .get(format!("{base}/chunks/any"))
        .send()
        .await
        .unwrap();
    assert_eq!(chunks.headers()["content-type"], "text/plain");
    assert_eq!(chunks.text().await.unwrap(), "one,two,three");
    service.shutdown().await;
}

#[tokio::test]
async fn request_bodies_arrive_raw_whatever_their_content_type() {
    let (service, _dir) = start().await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();

    let reply: serde_json::Value = client
        .post(format!("{base}/upload"))
        .header("content-type", "text/csv")
        .body("a,b\n1,2\n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        reply,
        json!({"contentType": "text/csv", "size": "8", "text": "a,b\n1,2\n"})
    );

    // The body as one field; the path sets another.
    let reply: serde_json::Value = client
        .post(format!("{base}/notes/groceries"))
        .header("content-type", "text/plain")
        .body("milk")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        reply,
        json!({"contentType": "text/plain", "size": "4", "text": "groceries: milk"})
    );
    service.shutdown().await;
}

#[tokio::test]
async fn over_grpc_an_http_body_is_a_message() {
    let (service, _dir) = start().await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", service.local_addr()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let reply = client
        .unary(
            tonic::Request::new(HttpBody::new("application/xml", "<a/>")),
            http::uri::PathAndQuery::from_static("/web.StaticFiles/Upload"),
            tonic_prost::ProstCodec::<HttpBody, UploadReply>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reply.content_type.as_str(), reply.size, reply.text.as_str()),
        ("application/xml", 4, "<a/>")
    );
    service.shutdown().await;
}
