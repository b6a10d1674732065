//! Live view queries on a service of several processes on one PostgreSQL
//! database: a `stream_updates` query served by one process streams the
//! rows that a projection running in another process changes. Two services
//! in this test process stand for the two processes: each has its own
//! storage connection, listener and membership.

use std::time::Duration;

use plinth::config::StorageTarget;
use plinth::{Config, RunningService};
use plinth_tests::customers::{create, watch_city};
use plinth_tests::postgres::fresh_database;
use plinth_tests::views::{eventually, view_status};

async fn start(url: &str) -> RunningService {
    let mut config = Config::default().with_addr("127.0.0.1:0".parse().unwrap());
    config.storage = StorageTarget::Postgres(url.to_owned());
    // One slice per projection: the first process runs every projection and
    // the second one stands by, so the second serves rows it never projects.
    config.consumer_slices = 1;
    customer_registry::service()
        .config(config)
        .start()
        .await
        .expect("the customer registry starts")
}

async fn running_projections(http: &reqwest::Client, base: &str) -> usize {
    let status = view_status(http, base).await;
    status["projections"]
        .as_array()
        .map(|all| all.iter().filter(|p| p["running"] == true).count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_query_streams_rows_projected_by_another_process() {
    let Some(url) = fresh_database("a_live_query_streams_rows_projected_by_another_process").await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let projecting = start(&url).await;
    let a = format!("http://{}", projecting.local_addr());
    eventually("the first process to run the projections", || {
        let (http, a) = (&http, &a);
        async move { (running_projections(http, a).await > 0).then_some(()) }
    })
    .await;
    let serving = start(&url).await;
    let b = format!("http://{}", serving.local_addr());
    assert_eq!(
        running_projections(&http, &b).await,
        0,
        "the second stands by"
    );

    create(&http, &a, "c1", "Alice", "Springfield").await;
    let mut stream = watch_city(&b, "Springfield", "c1").await;

    // Written through either process, projected by the first, streamed by
    // the second; a customer elsewhere does not show.
    create(&http, &a, "c2", "Bob", "Shelbyville").await;
    create(&http, &b, "c3", "Carol", "Springfield").await;
    create(&http, &a, "c4", "Dave", "Springfield").await;
    // Order holds per entity only: c3 and c4 may be projected by different
    // slices, either first. A row projected while the stream opened may be
    // sent again (updates are at least once); a row of another city never.
    let mut seen = Vec::new();
    while !(seen.contains(&"c3".to_owned()) && seen.contains(&"c4".to_owned())) {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.message())
            .await
            .expect("a row within 20 s (bounded wait)")
            .unwrap()
            .unwrap();
        assert_ne!(next.customer_id, "c2", "a customer of another city");
        assert!(seen.len() < 10, "rows sent again and again: {seen:?}");
        seen.push(next.customer_id);
    }
    seen.retain(|id| id != "c1");
    seen.sort();
    assert_eq!(seen, ["c3", "c4"], "each new row once");
    assert_eq!(running_projections(&http, &b).await, 0, "still standing by");
    drop(stream);
    serving.shutdown().await;
    projecting.shutdown().await;
}
