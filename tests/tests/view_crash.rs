//! Crash safety of a view: a service process is killed with SIGKILL while
//! its projection runs under write load; after a restart the view, once
//! caught up, holds exactly the rows a replay of the source events gives —
//! no event applied twice (the summaries add quantities, so a duplicate
//! would show) and none missing.

use plinth::storage::FeedSource;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use plinth::storage::{FeedKind, SqliteOptions, SqliteStorage};
use plinth::{Metadata, RowUpdate, UpdateContext};
use plinth_tests::process::ServiceProcess;
use prost::Message;
use serde_json::{Value, json};
use shopping_cart::CartSummaries;
use shopping_cart::shopping::cart::domain::{CheckedOut, ItemAdded, ItemRemoved};
use shopping_cart::shopping::cart::view::{CartSummary, CartSummaryView};

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-view-fixture");
const CARTS: usize = 8;

/// Add items to every cart from `writers` tasks until the service goes away.
fn load(url: &str, writers: usize, acknowledged: Arc<AtomicUsize>) {
    let http = reqwest::Client::new();
    for writer in 0..writers {
        let (http, url, acknowledged) = (http.clone(), url.to_string(), acknowledged.clone());
        tokio::spawn(async move {
            for i in 0..100_000 {
                let cart = format!("cart{}", (writer + i) % CARTS);
                let reply = http
                    .post(format!("{url}/carts/{cart}/items"))
                    .json(&json!({"productId": format!("p{}", i % 5), "name": "x", "quantity": 1}))
                    .send()
                    .await;
                match reply {
                    Ok(reply) if reply.status().is_success() => {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => break,
                }
            }
        });
    }
}

/// The cart summaries a replay of every journalled event gives.
async fn replay(db: &Path) -> BTreeMap<String, CartSummary> {
    let storage = SqliteStorage::open(db, SqliteOptions::default()).unwrap();
    let mut rows: BTreeMap<String, CartSummary> = BTreeMap::new();
    let mut after = 0;
    loop {
        let records = storage
            .read_feed(after, &["shopping-cart".to_string()], 10_000)
            .await
            .unwrap();
        let Some(last) = records.last() else { break };
        after = last.offset;
        for record in &records {
            assert_eq!(record.kind, FeedKind::Event);
            let ctx = UpdateContext::new(record.entity_id.clone(), Metadata::new());
            let row = rows.get(&record.entity_id);
            let payload = record.payload.as_ref();
            let update = match record.type_name.as_str() {
                "shopping.cart.domain.ItemAdded" => {
                    CartSummaries.on_item_added(row, ItemAdded::decode(payload).unwrap(), &ctx)
                }
                "shopping.cart.domain.ItemRemoved" => {
                    CartSummaries.on_item_removed(row, ItemRemoved::decode(payload).unwrap(), &ctx)
                }
                "shopping.cart.domain.CheckedOut" => {
                    CartSummaries.on_checked_out(row, CheckedOut::decode(payload).unwrap(), &ctx)
                }
                other => panic!("unexpected event {other}"),
            };
            if let Ok(RowUpdate::Upsert(row)) = update {
                rows.insert(record.entity_id.clone(), row);
            }
        }
    }
    storage.close().await.unwrap();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_after_sigkill_equals_a_replay_of_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::start(Path::new(FIXTURE), dir.path()).await;
    let acknowledged = Arc::new(AtomicUsize::new(0));
    load(&process.url(), 16, acknowledged.clone());
    // Kill once enough writes went through (bounded wait).
    for _ in 0..3000 {
        if acknowledged.load(Ordering::Relaxed) >= 600 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    process.kill();
    let written = acknowledged.load(Ordering::Relaxed);
    assert!(written >= 600, "the load ran: {written} writes");

    let process = ServiceProcess::start(Path::new(FIXTURE), dir.path()).await;
    let http = reqwest::Client::new();
    plinth_tests::views::caught_up(&http, &process.url()).await;
    let mut view: BTreeMap<String, CartSummary> = BTreeMap::new();
    for cart in 0..CARTS {
        let id = format!("cart{cart}");
        let reply = http
            .get(format!("{}/carts/{id}/summary", process.url()))
            .send()
            .await
            .unwrap();
        if reply.status() == reqwest::StatusCode::NOT_FOUND {
            continue;
        }
        let body: Value = reply.json().await.unwrap();
        let lines = body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| shopping_cart::shopping::cart::view::SummaryLine {
                product_id: l["productId"].as_str().unwrap().to_string(),
                quantity: l["quantity"].as_i64().unwrap_or(0) as i32,
            })
            .collect();
        let product_ids = body["productIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        view.insert(
            id.clone(),
            CartSummary {
                cart_id: body["cartId"].as_str().unwrap().to_string(),
                lines,
                product_ids,
                total_quantity: body["totalQuantity"].as_i64().unwrap_or(0) as i32,
                checked_out: body["checkedOut"].as_bool().unwrap_or(false),
            },
        );
    }
    process.kill();

    let expected = replay(&dir.path().join("plinth.db")).await;
    let journalled: i32 = expected.values().map(|s| s.total_quantity).sum();
    assert!(
        journalled as usize >= written,
        "every acknowledged add is journalled: {journalled} < {written}"
    );
    assert_eq!(view, expected, "the view equals a replay of the source");
}
