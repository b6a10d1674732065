//! Per-method metrics on `GET /_plinth/metrics`: calls by status code and
//! a latency histogram for each method of the service, whichever front
//! door the call came through; entities in memory and the SQLite writer's
//! batches.

use counter::Counter;
use counter::counter::{ChangeValue, CounterEntityComponent, CounterServiceClient};
use plinth::testkit::TestService;

fn value_of(metrics: &str, line_start: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
}

#[tokio::test]
async fn every_call_is_counted_by_method_and_code_and_timed() {
    let service =
        TestService::start(plinth::Service::new().with(CounterEntityComponent::new(Counter)))
            .await
            .expect("the service starts");
    let change = |amount| ChangeValue {
        counter_id: "c1".into(),
        amount,
    };
    service
        .call(CounterServiceClient::increase(change(2)))
        .await
        .expect("increased");
    let (status, _) = service
        .http(
            "POST",
            "/counters/c1/increase",
            Some(serde_json::json!({"amount": 3})),
        )
        .await;
    assert_eq!(status, 200);
    let refused = service
        .call(CounterServiceClient::increase(change(0)))
        .await
        .expect_err("a zero amount is refused");
    assert_eq!(refused.code(), plinth::Code::InvalidArgument);

    let (status, body) = service.http("GET", "/_plinth/metrics", None).await;
    assert_eq!(status, 200);
    let metrics = body.as_str().expect("the metrics are text");
    let increase = "/counter.CounterService/Increase";
    assert_eq!(
        value_of(
            metrics,
            &format!("plinth_method_calls_total{{method=\"{increase}\",code=\"OK\"}}")
        ),
        Some(2),
        "{metrics}"
    );
    assert_eq!(
        value_of(
            metrics,
            &format!(
                "plinth_method_calls_total{{method=\"{increase}\",code=\"INVALID_ARGUMENT\"}}"
            )
        ),
        Some(1),
        "{metrics}"
    );
    assert_eq!(
        value_of(
            metrics,
            &format!("plinth_method_duration_seconds_count{{method=\"{increase}\"}}")
        ),
        Some(3),
        "{metrics}"
    );
    assert_eq!(
        value_of(
            metrics,
            &format!("plinth_method_duration_seconds_bucket{{method=\"{increase}\",le=\"+Inf\"}}")
        ),
        Some(3)
    );
    // A method not called yet has an empty histogram and no counts.
    let get = "/counter.CounterService/Get";
    assert_eq!(
        value_of(
            metrics,
            &format!("plinth_method_duration_seconds_count{{method=\"{get}\"}}")
        ),
        Some(0)
    );
    assert!(
        !metrics.contains(&format!("calls_total{{method=\"{get}\"")),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE plinth_method_duration_seconds histogram"));

    // One counter in memory; two durable writes, each in a transaction of
    // at least one write.
    assert_eq!(
        value_of(metrics, "plinth_entity_cached "),
        Some(1),
        "{metrics}"
    );
    assert_eq!(
        value_of(metrics, "plinth_storage_writes_total "),
        Some(2),
        "{metrics}"
    );
    let transactions = value_of(metrics, "plinth_storage_transactions_total ").expect("counted");
    assert!((1..=2).contains(&transactions), "{metrics}");
    assert_eq!(
        value_of(metrics, "plinth_storage_write_batch_size_count "),
        Some(transactions)
    );
    service.shutdown().await;
}
