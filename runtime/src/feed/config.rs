//! How a consumer is set up: [`ConsumerConfig`] and the retry [`Backoff`].

use std::sync::Arc;
use std::time::Duration;

use super::handler::Delivery;
use super::share::Share;
use super::{FeedError, FeedResult};

/// The settings of one feed consumer.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The consumer's name: the key its offset is stored under. Renaming a
    /// consumer starts it again from the beginning of the feed.
    pub name: String,
    /// The entity type_ids it reads (all when empty).
    pub type_ids: Vec<String>,
    /// How records are handed to the handler.
    pub delivery: Delivery,
    /// The most handler calls running at once (each holds one entity, or one
    /// batch of entities).
    pub concurrency: usize,
    /// The most records in one handler call: the records of one entity taken
    /// at once ([`Delivery::Single`]) or of one batch ([`Delivery::Batch`]).
    pub max_batch: usize,
    /// The most records read from the feed at once.
    pub read_batch: usize,
    /// The most records read but not yet handled; reading pauses beyond it.
    pub max_buffered: usize,
    /// Retry delays of a failing entity.
    pub backoff: Backoff,
    /// Store the offset once this many records were handled since the last
    /// store...
    pub store_every: usize,
    /// ...or once this long passed since then, whichever comes first.
    pub store_interval: Duration,
    /// How often to look at the feed without a commit notification (the
    /// fallback when the notification is missed or the backend has none).
    pub poll_interval: Duration,
    /// How many entities' last handled sequence numbers are kept in memory for
    /// deduplication; beyond it the bookkeeping starts over, asking
    /// [`super::FeedHandler::applied_seq`] again.
    pub dedup_capacity: usize,
    /// Run only while holding this lease, so among several processes on one
    /// storage one at a time runs the consumer (`None`: always run).
    pub lease: Option<LeaseConfig>,
    /// Handle only this slice of the feed (`None`: all of it).
    pub slice: Option<Slice>,
}

/// A slice of the feed: the records of the entities whose `(type_id,
/// entity_id)` hashes to `index` modulo `count`. Every record of an entity is
/// in the same slice, so per-entity order holds within a slice, and slices
/// run independently (each with its own offset and lease).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Which slice, from 0.
    pub index: u32,
    /// How many slices the feed is split into (at least 1).
    pub count: u32,
}

impl Slice {
    /// Whether the entity's records are in this slice.
    pub fn contains(&self, type_id: &str, entity_id: &str) -> bool {
        self.count <= 1
            || slice_hash(type_id, entity_id) % u64::from(self.count) == u64::from(self.index)
    }
}

/// FNV-1a over `type_id`, a separator and `entity_id`: stable across
/// processes, builds and versions, which a slice assignment must be (the
/// standard library's hasher is not guaranteed stable, and a crate for eight
/// lines of arithmetic is not worth a dependency).
fn slice_hash(type_id: &str, entity_id: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = type_id.bytes().chain([0xff]).chain(entity_id.bytes());
    bytes.fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// How a consumer shares its work with other processes: it runs only while
/// it holds the lease `consumer/<name>` in the storage, renews it every
/// `ttl / 3`, and stops (storing its offset) when a renewal fails; a
/// standby process takes the lease over once it expires.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Who holds the lease (unique per consumer start).
    pub holder: String,
    /// How long a lease lasts without renewal: a dead process's consumer is
    /// taken over within about `ttl` plus one retry interval (`ttl / 3`).
    pub ttl: Duration,
    /// The fair share of the consumer's slices this process may hold
    /// (`None`: take the lease whenever it is free).
    pub share: Option<Arc<Share>>,
}

impl LeaseConfig {
    /// The ttl the runtime's consumers use on a shared storage: a dead
    /// process's views and subscriptions move to a live one within about
    /// 8 seconds.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(6);

    /// A lease for a fresh holder with `ttl`.
    pub fn new(ttl: Duration) -> LeaseConfig {
        LeaseConfig {
            holder: uuid::Uuid::new_v4().to_string(),
            ttl,
            share: None,
        }
    }
}

