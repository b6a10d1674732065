//! The test kits' own tests: every component kind through its generated
//! kit, failure paths included, and the service harness with a manual
//! clock and topic doubles.

use std::sync::Arc;
use std::time::Duration;

use plinth::testkit::{TestService, TimerChange, eventually};
use plinth::workflow::WorkflowStatus;
use plinth::{Code, Metadata, Status};
use plinth_tests::flow::{JobRef, JobWorkflowTestKit, Jobs, StartJob};
use plinth_tests::numbers::{Adder, Number, NumbersActionTestKit};
use plinth_tests::orders::{OrderCancelled, OrderPlaced, Orders, OrdersByItemViewTestKit};
use plinth_tests::relay::{
    Inbox, InboxEntityComponent, InboxEntityTestKit, InboxServiceClient, Inboxes, Note, Relay,
    RelayActionComponent, RelayActionTestKit, RelayServiceClient,
};
use shopping_cart::ShoppingCart;
use shopping_cart::shopping::cart::api::{AddLineItem, ShoppingCartEntityTestKit};
use shopping_cart::shopping::cart::domain::{ItemAdded, ItemRemoved};

fn note(inbox: &str, text: &str) -> Note {
    Note {
        inbox_id: inbox.into(),
        text: text.into(),
    }
}

#[test]
fn a_value_entity_keeps_its_state_and_an_error_changes_nothing() {
    let mut inbox = InboxEntityTestKit::with_id("i1", Inboxes);
    assert!(!inbox.exists());
    let first = inbox.deliver(note("i1", "hello"));
    assert_eq!(first.reply().texts, ["hello"]);
    assert_eq!(first.updated_state().map(|s| s.texts.len()), Some(1));
    let refused = inbox.deliver(note("i1", ""));
    assert_eq!(refused.error().code(), Code::InvalidArgument);
    assert!(!refused.state_was_updated());
    assert_eq!(inbox.state().texts, ["hello"]);
    assert_eq!(inbox.entity_id(), "i1");
}

#[test]
#[should_panic(expected = "expected a reply, but it failed with InvalidArgument: an empty note")]
fn asking_for_the_reply_of_a_failed_command_says_why_there_is_none() {
    let mut inbox = InboxEntityTestKit::of(Inboxes);
    inbox.deliver(note("i1", "")).reply();
}

#[test]
fn an_event_sourced_entity_snapshots_and_recovers_to_the_same_state() {
    let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
    for i in 0..150 {
        cart.add_item(AddLineItem {
            cart_id: "test-id".into(),
            product_id: format!("p{}", i % 7),
            name: "P".into(),
            quantity: 1,
        });
    }
    let (covered, _) = cart.snapshot().expect("a snapshot every 100 events");
    assert_eq!(covered, 100);
    assert_eq!(cart.all_events().len(), 150);
    assert_eq!(&cart.recovered_state(), cart.state());
    let total: i32 = cart.state().items.iter().map(|i| i.quantity).sum();
    assert_eq!(total, 150);
}

#[test]
#[should_panic(expected = "is a shopping.cart.domain.ItemAdded")]
fn next_event_names_the_type_it_found() {
    let mut cart = ShoppingCartEntityTestKit::of(ShoppingCart);
    let mut result = cart.add_item(AddLineItem {
        cart_id: "test-id".into(),
        product_id: "apple".into(),
        name: "Apple".into(),
        quantity: 1,
    });
    let _: ItemRemoved = result.next_event();
    let _: ItemAdded = result.next_event();
}

