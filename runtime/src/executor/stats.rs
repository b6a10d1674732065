//! Counters of the entity executor, exported on `GET /_plinth/metrics`:
//! `plinth_entity_commands_total` (commands run) and
//! `plinth_entity_conflict_retries_total` (commands run again on fresh state
//! after losing a sequence race to another writer, which happens only when
//! several processes share a storage), and the gauge
//! `plinth_entity_cached` (entities held in memory).

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The executor's counters, shared by every entity component of a service.
#[derive(Debug, Default)]
pub(crate) struct ExecutorStats {
    commands: AtomicU64,
    conflict_retries: AtomicU64,
    cached: Arc<AtomicI64>,
}

impl ExecutorStats {
    /// Count one command.
    pub(crate) fn command(&self) {
        self.commands.fetch_add(1, Ordering::Relaxed);
    }

    /// Count one retry after a sequence conflict.
    pub(crate) fn conflict_retry(&self) {
        self.conflict_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The gauge every entity cache counts its entities in.
    pub(crate) fn cached_gauge(&self) -> Arc<AtomicI64> {
        self.cached.clone()
    }

    /// The counters in the Prometheus text format.
    pub(crate) fn metrics_text(&self, out: &mut String) {
        let families = [
            (
                "plinth_entity_commands_total",
                "Entity commands run since the start.",
                &self.commands,
            ),
            (
                "plinth_entity_conflict_retries_total",
                "Entity commands run again on fresh state after a sequence conflict.",
                &self.conflict_retries,
            ),
        ];
        for (name, help, value) in families {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP plinth_entity_cached Entities held in memory.\n# TYPE plinth_entity_cached gauge\nplinth_entity_cached {}",
            self.cached.load(Ordering::Relaxed).max(0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_metrics_text() {
        let stats = ExecutorStats::default();
        stats.command();
        stats.command();
        stats.conflict_retry();
        let mut text = String::new();
        stats.metrics_text(&mut text);
        assert!(
            text.contains("\nplinth_entity_commands_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("\nplinth_entity_conflict_retries_total 1\n"),
            "{text}"
        );
        stats.cached_gauge().fetch_add(3, Ordering::Relaxed);
        let mut text = String::new();
        stats.metrics_text(&mut text);
        assert!(text.contains("\nplinth_entity_cached 3\n"), "{text}");
    }
}