impl ConsumerConfig {
    /// A consumer named `name` reading `type_ids` (all when empty), with the
    /// default settings.
    pub fn new(name: impl Into<String>, type_ids: Vec<String>) -> ConsumerConfig {
        ConsumerConfig {
            name: name.into(),
            type_ids,
            delivery: Delivery::Single,
            concurrency: 16,
            max_batch: 256,
            read_batch: 1024,
            max_buffered: 16 * 1024,
            backoff: Backoff::default(),
            store_every: 1000,
            store_interval: Duration::from_millis(250),
            poll_interval: Duration::from_secs(1),
            dedup_capacity: 100_000,
            lease: None,
            slice: None,
        }
    }

    /// The same settings with another delivery mode.
    pub fn with_delivery(mut self, delivery: Delivery) -> ConsumerConfig {
        self.delivery = delivery;
        self
    }

    /// Check the settings; every count must be at least 1.
    pub(super) fn validate(&self) -> FeedResult<()> {
        let invalid = |field: &str, hint: &str| {
            Err(FeedError::InvalidConfig(format!(
                "consumer `{}`: {field} {hint}",
                self.name
            )))
        };
        if self.name.trim().is_empty() {
            return invalid("name", "must not be empty");
        }
        for (field, value) in [
            ("concurrency", self.concurrency),
            ("max_batch", self.max_batch),
            ("read_batch", self.read_batch),
            ("max_buffered", self.max_buffered),
            ("store_every", self.store_every),
            ("dedup_capacity", self.dedup_capacity),
        ] {
            if value == 0 {
                return invalid(field, "must be at least 1");
            }
        }
        if let Some(slice) = self.slice
            && (slice.count == 0 || slice.index >= slice.count)
        {
            return invalid("slice", "needs an index below a count of at least 1");
        }
        if self.poll_interval.is_zero() {
            return invalid("poll_interval", "must be longer than zero");
        }
        if self.backoff.initial.is_zero() || self.backoff.max < self.backoff.initial {
            return invalid(
                "backoff",
                "needs an initial delay above zero and a maximum not below it",
            );
        }
        Ok(())
    }
}

/// Exponential backoff with jitter: the n-th retry waits about
/// `initial * factor^(n-1)`, capped at `max`, each delay varied by up to
/// `jitter` (a fraction) either way so failing entities do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// The growth per retry.
    pub factor: f64,
    /// How much each delay is varied, as a fraction of it (0 to 1).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_secs(5),
            factor: 2.0,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let max = self.max.as_secs_f64();
        let base = (self.initial.as_secs_f64() * self.factor.max(1.0).powi(exponent)).min(max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let varied = base * (1.0 + jitter * (2.0 * fastrand::f64() - 1.0));
        Duration::from_secs_f64(varied.clamp(0.0, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_within_the_jitter() {
        let backoff = Backoff::default();
        for _ in 0..100 {
            let first = backoff.delay(1).as_secs_f64();
            assert!((0.008..=0.012).contains(&first), "{first}");
            let fourth = backoff.delay(4).as_secs_f64();
            assert!((0.064..=0.096).contains(&fourth), "{fourth}");
            let late = backoff.delay(40).as_secs_f64();
            assert!((4.0..=5.0).contains(&late), "{late}");
        }
    }

    #[test]
    fn every_entity_is_in_exactly_one_slice_and_slices_are_even() {
        let count = 4;
        let mut sizes = [0usize; 4];
        for n in 0..4000 {
            let id = format!("customer-{n}");
            let holders: Vec<u32> = (0..count)
                .filter(|&index| Slice { index, count }.contains("customers", &id))
                .collect();
            assert_eq!(holders.len(), 1, "{id} is in slices {holders:?}");
            sizes[holders[0] as usize] += 1;
        }
        assert!(
            sizes.iter().all(|&size| (800..=1200).contains(&size)),
            "{sizes:?}"
        );
        // The assignment is part of the storage format: it must never change.
        assert_eq!(slice_hash("customers", "customer-1"), 0x54e5_ef3b_fc1b_6bed);
    }

    #[test]
    fn zero_counts_are_rejected_with_the_field() {
        let mut config = ConsumerConfig::new("view", vec![]);
        assert!(config.validate().is_ok());
        config.concurrency = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("concurrency"), "{err}");
        let config = ConsumerConfig::new(" ", vec![]);
        assert!(config.validate().unwrap_err().to_string().contains("name"));
    }
}