#[tokio::test]
async fn an_action_calls_with_canned_replies_publishes_json_and_sets_timers() {
    let mut relay = RelayActionTestKit::of(Relay);
    relay.when(InboxServiceClient::deliver).reply(|note| {
        Ok(Inbox {
            texts: vec!["old".into(), note.text],
        })
    });
    relay.set_metadata(Metadata::new().with("ce-subject", "i1"));
    let result = relay.relay(note("i1", "hi")).await;
    assert_eq!(result.reply().texts, ["old", "hi"]);
    assert_eq!(result.calls()[0].request::<Note>(), note("i1", "hi"));

    let [published] = result.published() else {
        panic!("one message, not {:?}", result.published())
    };
    assert_eq!(published.topic, "relayed");
    assert_eq!(published.ce_type(), "relay.Relayed");
    assert_eq!(
        published.metadata.get("content-type"),
        Some("application/json")
    );
    assert_eq!(
        published.metadata.get("ce-source"),
        Some("relay.RelayService")
    );
    assert_eq!(published.subject(), Some("i1"));
    assert!(
        published
            .metadata
            .get("ce-time")
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(
        published.json(),
        serde_json::json!({"inbox": "i1", "notes": 2})
    );

    let [TimerChange::Started(timer)] = result.timers() else {
        panic!("one timer, not {:?}", result.timers())
    };
    assert_eq!(timer.name, "remind-i1");
    assert_eq!(timer.path, "/relay.InboxService/Deliver");
    assert!(relay.advance(Duration::from_secs(3599)).is_empty());
    let fired = relay.advance(Duration::from_secs(1));
    assert_eq!(fired[0].request::<Note>().text, "reminder");
    assert!(relay.pending_timers().is_empty());
}

#[tokio::test]
async fn an_action_whose_call_fails_publishes_nothing() {
    let mut relay = RelayActionTestKit::of(Relay);
    relay
        .when(InboxServiceClient::deliver)
        .fail(Status::not_found("no such inbox"));
    let failed = relay.relay(note("i9", "hi")).await;
    assert_eq!(failed.error().code(), Code::NotFound);
    assert_eq!(failed.error().message(), "no such inbox");
    assert!(failed.published().is_empty());
    assert!(relay.published_to("relayed").is_empty());
    assert!(relay.pending_timers().is_empty());
}

#[tokio::test]
async fn a_call_without_a_canned_reply_says_how_to_give_one() {
    let mut relay = RelayActionTestKit::of(Relay);
    let failed = relay.relay(note("i1", "hi")).await;
    assert_eq!(failed.error().code(), Code::Unimplemented);
    assert!(
        failed.error().message().contains("kit.when"),
        "{}",
        failed.error()
    );
    assert_eq!(relay.calls().len(), 1);
}

#[tokio::test]
async fn streaming_methods_take_and_give_every_message() {
    let mut relay = RelayActionTestKit::of(Relay);
    let words = relay.words(note("i1", "a b c")).await;
    let texts: Vec<&str> = words.reply().iter().map(|n| n.text.as_str()).collect();
    assert_eq!(texts, ["a", "b", "c"]);

    let mut adder = NumbersActionTestKit::of(Adder);
    let numbers = |values: &[i64]| values.iter().map(|&value| Number { value }).collect();
    let total = adder.sum(numbers(&[1, 2, 3])).await;
    assert_eq!((total.reply().sum, total.reply().count), (6, 3));
    let negative = adder.sum(numbers(&[1, -2])).await;
    assert_eq!(negative.error().code(), Code::InvalidArgument);
    let running = adder.running(numbers(&[1, 2, 3])).await;
    let sums: Vec<i64> = running.reply().iter().map(|t| t.sum).collect();
    assert_eq!(sums, [1, 3, 6]);
}

#[test]
fn a_view_upserts_ignores_and_deletes_rows_by_subject() {
    let mut view = OrdersByItemViewTestKit::of(Orders);
    let placed = view.on_placed(
        "o1",
        OrderPlaced {
            item: "tea".into(),
            quantity: 2,
        },
    );
    assert!(placed.is_upsert());
    assert_eq!(placed.row().map(|r| r.order_id.as_str()), Some("o1"));
    let ignored = view.on_placed(
        "o2",
        OrderPlaced {
            item: "tea".into(),
            quantity: 0,
        },
    );
    assert!(ignored.is_ignore());
    assert!(view.row("o2").is_none());
    assert_eq!(view.subjects(), ["o1"]);
    let cancelled = view.on_cancelled(
        "o1",
        OrderCancelled {
            reason: "changed my mind".into(),
        },
    );
    assert!(cancelled.is_delete());
    assert!(view.row("o1").is_none());
}

fn start(id: &str, fail_times: u32, sleep_ms: u32, pause_after: bool) -> StartJob {
    StartJob {
        job_id: id.into(),
        fail_times,
        sleep_ms,
        pause_after,
    }
}

#[tokio::test]
async fn a_workflow_retries_a_failing_step_then_fails_over() {
    let mut job = JobWorkflowTestKit::with_id("kit-retry", Jobs);
    job.start(start("kit-retry", 5, 0, false)).reply();
    for attempt in 1..=3 {
        let failure = job.run_step().await.expect_err("the step fails");
        assert_eq!(failure.code(), Code::Unavailable, "attempt {attempt}");
    }
    // Two retries used up: the failover step runs, and the job ends.
    assert_eq!(job.position().step.as_deref(), Some("recover"));
    let end = job.run_steps(5).await;
    assert_eq!(end.status, WorkflowStatus::Ended);
    assert_eq!(job.state().log, ["start", "recover"]);
}

#[tokio::test]
async fn a_slow_step_times_out_as_a_failure() {
    let mut job = JobWorkflowTestKit::with_id("kit-slow", Jobs);
    job.start(start("kit-slow", 0, 2_000, false));
    let failure = job.run_step().await.expect_err("cut off at 300 ms");
    assert_eq!(failure.code(), Code::DeadlineExceeded);
    assert_eq!(job.position().attempts, 1);
}

#[tokio::test]
async fn a_workflow_pauses_resumes_and_times_out_by_the_kit_clock() {
    let mut job = JobWorkflowTestKit::with_id("kit-pause", Jobs);
    job.start(start("kit-pause", 0, 0, true));
    assert_eq!(job.run_steps(5).await.status, WorkflowStatus::Paused);
    let resume = || JobRef {
        job_id: "kit-pause".into(),
    };
    assert_eq!(
        job.resume(resume()).position().status,
        WorkflowStatus::Running
    );
    job.run_steps(5).await;
    assert_eq!(job.state().log, ["start", "work", "resume", "finish"]);
    assert_eq!(
        job.resume(resume()).error().code(),
        Code::FailedPrecondition
    );

    let mut late = JobWorkflowTestKit::with_id("kit-late", Jobs);
    late.start(start("kit-late", 0, 0, true));
    late.run_steps(5).await;
    late.advance(plinth_tests::flow::JOB_TIMEOUT);
    assert!(late.position().timed_out);
    late.run_steps(5).await;
    assert_eq!(late.state().log, ["start", "work", "timed-out"]);
    assert_eq!(late.position().status, WorkflowStatus::Ended);
}

#[tokio::test]
async fn the_harness_serves_the_service_on_a_clock_the_test_moves() {
    let clock = plinth::ManualClock::new();
    let service = TestService::builder(
        plinth::Service::new()
            .with(InboxEntityComponent::new(Inboxes))
            .with(RelayActionComponent::new(Relay)),
    )
    .clock(Arc::new(clock.clone()))
    .start()
    .await
    .expect("the service starts");
    let inbox = service
        .call(RelayServiceClient::relay(note("i1", "hi")))
        .await
        .expect("relayed");
    assert_eq!(inbox.texts, ["hi"]);
    let announced = service.published("relayed");
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].json()["notes"], 1);
    let bad = service
        .call(RelayServiceClient::relay(note("i1", "")))
        .await
        .expect_err("an empty note");
    assert_eq!(bad.code(), Code::InvalidArgument);

    // The reminder is an hour away by the service's clock.
    clock.advance(Duration::from_secs(3600));
    let texts = eventually(Duration::from_secs(10), || async {
        let (status, body) = service
            .http(
                "POST",
                "/relay.InboxService/Read",
                Some(serde_json::json!({"inboxId": "i1"})),
            )
            .await;
        let texts = body["texts"].clone();
        if status == 200 && texts.as_array().is_some_and(|t| t.len() == 2) {
            Ok(texts)
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    assert_eq!(texts, serde_json::json!(["hi", "reminder"]));
    service.shutdown().await;
}

#[tokio::test]
async fn the_harness_runs_on_a_given_postgresql() {
    let Some(url) =
        plinth_tests::postgres::fresh_database("the_harness_runs_on_a_given_postgresql").await
    else {
        return;
    };
    let service = TestService::builder(
        plinth::Service::new()
            .with(InboxEntityComponent::new(Inboxes))
            .with(RelayActionComponent::new(Relay)),
    )
    .storage_url(&url)
    .start()
    .await
    .expect("the service starts on PostgreSQL");
    service
        .call(InboxServiceClient::deliver(note("p1", "stored")))
        .await
        .expect("delivered");
    let inbox = service
        .call(InboxServiceClient::read(note("p1", "")))
        .await
        .expect("read");
    assert_eq!(inbox.texts, ["stored"]);
    service.shutdown().await;
}

#[tokio::test]
async fn a_callers_trace_context_reaches_the_messages_it_causes() {
    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let service = TestService::start(
        plinth::Service::new()
            .with(InboxEntityComponent::new(Inboxes))
            .with(RelayActionComponent::new(Relay)),
    )
    .await
    .expect("the service starts");
    let reply = service
        .http_with(
            "POST",
            "/relay.RelayService/Relay",
            Some(serde_json::json!({"inboxId": "t1", "text": "traced"})),
            &[("traceparent", PARENT), ("tracestate", "vendor=7")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let published = service.published("relayed");
    assert_eq!(published[0].metadata.get("traceparent"), Some(PARENT));
    assert_eq!(published[0].metadata.get("tracestate"), Some("vendor=7"));

    // A malformed one is not carried.
    service
        .http_with(
            "POST",
            "/relay.RelayService/Relay",
            Some(serde_json::json!({"inboxId": "t1", "text": "again"})),
            &[("traceparent", "not-a-trace")],
        )
        .await;
    let published = service.published("relayed");
    assert!(published[1].metadata.get("traceparent").is_none());
    service.shutdown().await;
}
