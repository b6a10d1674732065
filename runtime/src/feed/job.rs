//! One handler call's worth of work: a [`Job`] (records of one or more
//! entities, each entity's in sequence order) and how it runs.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use super::handler::{Delivery, FeedHandler, HandlerError};
use crate::storage::FeedRecord;

/// An entity: its type_id and id.
pub(super) type EntityKey = (String, String);

/// The key of a record's entity.
pub(super) fn key_of(record: &FeedRecord) -> EntityKey {
    (record.type_id.clone(), record.entity_id.clone())
}

/// Records handed to the handler together.
#[derive(Debug)]
pub(super) struct Job {
    /// The entities in the job and the highest sequence number known applied
    /// for each (`None`: ask the handler's dedup hook).
    pub(super) entities: Vec<(EntityKey, Option<u64>)>,
    /// The records, in offset order.
    pub(super) records: Vec<FeedRecord>,
}

/// How a job went.
#[derive(Debug)]
pub(super) struct Report {
    /// The job.
    pub(super) job: Job,
    /// How many records, from the start, are done (handled or dropped).
    pub(super) done: usize,
    /// How many of those were dropped as duplicates.
    pub(super) duplicates: usize,
    /// The highest applied sequence number per entity, as known now.
    pub(super) applied: Vec<(EntityKey, Option<u64>)>,
    /// Why the job stopped short, and the first record not done.
    pub(super) error: Option<HandlerError>,
}

/// Run a job, turning a panic of the handler into an error.
pub(super) async fn run(handler: Arc<dyn FeedHandler>, delivery: Delivery, job: Job) -> Report {
    let mut applied: HashMap<EntityKey, Option<u64>> = job.entities.iter().cloned().collect();
    let outcome = AssertUnwindSafe(deliver(&*handler, delivery, &job.records, &mut applied))
        .catch_unwind()
        .await;
    let (done, duplicates, error) = match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text payload".to_owned());
            // What ran before the panic may or may not have been applied.
            (0, 0, Some(HandlerError::Panicked(message)))
        }
    };
    Report {
        applied: applied.into_iter().collect(),
        job,
        done,
        duplicates,
        error,
    }
}

/// Deliver the records, skipping those at or below the applied sequence
/// number of their entity. Returns `(done, duplicates, error)`.
async fn deliver(
    handler: &dyn FeedHandler,
    delivery: Delivery,
    records: &[FeedRecord],
    applied: &mut HashMap<EntityKey, Option<u64>>,
) -> (usize, usize, Option<HandlerError>) {
    for (key, known) in applied.iter_mut() {
        if known.is_none() {
            match handler.applied_seq(&key.0, &key.1).await {
                Ok(seq) => *known = Some(seq.unwrap_or(0)),
                Err(err) => return (0, 0, Some(err)),
            }
        }
    }
    let is_duplicate = |applied: &HashMap<EntityKey, Option<u64>>, record: &FeedRecord| {
        applied
            .get(&key_of(record))
            .copied()
            .flatten()
            .is_some_and(|known| record.seq <= known)
    };
    match delivery {
        Delivery::Single => {
            let mut duplicates = 0;
            for (index, record) in records.iter().enumerate() {
                if is_duplicate(applied, record) {
                    duplicates += 1;
                    continue;
                }
                if let Err(err) = handler.handle(record).await {
                    return (index, duplicates, Some(err));
                }
                applied.insert(key_of(record), Some(record.seq));
            }
            (records.len(), duplicates, None)
        }
        Delivery::Batch => {
            let fresh: Vec<FeedRecord> = records
                .iter()
                .filter(|record| !is_duplicate(applied, record))
                .cloned()
                .collect();
            if !fresh.is_empty()
                && let Err(err) = handler.handle_batch(&fresh).await
            {
                return (0, 0, Some(err));
            }
            for record in &fresh {
                applied.insert(key_of(record), Some(record.seq));
            }
            (records.len(), records.len() - fresh.len(), None)
        }
    }
}
