//! The example services end to end: real sockets, real clients (reqwest for
//! HTTP/JSON, tonic for gRPC), real SQLite files, restarts.

use std::path::Path;

use customer_registry::CustomerRegistry;
use customer_registry::customer::api::{Customer, CustomerEntityComponent, GetCustomerRequest};
use customer_registry::customer::view::CustomerByNameView;
use plinth::{Config, RunningService};
use plinth_tests::grpc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shopping_cart::ShoppingCart;
use shopping_cart::shopping::cart::api::ShoppingCartEntityComponent;

fn config(db: &Path) -> Config {
    Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(db)
}

async fn customers(db: &Path) -> RunningService {
    plinth::Service::new()
        .with(CustomerEntityComponent::new(CustomerRegistry))
        .with(CustomerByNameView)
        .config(config(db))
        .start()
        .await
        .expect("the customer registry starts")
}

async fn carts(db: &Path) -> RunningService {
    plinth::Service::new()
        .with(ShoppingCartEntityComponent::new(ShoppingCart))
        .config(config(db))
        .start()
        .await
        .expect("the shopping cart starts")
}

async fn json_of(reply: reqwest::Response) -> (StatusCode, Value) {
    let status = reply.status();
    let text = reply.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text:?}")),
    )
}

#[tokio::test]
async fn customers_over_http_and_grpc_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let service = customers(&db).await;
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();

    let customer = json!({
        "email": "alice@example.com",
        "name": "Alice",
        "address": {"street": "Main 1", "city": "Springfield"}
    });
    let (status, _) = json_of(
        http.post(format!("{base}/customers/c1"))
            .json(&customer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = json_of(
        http.post(format!("{base}/customers/c1"))
            .json(&customer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, _) = json_of(
        http.put(format!("{base}/customers/c1/name"))
            .json(&json!({"newName": "Alicia"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = json_of(
        http.get(format!("{base}/customers/c1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "Alicia");
    assert_eq!(body["address"]["city"], "Springfield");

    // The same entity over gRPC.
    let channel = grpc::connect(&base).await;
    let reply = grpc::unary::<_, Customer>(
        &channel,
        "/customer.api.CustomerService/GetCustomer",
        GetCustomerRequest {
            customer_id: "c1".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (reply.name.as_str(), reply.email.as_str()),
        ("Alicia", "alice@example.com")
    );

    let (status, body) = json_of(
        http.get(format!("{base}/customers/nobody"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    service.shutdown().await;

    let service = customers(&db).await;
    let base = format!("http://{}", service.local_addr());
    let (status, body) = json_of(
        http.get(format!("{base}/customers/c1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "Alicia", "the state survived the restart");
    let (status, _) = json_of(
        http.delete(format!("{base}/customers/c1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = json_of(
        http.get(format!("{base}/customers/c1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    service.shutdown().await;
}

#[tokio::test]
async fn a_cart_is_filled_checked_out_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let service = carts(&db).await;
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();

    for (product, quantity) in [("p1", 2), ("p2", 1), ("p1", 3)] {
        let item = json!({"productId": product, "name": format!("product {product}"), "quantity": quantity});
        let (status, body) = json_of(
            http.post(format!("{base}/carts/cart1/items"))
                .json(&item)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = json_of(
        http.post(format!("{base}/carts/cart1/items"))
            .json(&json!({"productId": "p3", "quantity": 0}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, cart) = json_of(
        http.get(format!("{base}/carts/cart1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let items = cart["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{cart}");
    assert_eq!(items[0]["productId"], "p1");
    assert_eq!(items[0]["quantity"], 5);
    service.shutdown().await;

    let service = carts(&db).await;
    let base = format!("http://{}", service.local_addr());
    let (_, replayed) = json_of(
        http.get(format!("{base}/carts/cart1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(replayed, cart, "the cart replays to the same state");
    let (status, _) = json_of(
        http.post(format!("{base}/carts/cart1:checkout"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let item = json!({"productId": "p4", "name": "late", "quantity": 1});
    let (status, body) = json_of(
        http.post(format!("{base}/carts/cart1/items"))
            .json(&item)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "adding after checkout fails: {body}"
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_http_increments_of_one_counter_all_count() {
    use counter::counter::{CounterEntityComponent, CounterEventsActionComponent};

    let dir = tempfile::tempdir().unwrap();
    let service = plinth::Service::new()
        .with(CounterEntityComponent::new(counter::Counter))
        .with(CounterEventsActionComponent::new(counter::CounterPublisher))
        .config(config(&dir.path().join("plinth.db")))
        .start()
        .await
        .expect("the counter starts");
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                http.post(format!("{base}/counters/hits/increase"))
                    .json(&json!({"amount": 1}))
                    .send()
                    .await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    let (status, body) = json_of(
        http.get(format!("{base}/counters/hits"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"], "200", "{body}");
    let (status, body) = json_of(
        http.post(format!("{base}/counters/hits/decrease"))
            .json(&json!({"amount": 201}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    service.shutdown().await;
}
