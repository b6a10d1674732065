//! An in-memory `Storage` with the same fencing rules as the real backends, for
//! tests of the executor that need no database file.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use plinth::storage::{
    Claim, DueCall, EntityStore, EventAppend, FeedKind, FeedRecord, FeedSource, OffsetStore,
    QueuedWrite, Replay, ScheduleOp, ScheduleStore, StateWrite, Storage, StorageError,
    StorageResult, StoredEvent, StoredState,
};

use super::queue::Op;

type Key = (String, String);

#[derive(Default)]
struct Journal {
    events: Vec<StoredEvent>,
    snapshot: Option<(u64, Bytes)>,
    deleted: bool,
}

#[derive(Default)]
struct Mem {
    states: HashMap<Key, StoredState>,
    journals: HashMap<Key, Journal>,
    feed: Vec<FeedRecord>,
    offsets: HashMap<String, u64>,
    leases: HashMap<String, (String, std::time::Instant)>,
    /// The schedule in the order stored, with due times.
    scheduled: Vec<(DueCall, std::time::Instant)>,
}

impl Mem {
    fn apply_schedule(&mut self, ops: Vec<ScheduleOp>) {
        let now = std::time::Instant::now();
        for op in ops {
            match op {
                ScheduleOp::Put(call) => {
                    let due = now + call.delay;
                    let row = DueCall {
                        key: call.key,
                        name: call.name,
                        lane: call.lane,
                        path: call.path,
                        payload: call.payload,
                        attempts: 0,
                        max_retries: call.max_retries,
                        last_error: None,
                        due_in_ms: 0,
                        trace: None,
                    };
                    let same = row.name.as_ref().and_then(|name| {
                        self.scheduled
                            .iter()
                            .position(|(r, _)| r.name.as_ref() == Some(name))
                    });
                    match same {
                        Some(at) => self.scheduled[at] = (row, due),
                        None => self.scheduled.push((row, due)),
                    }
                }
                ScheduleOp::Cancel(name) => self
                    .scheduled
                    .retain(|(row, _)| row.name.as_deref() != Some(name.as_str())),
            }
        }
    }

    fn listed(&self, now: std::time::Instant, row: &DueCall, due: std::time::Instant) -> DueCall {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        DueCall {
            due_in_ms: if due >= now {
                ms(due - now)
            } else {
                -ms(now - due)
            },
            ..row.clone()
        }
    }
}

/// State in a hash map; every write yields first (and sleeps `write_delay`) so
/// concurrent commands really interleave.
#[derive(Default)]
pub struct MemoryStorage {
    mem: Mutex<Mem>,
    write_delay: Option<Duration>,
    /// Other processes may write it too (see `Storage::shared`).
    shared: bool,
    /// Queued writes commit in batches (see `queue`).
    pub(super) queue: Option<super::queue::Queue>,
    /// Successful writes and appends.
    pub writes: AtomicUsize,
    /// Writes refused with a conflict.
    pub conflicts: AtomicUsize,
    /// Journal loads.
    pub journal_loads: AtomicUsize,
}

impl MemoryStorage {
    /// A storage whose writes take `delay`.
    pub fn with_write_delay(delay: Duration) -> MemoryStorage {
        MemoryStorage {
            write_delay: Some(delay),
            ..MemoryStorage::default()
        }
    }

    /// A storage several processes may write (see `Storage::shared`).
    pub fn shared_by_processes() -> MemoryStorage {
        MemoryStorage {
            shared: true,
            ..MemoryStorage::default()
        }
    }

    /// A storage whose queued writes go to `queue`.
    pub(super) fn with_queue(queue: super::queue::Queue) -> MemoryStorage {
        MemoryStorage {
            queue: Some(queue),
            ..MemoryStorage::default()
        }
    }

    pub(super) async fn pause(&self) {
        match self.write_delay {
            Some(delay) => tokio::time::sleep(delay).await,
            None => tokio::task::yield_now().await,
        }
    }

    /// The stored snapshot of an event-sourced entity.
    pub fn snapshot(&self, type_id: &str, id: &str) -> Option<(u64, Bytes)> {
        let mem = self.mem.lock().unwrap();
        mem.journals
            .get(&(type_id.to_string(), id.to_string()))
            .and_then(|j| j.snapshot.clone())
    }

    /// All events of an event-sourced entity.
    pub fn events(&self, type_id: &str, id: &str) -> Vec<StoredEvent> {
        let mem = self.mem.lock().unwrap();
        mem.journals
            .get(&(type_id.to_string(), id.to_string()))
            .map(|j| j.events.clone())
            .unwrap_or_default()
    }

    /// The number of feed records.
    pub fn feed_len(&self) -> usize {
        self.mem.lock().unwrap().feed.len()
    }

