//! The entity executor through the real dispatcher: serial commands per entity,
//! parallel entities, durability before replies, panics, conflicts, event
//! sourcing with snapshots, forwards and side effects.

mod core_support;

use plinth::storage::EntityStore;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use core_support::*;
use plinth::storage::StateWrite;
use plinth::{Code, Metadata};
use prost::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_increments_on_one_entity_all_count() {
    let storage = Arc::new(MemoryStorage::with_write_delay(Duration::from_micros(50)));
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    let calls = (0..1000).map(|_| {
        let dispatch = dispatch.clone();
        tokio::spawn(async move {
            call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc("c1", 1)).await
        })
    });
    let mut seen = Vec::new();
    for handle in calls {
        seen.push(handle.await.unwrap().expect("increment succeeds").value);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=1000).collect::<Vec<_>>(),
        "every command saw a distinct, serial state"
    );
    let state: CounterState = call(&dispatch, "/test.Counter/Get", &inc("c1", 0))
        .await
        .unwrap();
    assert_eq!(state.value, 1000);
    assert_eq!(storage.writes.load(Ordering::SeqCst), 1000);
    assert_eq!(
        storage.conflicts.load(Ordering::SeqCst),
        0,
        "serial commands never conflict"
    );
    let stored = storage.load_state("counters", "c1").await.unwrap().unwrap();
    assert_eq!(stored.seq, 1000);
    assert_eq!(
        CounterState::decode(stored.payload.unwrap()).unwrap().value,
        1000
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_entities_run_in_parallel() {
    // Each write takes 20 ms; 100 entities x 10 commands serially per entity
    // would take 20 s if entities did not run in parallel.
    let storage = Arc::new(MemoryStorage::with_write_delay(Duration::from_millis(20)));
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    for round in 0..10 {
        for entity in 0..100 {
            let dispatch = dispatch.clone();
            let id = format!("e{entity}");
            handles.push(tokio::spawn(async move {
                call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc(&id, round + 1))
                    .await
            }));
        }
    }
    for handle in handles {
        handle.await.unwrap().expect("increment succeeds");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    for entity in 0..100 {
        let state: CounterState = call(
            &dispatch,
            "/test.Counter/Get",
            &inc(&format!("e{entity}"), 0),
        )
        .await
        .unwrap();
        assert_eq!(state.value, 55, "entity e{entity}");
    }
    service.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_fails_with_internal_and_changes_nothing() {
    let storage = Arc::new(MemoryStorage::default());
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc("p", 5))
        .await
        .unwrap();
    let error = call::<CounterState>(&dispatch, "/test.Counter/Explode", &inc("p", 1))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert!(error.message().contains("correlation id"), "{error}");
    assert!(
        !error.message().contains("exploded"),
        "panic text stays in the log: {error}"
    );
    let state: CounterState = call(&dispatch, "/test.Counter/Increment", &inc("p", 1))
        .await
        .unwrap();
    assert_eq!(
        state.value, 6,
        "state unchanged by the panic and the entity still serves"
    );
    assert_eq!(storage.writes.load(Ordering::SeqCst), 2);

    let error = call::<EchoReply>(&dispatch, "/test.Echo/Explode", &EchoRequest::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    service.shutdown().await;
}

#[tokio::test]
async fn a_command_whose_caller_goes_away_still_runs_to_completion() {
    let storage = Arc::new(MemoryStorage::with_write_delay(Duration::from_millis(20)));
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    // Cached and free: the command's handler runs on the caller's task.
    call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc("gone", 1))
        .await
        .unwrap();
    let payload = Bytes::from(inc("gone", 2).encode_to_vec());
    let mut caller = dispatch.dispatch("/test.Counter/Increment", payload, Metadata::new());
    assert!(
        futures::poll!(&mut caller).is_pending(),
        "the write takes 20 ms to commit"
    );
    drop(caller);
    let state: CounterState = call(&dispatch, "/test.Counter/Get", &inc("gone", 0))
        .await
        .unwrap();
    assert_eq!(state.value, 3, "the abandoned increment still committed");
    assert_eq!(storage.writes.load(Ordering::SeqCst), 2);
    service.shutdown().await;
}

#[tokio::test]
async fn handler_errors_and_bad_input_persist_nothing() {
    let storage = Arc::new(MemoryStorage::default());
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    let error = call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc("n", -1))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let error = dispatch
        .dispatch(
            "/test.Counter/Increment",
            Bytes::from_static(&[0xff, 0xff]),
            Metadata::new(),
        )
        .await;
    assert_eq!(error.unwrap_err().code(), Code::InvalidArgument);
    let error = call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc("", 1))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("entity id"), "{error}");
    let error = call::<CounterState>(&dispatch, "/test.Nope/Increment", &inc("n", 1))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert_eq!(storage.writes.load(Ordering::SeqCst), 0);
    assert_eq!(storage.feed_len(), 0);
    service.shutdown().await;
}

