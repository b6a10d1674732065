//! Which records go to the handler next: one queue per entity, so an entity's
//! records run one job at a time in sequence order, while other entities run
//! beside it; failed entities wait out their backoff without holding a slot.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::handler::Delivery;
use super::job::{EntityKey, Job, Report, key_of};
use crate::storage::FeedRecord;

/// Where an entity is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the ready queue.
    Ready,
    /// In a running job.
    Busy,
    /// Waiting for a retry after a failure.
    Waiting,
}

/// An entity with records read and not done.
#[derive(Debug)]
struct Entity {
    queue: VecDeque<FeedRecord>,
    phase: Phase,
    /// Failures in a row.
    attempts: u32,
    /// Run alone (after its batch failed) until it succeeds.
    solo: bool,
}

/// What a finished job means for the consumer.
#[derive(Debug)]
pub(super) struct Completion {
    /// The records done (handled or dropped), in offset order.
    pub(super) done: Vec<FeedRecord>,
    /// How many of them were duplicates.
    pub(super) duplicates: usize,
    /// When the job failed for one entity: the retry number and its delay.
    pub(super) retry: Option<(u32, Duration)>,
}

/// The per-entity queues of one consumer.
#[derive(Debug)]
pub(super) struct Scheduler {
    entities: HashMap<EntityKey, Entity>,
    ready: VecDeque<EntityKey>,
    retries: BinaryHeap<Reverse<(Instant, u64, EntityKey)>>,
    retry_order: u64,
    /// The highest sequence number applied per entity in this run.
    applied: HashMap<EntityKey, u64>,
    dedup_capacity: usize,
    buffered: usize,
}

impl Scheduler {
    /// Empty queues, remembering at most `dedup_capacity` entities' sequence
    /// numbers.
    pub(super) fn new(dedup_capacity: usize) -> Scheduler {
        Scheduler {
            entities: HashMap::new(),
            ready: VecDeque::new(),
            retries: BinaryHeap::new(),
            retry_order: 0,
            applied: HashMap::new(),
            dedup_capacity,
            buffered: 0,
        }
    }

    /// Records queued or running.
    pub(super) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Entities waiting to retry.
    pub(super) fn retrying(&self) -> usize {
        self.retries.len()
    }

    /// Queue a record read from the feed (records arrive in offset order).
    pub(super) fn push(&mut self, record: FeedRecord) {
        self.buffered += 1;
        let key = key_of(&record);
        match self.entities.get_mut(&key) {
            Some(entity) => entity.queue.push_back(record),
            None => {
                self.entities.insert(
                    key.clone(),
                    Entity {
                        queue: VecDeque::from([record]),
                        phase: Phase::Ready,
                        attempts: 0,
                        solo: false,
                    },
                );
                self.ready.push_back(key);
            }
        }
    }

    /// The next job, if an entity is ready: one entity's records
    /// ([`Delivery::Single`], or an entity whose batch failed), or records of
    /// several entities ([`Delivery::Batch`]), at most `max_batch` records.
    pub(super) fn next_job(&mut self, delivery: Delivery, max_batch: usize) -> Option<Job> {
        let mut job = Job {
            entities: Vec::new(),
            records: Vec::new(),
        };
        while job.records.len() < max_batch {
            let Some(key) = self.ready.pop_front() else {
                break;
            };
            let Some(entity) = self.entities.get_mut(&key) else {
                continue;
            };
            let alone = delivery == Delivery::Single || entity.solo;
            if alone && !job.entities.is_empty() {
                // It runs alone: in the next job.
                self.ready.push_front(key);
                break;
            }
            entity.phase = Phase::Busy;
            let take = entity.queue.len().min(max_batch - job.records.len());
            job.records.extend(entity.queue.drain(..take));
            job.entities
                .push((key.clone(), self.applied.get(&key).copied()));
            if alone {
                break;
            }
        }
        if job.entities.len() > 1 {
            job.records.sort_by_key(|record| record.offset);
        }
        (!job.records.is_empty()).then_some(job)
    }