    /// Write a value entity's state now, fenced like the real backends.
    pub(super) fn apply_state(&self, write: StateWrite) -> StorageResult<u64> {
        let mut mem = self.mem.lock().unwrap();
        let key = (write.type_id.clone(), write.entity_id.clone());
        let actual = mem.states.get(&key).map_or(0, |s| s.seq);
        if actual != write.expected_seq {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::Conflict {
                type_id: write.type_id,
                entity_id: write.entity_id,
                expected: write.expected_seq,
                actual,
            });
        }
        let seq = actual + 1;
        let offset = mem.feed.len() as u64 + 1;
        mem.feed.push(FeedRecord {
            offset,
            type_id: write.type_id.clone(),
            entity_id: write.entity_id.clone(),
            seq,
            kind: if write.payload.is_some() {
                FeedKind::State
            } else {
                FeedKind::Delete
            },
            type_name: String::new(),
            payload: write.payload.clone().unwrap_or_default(),
            trace: None,
        });
        mem.states.insert(
            key,
            StoredState {
                seq,
                payload: write.payload,
                meta: write.meta,
            },
        );
        mem.apply_schedule(write.schedule);
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(seq)
    }

    /// Append events now, fenced like the real backends.
    pub(super) fn apply_append(&self, append: EventAppend) -> StorageResult<u64> {
        let mut guard = self.mem.lock().unwrap();
        let mem = &mut *guard;
        let key = (append.type_id.clone(), append.entity_id.clone());
        let journal = mem.journals.entry(key).or_default();
        let actual = journal.events.last().map_or(0, |e| e.seq);
        if actual != append.expected_seq {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::Conflict {
                type_id: append.type_id,
                entity_id: append.entity_id,
                expected: append.expected_seq,
                actual,
            });
        }
        let mut seq = actual;
        for (type_name, payload) in append.events {
            seq += 1;
            let offset = mem.feed.len() as u64 + 1;
            mem.feed.push(FeedRecord {
                offset,
                type_id: append.type_id.clone(),
                entity_id: append.entity_id.clone(),
                seq,
                kind: FeedKind::Event,
                type_name: type_name.clone(),
                payload: payload.clone(),
                trace: None,
            });
            journal.events.push(StoredEvent {
                seq,
                type_name,
                payload,
            });
        }
        if let Some(snapshot) = append.snapshot {
            journal.snapshot = Some((seq, snapshot));
        }
        journal.deleted |= append.delete;
        mem.apply_schedule(append.schedule);
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(seq)
    }
}

impl EntityStore for MemoryStorage {
    fn load_state<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Option<StoredState>>> {
        let state = self
            .mem
            .lock()
            .unwrap()
            .states
            .get(&(type_id.to_string(), entity_id.to_string()))
            .cloned();
        futures::future::ready(Ok(state)).boxed()
    }

    fn write_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<u64>> {
        async move {
            self.pause().await;
            self.apply_state(write)
        }
        .boxed()
    }

    fn queue_state(&self, write: StateWrite) -> BoxFuture<'_, StorageResult<QueuedWrite>> {
        super::queue::queue(self, Op::State(write))
    }

    fn queue_append(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<QueuedWrite>> {
        super::queue::queue(self, Op::Append(append))
    }

    fn load_journal<'a>(
        &'a self,
        type_id: &'a str,
        entity_id: &'a str,
    ) -> BoxFuture<'a, StorageResult<Replay>> {
        self.journal_loads.fetch_add(1, Ordering::SeqCst);
        let mem = self.mem.lock().unwrap();
        let replay = match mem
            .journals
            .get(&(type_id.to_string(), entity_id.to_string()))
        {
            None => Replay::default(),
            Some(journal) => {
                let after = journal.snapshot.as_ref().map_or(0, |(seq, _)| *seq);
                Replay {
                    snapshot: journal.snapshot.clone(),
                    events: journal
                        .events
                        .iter()
                        .filter(|e| e.seq > after)
                        .cloned()
                        .collect(),
                    deleted: journal.deleted,
                }
            }
        };
        futures::future::ready(Ok(replay)).boxed()
    }

    fn append_events(&self, append: EventAppend) -> BoxFuture<'_, StorageResult<u64>> {
        async move {
            self.pause().await;
            self.apply_append(append)
        }
        .boxed()
    }
}

impl FeedSource for MemoryStorage {
    fn read_feed<'a>(
        &'a self,
        after: u64,
        type_ids: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, StorageResult<Vec<FeedRecord>>> {
        let mem = self.mem.lock().unwrap();
        let records = mem
            .feed
            .iter()
            .filter(|r| r.offset > after && (type_ids.is_empty() || type_ids.contains(&r.type_id)))
            .take(limit)
            .cloned()
            .collect();
        futures::future::ready(Ok(records)).boxed()
    }
}