#[tokio::test]
async fn a_conflicting_write_is_retried_on_fresh_state() {
    let storage = Arc::new(MemoryStorage::shared_by_processes());
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc("k", 1))
        .await
        .unwrap();
    // Another writer (another node) changes the entity behind the cached copy.
    let outside = CounterState {
        value: 100,
        id: String::new(),
    };
    let write = StateWrite {
        meta: None,
        type_id: "counters".to_string(),
        entity_id: "k".to_string(),
        expected_seq: 1,
        payload: Some(Bytes::from(outside.encode_to_vec())),
        type_name: "test.CounterState".to_string(),
        schedule: Vec::new(),
        trace: None,
    };
    assert_eq!(storage.write_state(write).await.unwrap(), 2);
    let state: CounterState = call(&dispatch, "/test.Counter/Increment", &inc("k", 1))
        .await
        .unwrap();
    assert_eq!(state.value, 101, "the command ran again on the fresh state");
    assert_eq!(storage.conflicts.load(Ordering::SeqCst), 1);
    assert_eq!(
        storage
            .load_state("counters", "k")
            .await
            .unwrap()
            .unwrap()
            .seq,
        3
    );
    service.shutdown().await;
}

#[tokio::test]
async fn event_sourced_entities_snapshot_and_replay() {
    let storage = Arc::new(MemoryStorage::default());
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    for i in 1..=4 {
        let state: CounterState = call(&dispatch, "/test.EsCounter/Increment", &inc("es", i))
            .await
            .unwrap();
        assert_eq!(
            state.value,
            (1..=i).sum::<i64>(),
            "reply computed from the new state"
        );
    }
    let state: CounterState = call(&dispatch, "/test.EsCounter/AddMany", &inc("es", 5))
        .await
        .unwrap();
    assert_eq!(state.value, 15);
    let events = storage.events("es-counters", "es");
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>(),
        "no gaps"
    );
    assert!(events.iter().all(|e| e.type_name == "test.Incremented"));
    // snapshot_every = 3: after event 3 (3 events), then after event 9 (6 more).
    let (snapshot_seq, snapshot) = storage.snapshot("es-counters", "es").expect("a snapshot");
    assert_eq!(snapshot_seq, 9);
    assert_eq!(CounterState::decode(snapshot).unwrap().value, 15);
    let state: CounterState = call(&dispatch, "/test.EsCounter/Increment", &inc("es", 10))
        .await
        .unwrap();
    assert_eq!(state.value, 25);
    service.shutdown().await;

    // A new service has nothing cached: it replays snapshot + later events.
    let loads_before = storage.journal_loads.load(Ordering::SeqCst);
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    let state: CounterState = call(&dispatch, "/test.EsCounter/Get", &inc("es", 0))
        .await
        .unwrap();
    assert_eq!(state.value, 25);
    assert_eq!(
        storage.journal_loads.load(Ordering::SeqCst),
        loads_before + 1
    );
    let state: CounterState = call(&dispatch, "/test.EsCounter/Increment", &inc("es", 1))
        .await
        .unwrap();
    assert_eq!(state.value, 26);
    assert_eq!(storage.events("es-counters", "es").last().unwrap().seq, 11);
    service.shutdown().await;
}

#[tokio::test]
async fn concurrent_event_sourced_commands_leave_a_gapless_journal() {
    let storage = Arc::new(MemoryStorage::default());
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let dispatch = dispatch.clone();
            tokio::spawn(async move {
                call::<CounterState>(&dispatch, "/test.EsCounter/Increment", &inc("j", 1)).await
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let seqs: Vec<u64> = storage
        .events("es-counters", "j")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    service.shutdown().await;
}

#[tokio::test]
async fn generated_ids_forwards_side_effects_and_deletes() {
    let storage = Arc::new(MemoryStorage::default());
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();

    let created: CounterState = call(&dispatch, "/test.Counter/Create", &inc("ignored", 7))
        .await
        .unwrap();
    assert_eq!(created.id.len(), 36, "a UUID: {}", created.id);
    assert_ne!(created.id, "ignored");
    let stored = storage
        .load_state("counters", &created.id)
        .await
        .unwrap()
        .expect("stored under the new id");
    assert_eq!(stored.seq, 1);

    let state: CounterState = call(&dispatch, "/test.Counter/IncrementViaForward", &inc("f", 3))
        .await
        .unwrap();
    assert_eq!(state.value, 3, "the forwarded call's reply is the reply");

    call::<CounterState>(&dispatch, "/test.Counter/IncrementWithAudit", &inc("w", 1))
        .await
        .unwrap();
    call::<CounterState>(&dispatch, "/test.Counter/IncrementWithAudit", &inc("w", 1))
        .await
        .unwrap();
    let mut audit = 0;
    for _ in 0..100 {
        audit = call::<CounterState>(&dispatch, "/test.Counter/Get", &inc("audit", 0))
            .await
            .unwrap()
            .value;
        if audit == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(audit, 2, "each side effect ran once after the write");

    let reset: CounterState = call(&dispatch, "/test.Counter/Reset", &inc("w", 0))
        .await
        .unwrap();
    assert_eq!(reset.value, 0);
    assert_eq!(
        storage
            .load_state("counters", "w")
            .await
            .unwrap()
            .unwrap()
            .payload,
        None
    );
    let state: CounterState = call(&dispatch, "/test.Counter/Increment", &inc("w", 4))
        .await
        .unwrap();
    assert_eq!(
        state.value, 4,
        "a deleted entity starts from the empty state"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn passivated_entities_reload_their_state() {
    let storage = Arc::new(MemoryStorage::default());
    let mut config = test_config();
    config.max_active_entities = 1;
    let service = start(storage.clone(), config).await;
    let dispatch = service.dispatch();
    for round in 1..=3 {
        for entity in 0..50 {
            let state: CounterState = call(
                &dispatch,
                "/test.Counter/Increment",
                &inc(&format!("p{entity}"), 1),
            )
            .await
            .unwrap();
            assert_eq!(state.value, round);
        }
    }
    service.shutdown().await;
}
