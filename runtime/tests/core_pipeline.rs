//! Pipelined commits for one entity (the executor's `pipeline` module): a
//! busy entity's commands run one at a time in arrival order while their
//! writes share commits, nothing is acknowledged before it is durable, and a
//! failed commit fails exactly the commands applied on top of it.

mod core_support;

use std::sync::Arc;
use std::time::Duration;

use core_support::*;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use plinth::dispatch::SharedDispatch;
use plinth::storage::{EntityStore, FeedSource};
use plinth::{Code, Status};
use prost::Message;

const VALUE: &str = "/test.Counter";
const EVENT_SOURCED: &str = "/test.EsCounter";

/// Call `path` with `input`, owning both.
async fn send(
    dispatch: &SharedDispatch,
    path: &str,
    input: Increment,
) -> Result<CounterState, Status> {
    call(dispatch, path, &input).await
}

/// Send `count` commands to entity `id` of `component` in one order (every
/// tenth a read, the others increments by their number), all in flight at
/// once; check that every reply saw exactly the increments sent before it.
async fn in_arrival_order(dispatch: &SharedDispatch, component: &str, id: &str, count: i64) {
    let (increment, get) = (format!("{component}/Increment"), format!("{component}/Get"));
    let mut calls = FuturesOrdered::new();
    let mut expected = Vec::new();
    let mut total = 0;
    for n in 1..=count {
        if n % 10 == 0 {
            calls.push_back(send(dispatch, &get, inc(id, 0)));
        } else {
            total += n;
            calls.push_back(send(dispatch, &increment, inc(id, n)));
        }
        expected.push(total);
    }
    let seen: Vec<i64> = calls
        .map(|reply| reply.expect("command succeeds").value)
        .collect()
        .await;
    assert_eq!(
        seen, expected,
        "each command ran on its predecessors' state"
    );
}

#[tokio::test]
async fn commands_to_one_entity_run_in_arrival_order_while_their_writes_share_commits() {
    let storage = MemoryStorage::pipelined(Duration::from_millis(2));
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    in_arrival_order(&dispatch, VALUE, "hot", 1000).await;
    in_arrival_order(&dispatch, EVENT_SOURCED, "hot", 1000).await;

    let decided = storage.decided_writes();
    assert_eq!(decided.len(), 1800, "one write per increment, none twice");
    assert!(decided.iter().all(|write| write.committed));
    let fences: Vec<u64> = decided.iter().map(|write| write.expected_seq).collect();
    let in_order: Vec<u64> = (0..900).chain(0..900).collect();
    assert_eq!(fences, in_order, "writes queued in command order");
    let batches = storage.batch_sizes();
    assert!(
        batches.len() < 1800 / 4 && batches.iter().any(|&size| size > 10),
        "the writes of one entity shared commits: {batches:?}"
    );
    let stored = storage
        .load_state("counters", "hot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.seq, 900);
    let total: i64 = (1..=1000).filter(|n| n % 10 != 0).sum();
    let value = CounterState::decode(stored.payload.unwrap()).unwrap().value;
    assert_eq!(value, total);
    let events = storage.events("es-counters", "hot");
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=900).collect::<Vec<_>>(),
        "a gapless journal"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn over_sqlite_one_entity_keeps_arrival_order_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plinth.db");
    let service = start_sqlite(&db, test_config()).await;
    let dispatch = service.dispatch();
    in_arrival_order(&dispatch, VALUE, "hot", 1000).await;
    in_arrival_order(&dispatch, EVENT_SOURCED, "hot", 1000).await;
    drop(dispatch);
    service.shutdown().await;

    let service = start_sqlite(&db, test_config()).await;
    let dispatch = service.dispatch();
    let total: i64 = (1..=1000).filter(|n| n % 10 != 0).sum();
    for component in [VALUE, EVENT_SOURCED] {
        let state: CounterState = call(&dispatch, &format!("{component}/Get"), &inc("hot", 0))
            .await
            .unwrap();
        assert_eq!(state.value, total, "{component} after a restart");
    }
    drop(dispatch);
    service.shutdown().await;
}