impl OffsetStore for MemoryStorage {
    fn load_offset<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, StorageResult<u64>> {
        let offset = self
            .mem
            .lock()
            .unwrap()
            .offsets
            .get(consumer)
            .copied()
            .unwrap_or(0);
        futures::future::ready(Ok(offset)).boxed()
    }

    fn store_offset<'a>(
        &'a self,
        consumer: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, StorageResult<()>> {
        self.mem
            .lock()
            .unwrap()
            .offsets
            .entry(consumer.to_string())
            .and_modify(|stored| *stored = (*stored).max(offset))
            .or_insert(offset);
        futures::future::ready(Ok(())).boxed()
    }

    fn claim_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>> {
        let now = std::time::Instant::now();
        let mut mem = self.mem.lock().unwrap();
        let held = match mem.leases.get(name) {
            Some((other, expires)) if other != holder && *expires > now => false,
            _ => {
                mem.leases
                    .insert(name.to_string(), (holder.to_string(), now + ttl));
                true
            }
        };
        futures::future::ready(Ok(held)).boxed()
    }

    fn release_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, StorageResult<()>> {
        let mut mem = self.mem.lock().unwrap();
        if mem.leases.get(name).is_some_and(|(h, _)| h == holder) {
            mem.leases.remove(name);
        }
        futures::future::ready(Ok(())).boxed()
    }

    fn count_leases<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StorageResult<u64>> {
        let now = std::time::Instant::now();
        let mem = self.mem.lock().unwrap();
        let live = mem
            .leases
            .iter()
            .filter(|(name, (_, expires))| name.starts_with(prefix) && *expires > now)
            .count();
        futures::future::ready(Ok(live as u64)).boxed()
    }
}

impl ScheduleStore for MemoryStorage {
    fn schedule(&self, ops: Vec<ScheduleOp>) -> BoxFuture<'_, StorageResult<()>> {
        self.mem.lock().unwrap().apply_schedule(ops);
        futures::future::ready(Ok(())).boxed()
    }

    fn claim_due(&self, claim: Claim) -> BoxFuture<'_, StorageResult<Vec<DueCall>>> {
        let now = std::time::Instant::now();
        let mut mem = self.mem.lock().unwrap();
        let mut taken = Vec::new();
        for (row, due) in &mut mem.scheduled {
            let orphan = claim.orphans && row.name.is_none();
            if taken.len() < claim.limit && (*due <= now + claim.ahead || orphan) {
                let listed = DueCall {
                    due_in_ms: i64::try_from(due.saturating_duration_since(now).as_millis())
                        .unwrap_or(i64::MAX),
                    ..row.clone()
                };
                *due = now + claim.hold;
                taken.push(listed);
            }
        }
        futures::future::ready(Ok(taken)).boxed()
    }

    fn retry_later<'a>(
        &'a self,
        key: &'a str,
        attempts: u32,
        error: &'a str,
        delay: Duration,
    ) -> BoxFuture<'a, StorageResult<bool>> {
        let now = std::time::Instant::now();
        let mut mem = self.mem.lock().unwrap();
        let found = mem.scheduled.iter_mut().find(|(row, _)| row.key == key);
        let stored = found.is_some();
        if let Some((row, due)) = found {
            row.attempts = attempts;
            row.last_error = Some(error.to_string());
            *due = now + delay;
        }
        futures::future::ready(Ok(stored)).boxed()
    }

    fn complete(&self, keys: Vec<String>) -> BoxFuture<'_, StorageResult<()>> {
        let mut mem = self.mem.lock().unwrap();
        mem.scheduled.retain(|(row, _)| !keys.contains(&row.key));
        futures::future::ready(Ok(())).boxed()
    }

    fn next_due(&self) -> BoxFuture<'_, StorageResult<Option<Duration>>> {
        let now = std::time::Instant::now();
        let mem = self.mem.lock().unwrap();
        let next = mem
            .scheduled
            .iter()
            .map(|(_, due)| due.saturating_duration_since(now))
            .min();
        futures::future::ready(Ok(next)).boxed()
    }

    fn list_scheduled(&self, limit: usize) -> BoxFuture<'_, StorageResult<Vec<DueCall>>> {
        let now = std::time::Instant::now();
        let mem = self.mem.lock().unwrap();
        let mut rows: Vec<DueCall> = mem
            .scheduled
            .iter()
            .map(|(row, due)| mem.listed(now, row, *due))
            .collect();
        rows.sort_by_key(|row| row.due_in_ms);
        rows.truncate(limit);
        futures::future::ready(Ok(rows)).boxed()
    }
}

impl Storage for MemoryStorage {
    fn describe(&self) -> String {
        "memory".to_string()
    }

    fn shared(&self) -> bool {
        self.shared
    }
}
