//! What a consumer reports about itself: [`ConsumerStatus`] snapshots, read
//! cheaply from counters the consumer task keeps current.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::watch;

/// A snapshot of a consumer's progress and health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerStatus {
    /// The consumer's name.
    pub name: String,
    /// Whether it is reading the feed (a consumer under a lease it does not
    /// hold stands by, not running).
    pub running: bool,
    /// The offset stored durably: a restart resumes after it.
    pub stored_offset: u64,
    /// The low watermark: every record at or below it was delivered.
    pub delivered_offset: u64,
    /// The highest offset delivered (records below it may still be pending).
    pub last_delivered_offset: u64,
    /// The offset up to which the feed was read.
    pub read_offset: u64,
    /// The last committed offset of the feed.
    pub head_offset: u64,
    /// Records not yet delivered: read and pending, plus positions up to the
    /// head not yet read (which, for a consumer of some types only, may count
    /// records of other types until it reads them).
    pub lag_records: u64,
    /// How long the oldest undelivered record has been waiting, in
    /// milliseconds (0 when none waits).
    pub oldest_undelivered_ms: u64,
    /// Records delivered since the start.
    pub delivered: u64,
    /// Records dropped as already applied since the start.
    pub duplicates: u64,
    /// Failed handler calls since the start.
    pub failures: u64,
    /// Entities waiting to retry a failed record.
    pub retrying_entities: u64,
    /// Handler calls running now.
    pub in_flight: u64,
}

/// The counters behind [`ConsumerStatus`], written by the consumer task.
#[derive(Debug)]
pub(super) struct StatusCell {
    name: String,
    base: Instant,
    head: Option<watch::Receiver<u64>>,
    pub(super) running: AtomicBool,
    pub(super) stored: AtomicU64,
    pub(super) watermark: AtomicU64,
    pub(super) last_done: AtomicU64,
    pub(super) cursor: AtomicU64,
    pub(super) seen_head: AtomicU64,
    pub(super) outstanding: AtomicU64,
    /// Microseconds since `base` when the oldest undelivered record appeared,
    /// plus one; 0 when nothing waits.
    pending_since: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) retrying: AtomicU64,
    pub(super) in_flight: AtomicU64,
}

impl StatusCell {
    /// Counters of the consumer `name` starting at `offset`; `head` follows
    /// the feed's commits when the storage notifies them.
    pub(super) fn new(name: &str, offset: u64, head: Option<watch::Receiver<u64>>) -> StatusCell {
        StatusCell {
            name: name.to_owned(),
            base: Instant::now(),
            head,
            running: AtomicBool::new(true),
            stored: AtomicU64::new(offset),
            watermark: AtomicU64::new(offset),
            last_done: AtomicU64::new(offset),
            cursor: AtomicU64::new(offset),
            seen_head: AtomicU64::new(offset),
            outstanding: AtomicU64::new(0),
            pending_since: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            retrying: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        }
    }

    /// Record since when the oldest undelivered record waits.
    pub(super) fn set_pending_since(&self, since: Option<Instant>) {
        let encoded = since.map_or(0, |since| {
            let micros = since.saturating_duration_since(self.base).as_micros();
            u64::try_from(micros).unwrap_or(u64::MAX - 1) + 1
        });
        self.pending_since.store(encoded, Ordering::Relaxed);
    }

    /// A snapshot of the counters.
    pub(super) fn snapshot(&self) -> ConsumerStatus {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let cursor = load(&self.cursor);
        let notified = self.head.as_ref().map_or(0, |head| *head.borrow());
        let head_offset = notified.max(load(&self.seen_head)).max(cursor);
        let oldest_undelivered_ms = match load(&self.pending_since) {
            0 => 0,
            encoded => {
                let now = u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX);
                now.saturating_sub(encoded - 1) / 1000
            }
        };
        ConsumerStatus {
            name: self.name.clone(),
            running: self.running.load(Ordering::Relaxed),
            stored_offset: load(&self.stored),
            delivered_offset: load(&self.watermark),
            last_delivered_offset: load(&self.last_done),
            read_offset: cursor,
            head_offset,
            lag_records: load(&self.outstanding) + head_offset.saturating_sub(cursor),
            oldest_undelivered_ms,
            delivered: load(&self.delivered),
            duplicates: load(&self.duplicates),
            failures: load(&self.failures),
            retrying_entities: load(&self.retrying),
            in_flight: load(&self.in_flight),
        }
    }
}

/// A cheap, cloneable view of one consumer's status, for a status endpoint or
/// a metrics exporter; it stays valid after the consumer stopped.
#[derive(Debug, Clone)]
pub struct StatusSource(pub(super) Arc<StatusCell>);

impl StatusSource {
    /// The current status.
    pub fn status(&self) -> ConsumerStatus {
        self.0.snapshot()
    }
}