/// 1,000 concurrent increments by one of entity `id` of `component`, the
/// 300th queued write failing: check the failure took exactly the commands
/// applied on top of it and that nothing was applied twice.
async fn fail_mid_pipeline(component: &str, id: &str) -> (Arc<MemoryStorage>, usize) {
    let storage = MemoryStorage::pipelined(Duration::from_millis(5));
    storage.fail_queued_write(300);
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    let path = format!("{component}/Increment");
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let (dispatch, path, id) = (dispatch.clone(), path.clone(), id.to_owned());
            tokio::spawn(async move { send(&dispatch, &path, inc(&id, 1)).await })
        })
        .collect();
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for handle in calls {
        match handle.await.unwrap() {
            Ok(state) => succeeded.push(state.value),
            Err(status) => failed.push(status),
        }
    }

    let decided = storage.decided_writes();
    assert_eq!(decided.len(), 1000, "one write per command, none retried");
    let refused: Vec<usize> = decided
        .iter()
        .filter(|write| !write.committed)
        .map(|write| write.position)
        .collect();
    let on_top = refused.len() - 1;
    assert!(on_top >= 1, "commands were applied on top: {refused:?}");
    assert_eq!(
        refused,
        (300..300 + refused.len()).collect::<Vec<_>>(),
        "the failed write and the writes queued on top of it, nothing else"
    );
    for write in &decided[299..299 + refused.len()] {
        assert_eq!(
            write.expected_seq,
            299 + (write.position - 300) as u64,
            "built on the failed write"
        );
    }
    if let Some(next) = decided.get(299 + refused.len()) {
        assert_eq!(
            next.expected_seq, 299,
            "the next command reloaded the entity"
        );
    }
    assert_eq!(failed.len(), refused.len(), "exactly those commands failed");
    assert!(
        failed
            .iter()
            .all(|status: &Status| status.code() == Code::Unavailable)
    );
    succeeded.sort_unstable();
    let committed = succeeded.len();
    assert_eq!(
        succeeded,
        (1..=committed as i64).collect::<Vec<_>>(),
        "every acknowledged increment applied once"
    );
    let state = send(&dispatch, &path, inc(id, 1)).await.unwrap();
    assert_eq!(state.value, committed as i64 + 1, "on the stored state");
    let last = storage.decided_writes().pop().unwrap();
    assert_eq!((last.position, last.expected_seq), (1001, committed as u64));
    let committed = committed + 1;
    drop(dispatch);
    service.shutdown().await;
    (storage, committed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_commit_fails_exactly_the_value_entity_commands_on_top_of_it() {
    let (storage, committed) = fail_mid_pipeline(VALUE, "v").await;
    let stored = storage.load_state("counters", "v").await.unwrap().unwrap();
    assert_eq!(stored.seq, committed as u64);
    let feed = storage.read_feed(0, &[], 10_000).await.unwrap();
    let values: Vec<i64> = feed
        .iter()
        .map(|record| CounterState::decode(record.payload.clone()).unwrap().value)
        .collect();
    assert_eq!(values, (1..=committed as i64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_commit_fails_exactly_the_event_sourced_commands_on_top_of_it() {
    let (storage, committed) = fail_mid_pipeline(EVENT_SOURCED, "e").await;
    let seqs: Vec<u64> = storage
        .events("es-counters", "e")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=committed as u64).collect::<Vec<_>>(), "gapless");
}

/// Reads and rejections on a state whose write is still queued.
async fn read_and_reject(dispatch: &SharedDispatch, id: &str) -> Vec<Result<i64, Code>> {
    let mut calls = FuturesOrdered::new();
    calls.push_back(send(dispatch, "/test.Counter/Increment", inc(id, 1)));
    calls.push_back(send(dispatch, "/test.Counter/Get", inc(id, 0)));
    calls.push_back(send(dispatch, "/test.Counter/Increment", inc(id, -1)));
    calls.push_back(send(dispatch, "/test.Counter/Get", inc(id, 0)));
    calls
        .map(|reply| {
            reply
                .map(|state| state.value)
                .map_err(|status| status.code())
        })
        .collect()
        .await
}

#[tokio::test]
async fn reads_and_rejections_wait_for_the_write_their_state_was_built_on() {
    let storage = MemoryStorage::pipelined(Duration::from_millis(20));
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();

    let mut calls = FuturesOrdered::new();
    calls.push_back(send(&dispatch, "/test.Counter/Increment", inc("r", 1)));
    calls.push_back(send(&dispatch, "/test.Counter/Get", inc("r", 0)));
    let increment = calls.next().await.unwrap().unwrap();
    assert_eq!(increment.value, 1);
    assert!(
        storage.decided_writes()[0].committed,
        "durable before the reply"
    );
    assert_eq!(calls.next().await.unwrap().unwrap().value, 1);

    let replies = read_and_reject(&dispatch, "r").await;
    assert_eq!(replies, [Ok(2), Ok(2), Err(Code::InvalidArgument), Ok(2)]);

    // The increment's write fails: nothing built on it is acknowledged, and
    // the rejection changes nothing.
    storage.fail_queued_write(3);
    let replies = read_and_reject(&dispatch, "r").await;
    assert!(
        replies.iter().all(Result::is_err),
        "nothing reported the lost increment: {replies:?}"
    );
    let state: CounterState = call(&dispatch, "/test.Counter/Get", &inc("r", 0))
        .await
        .unwrap();
    assert_eq!(state.value, 2, "reloaded from storage");
    assert_eq!(
        storage.decided_writes().len(),
        3,
        "rejections queue nothing"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn a_write_behind_the_only_writers_back_fails_one_command_and_reloads() {
    let storage = MemoryStorage::pipelined(Duration::from_millis(1));
    let service = start(storage.clone(), test_config()).await;
    let dispatch = service.dispatch();
    send(&dispatch, "/test.Counter/Increment", inc("k", 1))
        .await
        .unwrap();
    let outside = CounterState {
        value: 100,
        id: String::new(),
    };
    let write = plinth::storage::StateWrite {
        meta: None,
        type_id: "counters".to_string(),
        entity_id: "k".to_string(),
        expected_seq: 1,
        payload: Some(outside.encode_to_vec().into()),
        type_name: "test.CounterState".to_string(),
        schedule: Vec::new(),
        trace: None,
    };
    storage.write_state(write).await.unwrap();
    let lost = send(&dispatch, "/test.Counter/Increment", inc("k", 1)).await;
    assert_eq!(lost.unwrap_err().code(), Code::Unavailable);
    let state = send(&dispatch, "/test.Counter/Increment", inc("k", 1))
        .await
        .unwrap();
    assert_eq!(state.value, 101, "ran on the reloaded state");
    service.shutdown().await;
}
