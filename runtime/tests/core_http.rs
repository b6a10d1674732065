//! The HTTP/JSON front door on the gRPC port: requests without a gRPC content
//! type reach the HTTP router and the same dispatcher.

mod core_support;

use std::sync::Arc;
use std::time::Duration;

use core_support::*;

#[tokio::test]
async fn http_json_shares_the_grpc_port() {
    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();

    let reply = client
        .post(format!("{base}/test.Counter/Increment"))
        .json(&serde_json::json!({"id": "h", "by": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(
        body["value"], "2",
        "int64 is a JSON string in proto3 JSON: {body}"
    );

    let reply = client
        .post(format!("{base}/test.Counter/Explode"))
        .json(&serde_json::json!({"id": "h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 500);
    let text = reply.text().await.unwrap();
    assert!(text.contains("correlation id"), "{text}");

    let reply = client
        .post(format!("{base}/test.Counter/Get"))
        .json(&serde_json::json!({"id": "h"}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["value"], "2", "the panic changed nothing");
    service.shutdown().await;
}

#[tokio::test]
async fn http2_json_clients_share_the_port_too() {
    let service = start(Arc::new(MemoryStorage::default()), test_config()).await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for expected in ["3", "6"] {
        let reply = client
            .post(format!("{base}/test.Counter/Increment"))
            .json(&serde_json::json!({"id": "h2", "by": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.version(), reqwest::Version::HTTP_2);
        assert_eq!(reply.status(), 200);
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["value"], expected, "{body}");
    }
    service.shutdown().await;
}

#[tokio::test]
async fn http_callers_over_the_limit_get_503() {
    let mut config = test_config();
    config.max_concurrency = 1;
    let service = start(Arc::new(MemoryStorage::default()), config).await;
    let base = format!("http://{}", service.local_addr());
    let client = reqwest::Client::new();
    let slow = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/test.Echo/Slow"))
                .json(&serde_json::json!({"text": "s", "count": 500}))
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let reply = client
        .post(format!("{base}/test.Echo/Say"))
        .json(&serde_json::json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 503);
    assert_eq!(slow.await.unwrap().unwrap().status(), 200);
    service.shutdown().await;
}
