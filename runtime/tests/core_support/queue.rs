//! A pipelining mode for [`MemoryStorage`], shaped like the SQLite writer:
//! queued writes go to one committer task, which takes every write waiting,
//! "fsyncs" (sleeps), and then decides them in queue order. Tests can make
//! chosen writes fail, and read back what each write was fenced by and how
//! it ended.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use plinth::storage::{EventAppend, QueuedWrite, StateWrite, StorageError, StorageResult};
use tokio::sync::{mpsc, oneshot};

use super::storage::MemoryStorage;

/// A queued write.
pub enum Op {
    State(StateWrite),
    Append(EventAppend),
}

impl Op {
    fn describe(&self) -> (String, u64) {
        match self {
            Op::State(write) => (write.entity_id.clone(), write.expected_seq),
            Op::Append(append) => (append.entity_id.clone(), append.expected_seq),
        }
    }
}

type Request = (Op, oneshot::Sender<StorageResult<u64>>);

/// One decided write, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// Its position in the queue, from 1.
    pub position: usize,
    pub entity_id: String,
    /// The sequence number it was fenced by.
    pub expected_seq: u64,
    /// Whether it committed.
    pub committed: bool,
}

/// The committer's side of a pipelined storage.
pub struct Queue {
    requests: mpsc::UnboundedSender<Request>,
    state: Arc<Mutex<QueueState>>,
}

#[derive(Default)]
struct QueueState {
    /// Positions of the writes to fail.
    fail: HashSet<usize>,
    decided: Vec<Decided>,
    batches: Vec<usize>,
}

impl MemoryStorage {
    /// A storage whose queued writes commit in batches, each after `fsync`.
    pub fn pipelined(fsync: Duration) -> Arc<MemoryStorage> {
        Arc::new_cyclic(|storage: &Weak<MemoryStorage>| {
            let (requests, receiver) = mpsc::unbounded_channel();
            let state = Arc::new(Mutex::new(QueueState::default()));
            tokio::spawn(commit(storage.clone(), receiver, state.clone(), fsync));
            MemoryStorage::with_queue(Queue { requests, state })
        })
    }

    /// Make the queued write at `position` (from 1) fail, as a failed
    /// commit would: it is not applied.
    pub fn fail_queued_write(&self, position: usize) {
        self.queue_state().fail.insert(position);
    }

    /// Every decided write, in queue order.
    pub fn decided_writes(&self) -> Vec<Decided> {
        self.queue_state().decided.clone()
    }

    /// The size of every committed batch.
    pub fn batch_sizes(&self) -> Vec<usize> {
        self.queue_state().batches.clone()
    }

    fn queue_state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        let queue = self.queue.as_ref().expect("a pipelined storage");
        queue.state.lock().unwrap()
    }
}

/// Queue `op` on `storage` (written at once, and waited for, when it does
/// not pipeline).
pub fn queue(storage: &MemoryStorage, op: Op) -> BoxFuture<'_, StorageResult<QueuedWrite>> {
    let Some(queue) = &storage.queue else {
        return async move {
            storage.pause().await;
            let outcome = match op {
                Op::State(write) => storage.apply_state(write),
                Op::Append(append) => storage.apply_append(append),
            };
            Ok(futures::future::ready(outcome).boxed())
        }
        .boxed();
    };
    let (reply, outcome) = oneshot::channel();
    let sent = queue.requests.send((op, reply));
    async move {
        sent.map_err(|_| StorageError::Closed)?;
        let outcome: QueuedWrite =
            Box::pin(async move { outcome.await.map_err(|_| StorageError::Closed)? });
        Ok(outcome)
    }
    .boxed()
}

/// The committer: take every waiting write, sleep `fsync`, decide them in order.
async fn commit(
    storage: Weak<MemoryStorage>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    state: Arc<Mutex<QueueState>>,
    fsync: Duration,
) {
    while let Some(first) = requests.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = requests.try_recv() {
            batch.push(more);
        }
        tokio::time::sleep(fsync).await;
        let Some(storage) = storage.upgrade() else {
            return;
        };
        let mut state = state.lock().unwrap();
        state.batches.push(batch.len());
        for (op, reply) in batch {
            let position = state.decided.len() + 1;
            let (entity_id, expected_seq) = op.describe();
            let outcome = if state.fail.contains(&position) {
                Err(StorageError::Backend("injected commit failure".to_string()))
            } else {
                match op {
                    Op::State(write) => storage.apply_state(write),
                    Op::Append(append) => storage.apply_append(append),
                }
            };
            state.decided.push(Decided {
                position,
                entity_id,
                expected_seq,
                committed: outcome.is_ok(),
            });
            let _ = reply.send(outcome);
        }
    }
}
