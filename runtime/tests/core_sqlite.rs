//! The runtime over the real SQLite backend: serial commands under
//! concurrency, parallel entities, and state surviving restarts.

mod core_support;

use core_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_increments_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let service = start_sqlite(&db, test_config()).await;
    let dispatch = service.dispatch();
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let dispatch = dispatch.clone();
            tokio::spawn(async move {
                call::<CounterState>(&dispatch, "/test.Counter/Increment", &inc("c", 1)).await
            })
        })
        .collect();
    let mut seen = Vec::new();
    for handle in handles {
        seen.push(handle.await.unwrap().expect("increment succeeds").value);
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=1000).collect::<Vec<_>>());
    drop(dispatch);
    service.shutdown().await;

    let service = start_sqlite(&db, test_config()).await;
    let state: CounterState = call(&service.dispatch(), "/test.Counter/Get", &inc("c", 0))
        .await
        .unwrap();
    assert_eq!(state.value, 1000, "every acknowledged increment is durable");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_entities_in_parallel_over_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let service = start_sqlite(&dir.path().join("plinth.db"), test_config()).await;
    let dispatch = service.dispatch();
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
    drop(dispatch);
    service.shutdown().await;
}

#[tokio::test]
async fn event_sourced_state_is_replayed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let service = start_sqlite(&db, test_config()).await;
    let dispatch = service.dispatch();
    for _ in 0..7 {
        call::<CounterState>(&dispatch, "/test.EsCounter/Increment", &inc("es", 2))
            .await
            .unwrap();
    }
    let state: CounterState = call(&dispatch, "/test.EsCounter/AddMany", &inc("es", 4))
        .await
        .unwrap();
    assert_eq!(state.value, 18);
    drop(dispatch);
    service.shutdown().await;

    let service = start_sqlite(&db, test_config()).await;
    let dispatch = service.dispatch();
    let state: CounterState = call(&dispatch, "/test.EsCounter/Get", &inc("es", 0))
        .await
        .unwrap();
    assert_eq!(state.value, 18);
    let state: CounterState = call(&dispatch, "/test.EsCounter/Increment", &inc("es", 1))
        .await
        .unwrap();
    assert_eq!(state.value, 19);
    drop(dispatch);
    service.shutdown().await;
}
