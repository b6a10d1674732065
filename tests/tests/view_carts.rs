//! The shopping cart's view end to end: a table fed by the carts' events
//! through `transform_updates` handlers, read over HTTP/JSON and gRPC, and
//! kept exact across a restart (a handler that adds quantities would count
//! twice if an event were applied twice).

use std::path::Path;

use plinth::{Config, RunningService};
use plinth_tests::grpc;
use plinth_tests::views::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shopping_cart::shopping::cart::api::ShoppingCartEntityComponent;
use shopping_cart::shopping::cart::view::{CartSummary, CartSummaryViewComponent, SummaryRequest};
use shopping_cart::{CartSummaries, ShoppingCart};

async fn start(db: &Path) -> RunningService {
    plinth::Service::new()
        .with(ShoppingCartEntityComponent::new(ShoppingCart))
        .with(CartSummaryViewComponent::new(CartSummaries))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(db),
        )
        .start()
        .await
        .expect("the shopping cart starts")
}

async fn add(http: &reqwest::Client, base: &str, cart: &str, product: &str, quantity: i32) {
    let reply = http
        .post(format!("{base}/carts/{cart}/items"))
        .json(&json!({"productId": product, "name": product, "quantity": quantity}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        StatusCode::OK,
        "{}",
        reply.text().await.unwrap()
    );
}

/// The summary of `cart` once its total quantity is `total`.
async fn summary_with_total(http: &reqwest::Client, base: &str, cart: &str, total: i64) -> Value {
    eventually(&format!("{cart} to total {total}"), || async move {
        let reply = http
            .get(format!("{base}/carts/{cart}/summary"))
            .send()
            .await
            .ok()?;
        if reply.status() != StatusCode::OK {
            return None;
        }
        let body: Value = reply.json().await.ok()?;
        (body["totalQuantity"].as_i64().unwrap_or(0) == total).then_some(body)
    })
    .await
}

#[tokio::test]
async fn view_of_cart_events_transforms_rows_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let service = start(&db).await;
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();

    add(&http, &base, "cart1", "p1", 2).await;
    add(&http, &base, "cart1", "p2", 1).await;
    add(&http, &base, "cart2", "p1", 5).await;
    let reply = http
        .delete(format!("{base}/carts/cart1/items/p2"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let reply = http
        .post(format!("{base}/carts/cart2:checkout"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);

    let cart1 = summary_with_total(&http, &base, "cart1", 2).await;
    assert_eq!(cart1["cartId"], "cart1");
    assert_eq!(cart1["productIds"], json!(["p1"]));
    assert_eq!(cart1["lines"], json!([{"productId": "p1", "quantity": 2}]));
    let cart2 = eventually("cart2 checked out", || {
        let (http, base) = (&http, &base);
        async move {
            let body: Value = http
                .get(format!("{base}/carts/cart2/summary"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (body["checkedOut"] == true).then_some(body)
        }
    })
    .await;
    assert_eq!(cart2["totalQuantity"], 5);

    // `:param = ANY(column)` over a repeated field.
    let body: Value = http
        .get(format!("{base}/carts/with-product/p1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = body["carts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cartId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cart1", "cart2"]);
    let body: Value = http
        .get(format!("{base}/carts/with-product/p2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["carts"].as_array().map_or(0, Vec::len), 0, "{body}");

    service.shutdown().await;

    // After a restart the view resumes: nothing applied twice, new events flow.
    let service = start(&db).await;
    let base = format!("http://{}", service.local_addr());
    add(&http, &base, "cart1", "p1", 3).await;
    let cart1 = summary_with_total(&http, &base, "cart1", 5).await;
    assert_eq!(cart1["lines"], json!([{"productId": "p1", "quantity": 5}]));

    // The same row over gRPC.
    let channel = grpc::connect(&base).await;
    let summary = grpc::unary::<_, CartSummary>(
        &channel,
        "/shopping.cart.view.CartSummaryView/GetSummary",
        SummaryRequest {
            cart_id: "cart2".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.total_quantity, 5);
    assert!(summary.checked_out);
    assert_eq!(summary.product_ids, ["p1"]);
    service.shutdown().await;
}

#[tokio::test]
async fn view_added_later_builds_itself_from_the_start_of_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let without_view = plinth::Service::new()
        .with(ShoppingCartEntityComponent::new(ShoppingCart))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(&db),
        )
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", without_view.local_addr());
    let http = reqwest::Client::new();
    for quantity in 1..=4 {
        add(&http, &base, "early", "p9", quantity).await;
    }
    without_view.shutdown().await;

    let service = start(&db).await;
    let base = format!("http://{}", service.local_addr());
    let summary = summary_with_total(&http, &base, "early", 10).await;
    assert_eq!(
        summary["lines"],
        json!([{"productId": "p9", "quantity": 10}])
    );
    service.shutdown().await;
}
