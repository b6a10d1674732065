//! Action methods that take a stream of requests, over a real socket:
//! client streaming and bidirectional over gRPC, the same methods with an
//! NDJSON body over HTTP, a failing stream, and a single request made through
//! a generated client (a stream of one).

use std::time::Duration;

use futures::StreamExt;
use http::uri::PathAndQuery;
use plinth::{Config, RunningService, Service};
use plinth_tests::numbers::{Adder, Number, NumbersActionComponent, Total};
use serde_json::json;
use tonic_prost::ProstCodec;

async fn start() -> (RunningService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::default()
        .with_addr("127.0.0.1:0".parse().expect("addr"))
        .with_sqlite(dir.path().join("plinth.db"));
    let service = Service::new()
        .with(NumbersActionComponent::new(Adder))
        .config(config)
        .start()
        .await
        .expect("starts");
    (service, dir)
}

async fn grpc(service: &RunningService) -> tonic::client::Grpc<tonic::transport::Channel> {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", service.local_addr()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    client
}

fn numbers(values: &[i64]) -> impl futures::Stream<Item = Number> + Send + 'static {
    let values = values.to_vec();
    // Spaced out, so the server sees a stream, not one burst.
    futures::stream::iter(values).then(|value| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Number { value }
    })
}

#[tokio::test]
async fn a_client_stream_is_summed_over_grpc() {
    let (service, _dir) = start().await;
    let mut client = grpc(&service).await;
    let total = client
        .client_streaming(
            tonic::Request::new(numbers(&[1, 2, 3, 4])),
            PathAndQuery::from_static("/numbers.Numbers/Sum"),
            ProstCodec::<Number, Total>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!((total.sum, total.count), (10, 4));

    client.ready().await.unwrap();
    let refused = client
        .client_streaming(
            tonic::Request::new(numbers(&[1, -2, 3])),
            PathAndQuery::from_static("/numbers.Numbers/Sum"),
            ProstCodec::<Number, Total>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(refused.message(), "-2 is negative");
    service.shutdown().await;
}

#[tokio::test]
async fn a_bidirectional_stream_answers_each_request_over_grpc() {
    let (service, _dir) = start().await;
    let mut client = grpc(&service).await;
    let replies = client
        .streaming(
            tonic::Request::new(numbers(&[5, 7, 9])),
            PathAndQuery::from_static("/numbers.Numbers/Running"),
            ProstCodec::<Number, Total>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let totals: Vec<(i64, i64)> = replies
        .map(|total| {
            let total = total.unwrap();
            (total.sum, total.count)
        })
        .collect()
        .await;
    assert_eq!(totals, [(5, 1), (12, 2), (21, 3)]);
    service.shutdown().await;
}

#[tokio::test]
async fn over_http_a_request_stream_is_an_ndjson_body() {
    let (service, _dir) = start().await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();
    let sum: serde_json::Value = client
        .post(format!("{base}/sum"))
        .header("content-type", "application/x-ndjson")
        .body("{\"value\": \"1\"}\n{\"value\": 2}\n\n{\"value\": 3}\n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sum, json!({"sum": "6", "count": "3"}));

    let running = client
        .post(format!("{base}/running"))
        .body("{\"value\": 1}\n{\"value\": 2}\n")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = running
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"sum": "1", "count": "1"}),
            json!({"sum": "3", "count": "2"})
        ]
    );

    // A line that is not a Number names itself.
    let bad = client
        .post(format!("{base}/sum"))
        .body("{\"value\": 1}\n{\"nope\": 2}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let error: serde_json::Value = bad.json().await.unwrap();
    assert!(
        error["message"].as_str().unwrap().starts_with("line 2:"),
        "{error}"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn a_generated_client_call_is_a_stream_of_one() {
    let (service, _dir) = start().await;
    let call = plinth_tests::numbers::NumbersClient::sum(Number { value: 42 });
    let reply = service
        .dispatch()
        .dispatch(call.path(), call.payload().clone(), plinth::Metadata::new())
        .await
        .unwrap();
    let plinth::codegen::ActionReply::Unary(bytes) = reply else {
        panic!("a unary reply");
    };
    let total = <Total as prost::Message>::decode(bytes).unwrap();
    assert_eq!((total.sum, total.count), (42, 1));
    service.shutdown().await;
}
