//! Per-method metrics, exported on `GET /_plinth/metrics`:
//! `plinth_method_calls_total{method, code}` (calls by their gRPC status
//! code) and the histogram `plinth_method_duration_seconds{method}` (time
//! to the reply, or to the start of a streamed reply). Every call that goes
//! through the dispatcher counts — the front doors', subscriptions' and the
//! schedule's deliveries. The methods are the service's own (fixed at
//! start), so the labels are bounded: a call of an unknown path is not
//! recorded.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::component::adapter::ActionReply;
use crate::component::info::ComponentInfo;
use crate::status::{Code, Status};

/// The histogram's upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Every gRPC status code, by number.
const CODES: usize = 17;

#[derive(Debug, Default)]
struct MethodStat {
    by_code: [AtomicU64; CODES],
    /// Calls at or under each bound (not cumulative; summed when rendered).
    buckets: [AtomicU64; BUCKETS.len()],
    /// Calls over the last bound.
    over: AtomicU64,
    sum_micros: AtomicU64,
}

/// The metrics of every method of a service.
#[derive(Debug, Default)]
pub(crate) struct MethodMetrics {
    methods: HashMap<&'static str, MethodStat>,
    /// The paths in declaration order, for a stable output.
    order: Vec<&'static str>,
}

impl MethodMetrics {
    /// Metrics for the methods of `components`.
    pub(crate) fn new(components: &[&'static ComponentInfo]) -> MethodMetrics {
        let mut metrics = MethodMetrics::default();
        for info in components {
            for method in info.methods {
                if metrics
                    .methods
                    .insert(method.path, MethodStat::default())
                    .is_none()
                {
                    metrics.order.push(method.path);
                }
            }
        }
        metrics
    }

    /// Record a call of `path` that ended with `code` after `took`.
    pub(crate) fn record(&self, path: &str, code: Code, took: Duration) {
        let Some(stat) = self.methods.get(path) else {
            return;
        };
        let index = usize::try_from(code as i32).unwrap_or(0).min(CODES - 1);
        stat.by_code[index].fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        match BUCKETS.iter().position(|bound| seconds <= *bound) {
            Some(bucket) => stat.buckets[bucket].fetch_add(1, Ordering::Relaxed),
            None => stat.over.fetch_add(1, Ordering::Relaxed),
        };
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        stat.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The metrics in the Prometheus text format.
    pub(crate) fn metrics_text(&self, out: &mut String) {
        let calls = "plinth_method_calls_total";
        let _ = writeln!(
            out,
            "# HELP {calls} Calls of each method, by gRPC status code.\n# TYPE {calls} counter"
        );
        for path in &self.order {
            let stat = &self.methods[path];
            for (number, count) in stat.by_code.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let code = Code::from_i32(number as i32).as_str();
                    let _ = writeln!(out, "{calls}{{method=\"{path}\",code=\"{code}\"}} {count}");
                }
            }
        }
        let duration = "plinth_method_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {duration} Time to each method's reply (or to the start of a streamed reply).\n# TYPE {duration} histogram"
        );
        for path in &self.order {
            let stat = &self.methods[path];
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(&stat.buckets) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{duration}_bucket{{method=\"{path}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += stat.over.load(Ordering::Relaxed);
            let sum = stat.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "{duration}_bucket{{method=\"{path}\",le=\"+Inf\"}} {cumulative}\n\
                 {duration}_sum{{method=\"{path}\"}} {sum}\n\
                 {duration}_count{{method=\"{path}\"}} {cumulative}"
            );
        }
    }
}

/// `call` of `path`, recorded in `metrics` when it ends (a streamed reply:
/// when it starts).
pub(crate) fn timed(
    metrics: &Arc<MethodMetrics>,
    path: &str,
    call: BoxFuture<'static, Result<ActionReply, Status>>,
) -> BoxFuture<'static, Result<ActionReply, Status>> {
    let started = Instant::now();
    let metrics = metrics.clone();
    let path = path.to_owned();
    async move {
        let reply = call.await;
        let code = match &reply {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        metrics.record(&path, code, started.elapsed());
        reply
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_code_and_timed_in_buckets() {
        let mut metrics = MethodMetrics::default();
        metrics.methods.insert("/x.S/A", MethodStat::default());
        metrics.order.push("/x.S/A");
        metrics.record("/x.S/A", Code::Ok, Duration::from_micros(300));
        metrics.record("/x.S/A", Code::Ok, Duration::from_millis(20));
        metrics.record("/x.S/A", Code::NotFound, Duration::from_secs(9));
        metrics.record("/x.S/Unknown", Code::Ok, Duration::ZERO);
        let mut text = String::new();
        metrics.metrics_text(&mut text);
        let ok = Code::Ok.as_str();
        let not_found = Code::NotFound.as_str();
        for line in [
            format!("plinth_method_calls_total{{method=\"/x.S/A\",code=\"{ok}\"}} 2"),
            format!("plinth_method_calls_total{{method=\"/x.S/A\",code=\"{not_found}\"}} 1"),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"0.0005\"} 1".to_owned(),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"0.025\"} 2".to_owned(),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"5\"} 2".to_owned(),
            "plinth_method_duration_seconds_bucket{method=\"/x.S/A\",le=\"+Inf\"} 3".to_owned(),
            "plinth_method_duration_seconds_count{method=\"/x.S/A\"} 3".to_owned(),
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in:\n{text}");
        }
        assert!(!text.contains("Unknown"), "{text}");
        assert!(text.contains("plinth_method_duration_seconds_sum{method=\"/x.S/A\"} 9.0203"));
    }
}