    /// Take a finished job back: done records leave the queues, the rest go
    /// back in front of their entities' queues, and a failed entity is
    /// scheduled to retry after `backoff(attempt)`.
    pub(super) fn complete(
        &mut self,
        report: Report,
        now: Instant,
        backoff: impl Fn(u32) -> Duration,
    ) -> Completion {
        let Report {
            mut job,
            done,
            duplicates,
            applied,
            error,
        } = report;
        if self.applied.len() + applied.len() > self.dedup_capacity {
            // Start over; the dedup hook answers for entities seen again.
            self.applied.clear();
        }
        self.applied.extend(
            applied
                .into_iter()
                .filter_map(|(key, seq)| seq.map(|seq| (key, seq))),
        );
        let rest = job.records.split_off(done.min(job.records.len()));
        self.buffered -= job.records.len();
        for record in rest.into_iter().rev() {
            if let Some(entity) = self.entities.get_mut(&key_of(&record)) {
                entity.queue.push_front(record);
            }
        }
        let several = job.entities.len() > 1;
        let mut retry = None;
        for (key, _) in job.entities {
            let Some(entity) = self.entities.get_mut(&key) else {
                continue;
            };
            match (&error, several) {
                (None, _) => {
                    entity.attempts = 0;
                    entity.solo = false;
                    if entity.queue.is_empty() {
                        self.entities.remove(&key);
                    } else {
                        entity.phase = Phase::Ready;
                        self.ready.push_back(key);
                    }
                }
                (Some(_), true) => {
                    // Find the failing entity: each runs alone now.
                    entity.solo = true;
                    entity.phase = Phase::Ready;
                    self.ready.push_back(key);
                }
                (Some(_), false) => {
                    entity.attempts = entity.attempts.saturating_add(1);
                    let delay = backoff(entity.attempts);
                    entity.phase = Phase::Waiting;
                    self.retry_order += 1;
                    self.retries
                        .push(Reverse((now + delay, self.retry_order, key)));
                    retry = Some((entity.attempts, delay));
                }
            }
        }
        Completion {
            done: job.records,
            duplicates,
            retry,
        }
    }

    /// Make the entities whose backoff ended by `now` ready again; returns
    /// when the next one ends.
    pub(super) fn due_retries(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, _, _))) = self.retries.peek() {
            if *at > now {
                return Some(*at);
            }
            if let Some(Reverse((_, _, key))) = self.retries.pop()
                && let Some(entity) = self.entities.get_mut(&key)
                && entity.phase == Phase::Waiting
            {
                entity.phase = Phase::Ready;
                self.ready.push_back(key);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::feed::HandlerError;
    use crate::storage::FeedKind;

    fn record(offset: u64, entity: &str, seq: u64) -> FeedRecord {
        FeedRecord {
            offset,
            type_id: "t".to_owned(),
            entity_id: entity.to_owned(),
            seq,
            kind: FeedKind::State,
            type_name: String::new(),
            payload: Bytes::new(),
            trace: None,
        }
    }

    fn report(job: Job, done: usize, error: Option<HandlerError>) -> Report {
        Report {
            job,
            done,
            duplicates: 0,
            applied: Vec::new(),
            error,
        }
    }

    #[test]
    fn an_entity_runs_one_job_at_a_time_and_waits_out_its_backoff() {
        let mut sched = Scheduler::new(10);
        sched.push(record(1, "a", 1));
        sched.push(record(2, "b", 1));
        let a = sched.next_job(Delivery::Single, 10).unwrap();
        sched.push(record(3, "a", 2));
        let b = sched.next_job(Delivery::Single, 10).unwrap();
        // "a" is busy: its second record waits.
        assert!(sched.next_job(Delivery::Single, 10).is_none());
        let now = Instant::now();
        let failed = sched.complete(report(a, 0, Some(HandlerError::msg("no"))), now, |_| {
            Duration::from_millis(10)
        });
        assert_eq!(failed.retry, Some((1, Duration::from_millis(10))));
        assert!(failed.done.is_empty());
        let ok = sched.complete(report(b, 1, None), now, |_| Duration::ZERO);
        assert_eq!(ok.done.len(), 1);
        assert!(sched.next_job(Delivery::Single, 10).is_none());
        assert_eq!(
            sched.due_retries(now),
            Some(now + Duration::from_millis(10))
        );
        assert_eq!(sched.due_retries(now + Duration::from_millis(10)), None);
        let retried = sched.next_job(Delivery::Single, 10).unwrap();
        let seqs: Vec<u64> = retried.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(sched.buffered(), 2);
    }

    #[test]
    fn a_failed_batch_splits_into_entities() {
        let mut sched = Scheduler::new(10);
        for (offset, entity) in [(1, "a"), (2, "b"), (3, "a")] {
            sched.push(record(offset, entity, offset));
        }
        let batch = sched.next_job(Delivery::Batch, 10).unwrap();
        let offsets: Vec<u64> = batch.records.iter().map(|r| r.offset).collect();
        assert_eq!((offsets, batch.entities.len()), (vec![1, 2, 3], 2));
        let failed = sched.complete(
            report(batch, 0, Some(HandlerError::msg("no"))),
            Instant::now(),
            |_| Duration::ZERO,
        );
        assert_eq!(failed.retry, None);
        let first = sched.next_job(Delivery::Batch, 10).unwrap();
        assert_eq!(first.entities.len(), 1);
        assert_eq!(first.records.len(), 2);
        let second = sched.next_job(Delivery::Batch, 10).unwrap();
        assert_eq!(second.entities.len(), 1);
    }
}
