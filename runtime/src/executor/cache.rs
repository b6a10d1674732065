//! The bounded cache of active entities: one slot per entity id, holding the
//! entity's loaded state behind a FIFO async lock. Holding the lock is what
//! makes commands to one id serial; different ids lock different slots and run
//! in parallel. Slots nobody is using are passivated, least recently used first,
//! when a shard is full.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One entity's slot: `None` until its state is loaded (or after a failure made
/// the cached copy untrustworthy).
pub(crate) type EntityCell<L> = Arc<tokio::sync::Mutex<Option<L>>>;

const SHARDS: usize = 32;

/// One shard: entity id → slot.
type Shard<L> = Mutex<HashMap<String, Slot<L>>>;

struct Slot<L> {
    cell: EntityCell<L>,
    last_used: u64,
}

/// The active entities of one component.
pub(crate) struct EntityCache<L> {
    shards: Box<[Shard<L>]>,
    per_shard_capacity: usize,
    clock: AtomicU64,
    /// The active entities, summed over every cache sharing the gauge.
    gauge: Arc<AtomicI64>,
}

impl<L> EntityCache<L> {
    /// A cache keeping about `capacity` entities in memory.
    #[cfg(test)]
    pub(crate) fn new(capacity: usize) -> EntityCache<L> {
        EntityCache::with_gauge(capacity, Arc::default())
    }

    /// A cache keeping about `capacity` entities in memory, counting them
    /// in `gauge` (shared by the caches of a service, for the metrics).
    pub(crate) fn with_gauge(capacity: usize, gauge: Arc<AtomicI64>) -> EntityCache<L> {
        EntityCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard_capacity: capacity.div_ceil(SHARDS).max(1),
            clock: AtomicU64::new(0),
            gauge,
        }
    }

    /// The slot of entity `id`, created empty if the entity is not active.
    ///
    /// Slots are cloned only here, under the shard lock, so a slot whose only
    /// owner is the map is provably idle and may be dropped.
    pub(crate) fn checkout(&self, id: &str) -> EntityCell<L> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut shard = self
            .shard(id)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = shard.get_mut(id) {
            slot.last_used = tick;
            return slot.cell.clone();
        }
        if shard.len() >= self.per_shard_capacity {
            let dropped = passivate_idle(&mut shard, self.per_shard_capacity);
            self.gauge.fetch_sub(dropped as i64, Ordering::Relaxed);
        }
        self.gauge.fetch_add(1, Ordering::Relaxed);
        let cell: EntityCell<L> = Arc::new(tokio::sync::Mutex::new(None));
        shard.insert(
            id.to_string(),
            Slot {
                cell: cell.clone(),
                last_used: tick,
            },
        );
        cell
    }

    /// The number of active entities.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .len()
            })
            .sum()
    }

    fn shard(&self, id: &str) -> &Shard<L> {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % SHARDS]
    }
}

/// Drop the least recently used idle slots of a full shard: enough to make room
/// for one more, and at least an eighth of the shard so this runs rarely. Busy slots (someone holds or waits for them) stay; if all are
/// busy the shard grows past its capacity until they finish, which the
/// service's concurrency limit bounds. Returns how many were dropped.
fn passivate_idle<L>(shard: &mut HashMap<String, Slot<L>>, capacity: usize) -> usize {
    let mut idle: Vec<(u64, String)> = shard
        .iter()
        .filter(|(_, slot)| Arc::strong_count(&slot.cell) == 1)
        .map(|(id, slot)| (slot.last_used, id.clone()))
        .collect();
    if idle.is_empty() {
        return 0;
    }
    let count = (shard.len() + 1)
        .saturating_sub(capacity)
        .max(shard.len() / 8)
        .clamp(1, idle.len());
    idle.select_nth_unstable(count - 1);
    for (_, id) in idle.into_iter().take(count) {
        shard.remove(&id);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_id_shares_one_slot() {
        let cache: EntityCache<u32> = EntityCache::new(10);
        let a = cache.checkout("a");
        let again = cache.checkout("a");
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_gauge_follows_checkouts_and_passivation() {
        let gauge = Arc::new(AtomicI64::new(0));
        let cache: EntityCache<u32> = EntityCache::with_gauge(SHARDS, gauge.clone());
        for i in 0..500 {
            cache.checkout(&format!("e{i}"));
        }
        assert_eq!(gauge.load(Ordering::Relaxed), cache.len() as i64);
        assert!(cache.len() < 500, "idle entities were passivated");
    }

    #[test]
    fn idle_entities_are_passivated_and_busy_ones_kept() {
        let cache: EntityCache<u32> = EntityCache::new(SHARDS);
        let busy: Vec<_> = (0..200)
            .map(|i| cache.checkout(&format!("busy-{i}")))
            .collect();
        assert_eq!(cache.len(), 200, "busy slots are never dropped");
        drop(busy);
        for i in 0..2000 {
            drop(cache.checkout(&format!("idle-{i}")));
        }
        assert!(
            cache.len() <= 2 * SHARDS,
            "cache stays bounded, has {}",
            cache.len()
        );
    }
}
