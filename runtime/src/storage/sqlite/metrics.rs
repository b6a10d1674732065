//! The writer's metrics on `GET /_plinth/metrics`: committed transactions
//! and writes (`plinth_storage_transactions_total`,
//! `plinth_storage_writes_total`) and the histogram of writes per committed
//! transaction, `plinth_storage_write_batch_size` — how well group commit
//! is grouping (one fsync per transaction).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::writer::Counters;

/// The histogram's upper bounds, in writes per transaction.
const BOUNDS: [usize; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/// Transactions by their number of writes (not cumulative; summed when
/// rendered), and over the last bound.
#[derive(Debug, Default)]
pub(super) struct BatchSizes {
    buckets: [AtomicU64; BOUNDS.len()],
    over: AtomicU64,
}

impl BatchSizes {
    /// Count one committed transaction of `size` writes.
    pub(super) fn record(&self, size: usize) {
        match BOUNDS.iter().position(|bound| size <= *bound) {
            Some(bucket) => self.buckets[bucket].fetch_add(1, Ordering::Relaxed),
            None => self.over.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The writer's metrics in the Prometheus text format.
pub(super) fn metrics_text(counters: &Counters, out: &mut String) {
    let load = |value: &AtomicU64| value.load(Ordering::Relaxed);
    let (transactions, writes) = (load(&counters.transactions), load(&counters.writes));
    let _ = writeln!(
        out,
        "# HELP plinth_storage_transactions_total Transactions the SQLite writer committed (one fsync each).\n\
         # TYPE plinth_storage_transactions_total counter\n\
         plinth_storage_transactions_total {transactions}\n\
         # HELP plinth_storage_writes_total Writes the SQLite writer committed.\n\
         # TYPE plinth_storage_writes_total counter\n\
         plinth_storage_writes_total {writes}"
    );
    let name = "plinth_storage_write_batch_size";
    let _ = writeln!(
        out,
        "# HELP {name} Writes per committed transaction (group commit).\n# TYPE {name} histogram"
    );
    let sizes = &counters.batch_sizes;
    let mut cumulative = 0;
    for (bound, count) in BOUNDS.iter().zip(&sizes.buckets) {
        cumulative += load(count);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += load(&sizes.over);
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {}\n{name}_count {cumulative}",
        load(&counters.writes) + load(&counters.failed)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_are_a_cumulative_histogram() {
        let counters = Counters::default();
        for size in [1, 1, 3, 50, 1000] {
            counters.batch_sizes.record(size);
        }
        let mut text = String::new();
        metrics_text(&counters, &mut text);
        for line in [
            "plinth_storage_write_batch_size_bucket{le=\"1\"} 2",
            "plinth_storage_write_batch_size_bucket{le=\"4\"} 3",
            "plinth_storage_write_batch_size_bucket{le=\"64\"} 4",
            "plinth_storage_write_batch_size_bucket{le=\"256\"} 4",
            "plinth_storage_write_batch_size_bucket{le=\"+Inf\"} 5",
            "plinth_storage_write_batch_size_count 5",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in:\n{text}");
        }
    }
}
