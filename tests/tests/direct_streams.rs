//! A direct event stream between two services over real sockets: the shop
//! publishes its item changes as `item_events`; the catalog, told the shop's
//! address, reads them into an action (with each item's `ce-subject`) and a
//! view, in order, and after a restart goes on from its stored offset. The
//! stream answers 404 for a stream the service does not produce.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use plinth::{Config, RunningService, Service};
use plinth_tests::direct::catalog::{CatalogViewComponent, ItemFollowerActionComponent};
use plinth_tests::direct::shop::{ItemEntityComponent, ItemEventsActionComponent};
use plinth_tests::direct::{CatalogRows, Follower, Items, Publisher, Received};
use serde_json::{Value, json};

async fn shop(dir: &std::path::Path) -> RunningService {
    Service::new()
        .with(ItemEntityComponent::new(Items))
        .with(ItemEventsActionComponent::new(Publisher))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(dir.join("shop.db")),
        )
        .start()
        .await
        .expect("the shop starts")
}

async fn catalog(
    dir: &std::path::Path,
    shop: &RunningService,
    received: Received,
) -> RunningService {
    let mut config = Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(dir.join("catalog.db"));
    config.direct_services =
        BTreeMap::from([("shop".to_owned(), format!("http://{}", shop.local_addr()))]);
    Service::new()
        .with(ItemFollowerActionComponent::new(Follower(received)))
        .with(CatalogViewComponent::new(CatalogRows))
        .config(config)
        .start()
        .await
        .expect("the catalog starts")
}

async fn put(shop: &RunningService, id: &str, name: &str, price: i64) {
    let url = format!("http://{}/shop.Items/Put", shop.local_addr());
    let body = json!({"itemId": id, "name": name, "priceCents": price.to_string()});
    let reply = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.status());
}

async fn by_name(catalog: &RunningService, name: &str) -> Value {
    let url = format!("http://{}/catalog.Catalog/ByName", catalog.local_addr());
    let reply = reqwest::Client::new()
        .post(url)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    reply.json().await.unwrap()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_service_reads_the_stream_into_an_action_and_a_view() {
    let dir = tempfile::tempdir().unwrap();
    let shop = shop(dir.path()).await;
    let received = Received::default();
    let catalog_service = catalog(dir.path(), &shop, received.clone()).await;

    put(&shop, "i1", "tea", 300).await;
    put(&shop, "i2", "tea", 450).await;
    put(&shop, "i1", "tea", 350).await;
    eventually("the follower saw three items", async || {
        received.lock().unwrap().len() >= 3
    })
    .await;
    let seen: Vec<(String, i64, String)> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(item, subject)| (item.item_id.clone(), item.price_cents, subject.clone()))
        .collect();
    // Per item in order, each with its entity as the subject.
    let i1: Vec<i64> = seen.iter().filter(|s| s.0 == "i1").map(|s| s.1).collect();
    assert_eq!(i1, [300, 350]);
    assert!(
        seen.iter().all(|(id, _, subject)| id == subject),
        "{seen:?}"
    );

    let expected = json!({"items": [
        {"itemId": "i1", "name": "tea", "priceCents": "350"},
        {"itemId": "i2", "name": "tea", "priceCents": "450"},
    ]});
    eventually("the view has both items", async || {
        by_name(&catalog_service, "tea").await == expected
    })
    .await;

    // A restarted catalog goes on from its stored offset.
    catalog_service.shutdown().await;
    let before = received.lock().unwrap().len();
    let catalog_service = catalog(dir.path(), &shop, received.clone()).await;
    put(&shop, "i3", "coffee", 500).await;
    eventually("the restarted follower saw the new item", async || {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|(item, _)| item.item_id == "i3")
    })
    .await;
    let again = received.lock().unwrap()[before..]
        .iter()
        .filter(|(item, _)| item.item_id != "i3")
        .count();
    assert_eq!(again, 0, "the restart delivered old items again");
    let coffee = json!({"items": [{"itemId": "i3", "name": "coffee", "priceCents": "500"}]});
    eventually("the view has the new item", async || {
        by_name(&catalog_service, "coffee").await == coffee
    })
    .await;

    // A stream the shop does not produce.
    let url = format!("http://{}/plinth.direct/nothing?after=0", shop.local_addr());
    assert_eq!(reqwest::get(url).await.unwrap().status(), 404);
    catalog_service.shutdown().await;
    shop.shutdown().await;
}

#[tokio::test]
async fn a_consumer_without_the_producer_s_address_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let result = Service::new()
        .with(ItemFollowerActionComponent::new(Follower::default()))
        .config(
            Config::default()
                .with_addr("127.0.0.1:0".parse().unwrap())
                .with_sqlite(dir.path().join("catalog.db")),
        )
        .start()
        .await;
    let Err(error) = result else {
        panic!("started without the shop's address");
    };
    assert!(
        error.to_string().contains("PLINTH_DIRECT_SERVICES=shop="),
        "{error}"
    );
}
