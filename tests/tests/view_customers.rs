//! The customer registry's views end to end: customers written through the
//! entity's API show up in the views (eventually: the wait is bounded), and
//! are read over HTTP/JSON (reqwest) and gRPC (tonic) — unary, streaming,
//! `* AS items` with `ANY`, token paging, live updates and deletes.

use std::path::Path;
use std::time::Duration;

use customer_registry::customer::domain::CustomerState;
use customer_registry::customer::view::{
    ByEmailRequest, ByEmailsRequest, ByNameRequest, CustomerList,
};
use futures::StreamExt;
use http::uri::PathAndQuery;
use plinth::{Config, RunningService};
use plinth_tests::customers::{create, watch_city};
use plinth_tests::grpc;
use plinth_tests::views::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic_prost::ProstCodec;

async fn start(db: &Path) -> RunningService {
    customer_registry::service()
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(db),
        )
        .start()
        .await
        .expect("the customer registry starts")
}

async fn get_json(http: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let reply = http.get(url).send().await.unwrap();
    let status = reply.status();
    let text = reply.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The NDJSON lines of a streaming reply.
async fn ndjson(http: &reqwest::Client, url: String) -> Vec<Value> {
    let reply = http.get(url).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let text = reply.text().await.unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn view_queries_answer_over_http_and_grpc_and_follow_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let service = start(&dir.path().join("plinth.db")).await;
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();
    create(&http, &base, "c1", "Alice", "Springfield").await;
    create(&http, &base, "c2", "Bob", "Shelbyville").await;
    create(&http, &base, "c3", "Alice", "Springfield").await;

    // Streaming over HTTP (NDJSON): both Alices.
    let alices = eventually("both Alices in the view", || {
        let (http, base) = (&http, &base);
        async move {
            let rows = ndjson(http, format!("{base}/customers/by-name/Alice")).await;
            (rows.len() == 2).then_some(rows)
        }
    })
    .await;
    let mut ids: Vec<&str> = alices
        .iter()
        .map(|r| r["customerId"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["c1", "c3"]);

    // Unary over HTTP, and NOT_FOUND as 404.
    let (status, bob) = eventually("Bob by e-mail", || {
        let (http, base) = (&http, &base);
        async move {
            let reply = get_json(http, format!("{base}/customers/by-email/c2@example.com")).await;
            (reply.0 == StatusCode::OK).then_some(reply)
        }
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bob["name"], "Bob");
    assert_eq!(bob["address"]["city"], "Shelbyville");
    let (status, _) = get_json(
        &http,
        format!("{base}/customers/by-email/nobody@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // `* AS customers` with `= ANY(:emails)`, over HTTP.
    let reply = http
        .post(format!("{base}/customers/by-emails"))
        .json(&json!({"emails": ["c3@example.com", "c2@example.com", "nobody@example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let list: Value = reply.json().await.unwrap();
    let ids: Vec<&str> = list["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c2", "c3"]);

    // The same over gRPC: unary, `* AS items`, and a stream.
    let channel = grpc::connect(&base).await;
    let mut client = tonic::client::Grpc::new(channel.clone());
    let bob = grpc::unary::<_, CustomerState>(
        &channel,
        "/customer.view.CustomerByName/GetCustomerByEmail",
        ByEmailRequest {
            email: "c2@example.com".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!((bob.customer_id.as_str(), bob.name.as_str()), ("c2", "Bob"));
    let missing = grpc::unary::<_, CustomerState>(
        &channel,
        "/customer.view.CustomerByName/GetCustomerByEmail",
        ByEmailRequest {
            email: "nobody@example.com".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let list = grpc::unary::<_, CustomerList>(
        &channel,
        "/customer.view.CustomerByName/GetCustomersByEmails",
        ByEmailsRequest {
            emails: vec!["c1@example.com".into(), "c3@example.com".into()],
        },
    )
    .await
    .unwrap();
    let ids: Vec<&str> = list
        .customers
        .iter()
        .map(|c| c.customer_id.as_str())
        .collect();
    assert_eq!(ids, ["c1", "c3"]);
    client.ready().await.unwrap();
    let stream = client
        .server_streaming(
            tonic::Request::new(ByNameRequest {
                name: "Alice".into(),
            }),
            PathAndQuery::from_static("/customer.view.CustomerByName/GetCustomers"),
            ProstCodec::<ByNameRequest, CustomerState>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let alices: Vec<CustomerState> = stream.map(|r| r.unwrap()).collect().await;
    let mut ids: Vec<&str> = alices.iter().map(|c| c.customer_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["c1", "c3"]);

    // handle_deletes: deleting the entity removes its row.
    let reply = http
        .delete(format!("{base}/customers/c2"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    eventually("Bob's row to go", || {
        let (http, base) = (&http, &base);
        async move {
            let (status, _) =
                get_json(http, format!("{base}/customers/by-email/c2@example.com")).await;
            (status == StatusCode::NOT_FOUND).then_some(())
        }
    })
    .await;

    // A bad request names the field.
    let reply = http
        .get(format!(
            "{base}/customer-list?page_token=garbage&page_size=10"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    assert!(reply.text().await.unwrap().contains("page_token"));

    // The lag is observable: a status endpoint and metrics.
    let (status, body) = get_json(&http, format!("{base}/_plinth/views")).await;
    assert_eq!(status, StatusCode::OK);
    let projections = body["projections"].as_array().unwrap();
    assert_eq!(projections.len(), 2, "{body}");
    assert!(projections.iter().all(|p| p["running"] == true));
    assert!(
        projections
            .iter()
            .any(|p| p["projection"] == "view/customer.view.CustomerByName/customers/customers")
    );
    let metrics = http
        .get(format!("{base}/_plinth/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "plinth_view_lag_records{projection=\"view/customer.view.CustomersByCity/customers/customers\"}"
        ),
        "{metrics}"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn view_pages_through_250_customers_100_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let service = start(&dir.path().join("plinth.db")).await;
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();
    let mut expected = Vec::new();
    for i in 0..250 {
        let id = format!("c{i:03}");
        create(&http, &base, &id, &format!("Customer {i}"), "Ogdenville").await;
        expected.push(id);
    }
    // Wait until the last one is projected.
    eventually("the last customer in the view", || {
        let (http, base) = (&http, &base);
        async move {
            let (status, _) =
                get_json(http, format!("{base}/customers/by-email/c249@example.com")).await;
            (status == StatusCode::OK).then_some(())
        }
    })
    .await;

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = Vec::new();
    loop {
        let (status, page) = get_json(
            &http,
            format!("{base}/customer-list?page_size=100&page_token={token}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let customers = page["customers"].as_array().unwrap();
        pages.push((customers.len(), page["hasMore"].as_bool().unwrap_or(false)));
        seen.extend(
            customers
                .iter()
                .map(|c| c["customerId"].as_str().unwrap().to_string()),
        );
        token = page["nextPageToken"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if token.is_empty() {
            break;
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, [(100, true), (100, true), (50, false)]);
    assert_eq!(seen, expected, "every customer once, in id order");

    // A page size of 0 (proto3's unset) is the default page, not an
    // empty page whose token loops for ever.
    let (status, page) = get_json(&http, format!("{base}/customer-list?page_size=0")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["customers"].as_array().map(Vec::len),
        Some(250),
        "{page}"
    );
    assert!(!page["hasMore"].as_bool().unwrap_or(false), "{page}");
    service.shutdown().await;
}

#[tokio::test]
async fn view_streams_live_updates_of_matching_rows() {
    let dir = tempfile::tempdir().unwrap();
    let service = start(&dir.path().join("plinth.db")).await;
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();
    create(&http, &base, "c1", "Alice", "Springfield").await;
    eventually("Alice in the city view", || {
        let (http, base) = (&http, &base);
        async move {
            let rows = ndjson(http, format!("{base}/customers/by-name/Alice")).await;
            (rows.len() == 1).then_some(())
        }
    })
    .await;
    // The by-name view and the by-city view are separate projections; wait
    // for the city one through its own query.
    let mut stream = watch_city(&base, "Springfield", "c1").await;

    // A customer elsewhere does not show; the next ones in Springfield do, in order.
    create(&http, &base, "c2", "Bob", "Shelbyville").await;
    create(&http, &base, "c3", "Carol", "Springfield").await;
    let reply = http
        .put(format!("{base}/customers/c1/name"))
        .json(&json!({"newName": "Alicia"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let next = tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("a row within 20 s (bounded wait)")
        .unwrap()
        .unwrap();
    assert_eq!(
        (next.customer_id.as_str(), next.name.as_str()),
        ("c3", "Carol")
    );
    let next = tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("a row within 20 s (bounded wait)")
        .unwrap()
        .unwrap();
    assert_eq!(
        (next.customer_id.as_str(), next.name.as_str()),
        ("c1", "Alicia")
    );
    drop(stream);

    // The same live query over HTTP as NDJSON: the current rows, then changes.
    let reply = http
        .get(format!("{base}/customers/by-city/Springfield"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let mut body = reply.bytes_stream();
    let mut text = String::new();
    let lines = |text: &str| -> Vec<Value> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    while lines(&text).len() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(20), body.next())
            .await
            .expect("a row within 20 s (bounded wait)")
            .expect("the stream stays open")
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    create(&http, &base, "c4", "Dave", "Springfield").await;
    while lines(&text).len() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(20), body.next())
            .await
            .expect("a row within 20 s (bounded wait)")
            .expect("the stream stays open")
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let rows = lines(&text);
    let mut first: Vec<&str> = rows[..2]
        .iter()
        .map(|r| r["customerId"].as_str().unwrap())
        .collect();
    first.sort();
    assert_eq!(first, ["c1", "c3"]);
    assert_eq!(rows[2]["customerId"], "c4");
    assert_eq!(rows[2]["name"], "Dave");
    drop(body);
    service.shutdown().await;
}
