//! Command-line flags of `plinth-load` and their validation.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use super::scenario::{Op, Scenario, default_template};
use super::template::TemplateSpec;
use crate::target::Target;
use crate::{Error, Result};

/// Wire protocol of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// HTTP/1.1 with keep-alive, one request in flight per connection.
    Http1,
    /// HTTP/2 over cleartext TCP (prior knowledge), requests multiplexed.
    H2c,
    /// gRPC (HTTP/2), unary calls multiplexed.
    Grpc,
}

/// How requests are issued.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Mode {
    /// `concurrency` workers, each sending its next request as soon as the previous one answered.
    Closed,
    /// A fixed arrival rate; latency counts from each request's intended send time.
    Open {
        /// Requests per second.
        rate: f64,
    },
}

/// Longest accepted run phase, so that every run ends by itself.
const MAX_PHASE: Duration = Duration::from_secs(3600);

/// Most targets of one run.
const MAX_TARGETS: usize = 64;

/// Flags of `plinth-load`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "plinth-load",
    about = "Load generator for Plinth and its reference services (loopback only)"
)]
pub struct LoadArgs {
    /// Target origin, e.g. http://127.0.0.1:8080 (loopback addresses only). Repeat the flag or
    /// give a comma-separated list to spread the requests round-robin over several processes.
    #[arg(long, required = true, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Wire protocol.
    #[arg(long, value_enum, default_value = "http1")]
    pub transport: Transport,
    /// Workload.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Number of distinct entity ids (default 10,000; 1 for `hot`).
    #[arg(long)]
    pub ids: Option<u64>,
    /// Payload size in bytes (`{payload}` in templates); 550 as in Akka's published benchmarks.
    #[arg(long, default_value_t = 550)]
    pub payload_size: usize,
    /// Fraction of reads in the `mixed` scenario.
    #[arg(long, default_value_t = 0.75)]
    pub read_ratio: f64,
    /// Requests in flight (closed loop), or the most in flight (open loop).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// TCP connections for h2c and gRPC per target (default min(4, concurrency)); HTTP/1.1 uses
    /// one per worker and target.
    #[arg(long)]
    pub connections: Option<usize>,
    /// Open loop: requests per second. Without it the run is closed-loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Measured duration, e.g. `10s`, `500ms` (default 10s; with --count, an upper bound of 60s).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Warm-up before measuring, excluded from the results (default 2s; 0 with --count).
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Smoke mode: stop after this many measured requests; exit code 1 on any error.
    #[arg(long)]
    pub count: Option<u64>,
    /// Per-request timeout.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub timeout: Duration,
    /// Do not write every id before `read`/`mixed` runs (they must exist already).
    #[arg(long)]
    pub no_prefill: bool,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Name of the system under test, recorded in the results (e.g. `reference`, `plinth`).
    #[arg(long, default_value = "unnamed")]
    pub label: String,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seed of the id/operation random streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Prefix of generated ids (`c` gives `c000042`).
    #[arg(long, default_value = "c")]
    pub id_prefix: String,
    /// Tokio worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// HTTP method of writes.
    #[arg(long)]
    pub write_method: Option<String>,
    /// Path of writes: URL path, or `/package.Service/Method` for gRPC.
    #[arg(long)]
    pub write_path: Option<String>,
    /// Body of writes: JSON, or protobuf JSON of the method's input for gRPC.
    #[arg(long)]
    pub write_body: Option<String>,
    /// Path of reads.
    #[arg(long)]
    pub read_path: Option<String>,
    /// Body of reads (gRPC: the request message as JSON).
    #[arg(long)]
    pub read_body: Option<String>,
    /// HTTP method of event-sourced commands.
    #[arg(long)]
    pub event_method: Option<String>,
    /// Path of event-sourced commands.
    #[arg(long)]
    pub event_path: Option<String>,
    /// Body of event-sourced commands.
    #[arg(long)]
    pub event_body: Option<String>,
    /// Path of echo requests.
    #[arg(long)]
    pub echo_path: Option<String>,
    /// Body of echo requests.
    #[arg(long)]
    pub echo_body: Option<String>,
    /// Extra .proto files defining the gRPC methods named in templates (compiled with protox).
    #[arg(long)]
    pub proto: Vec<PathBuf>,
    /// Include directories for --proto.
    #[arg(long)]
    pub include: Vec<PathBuf>,
}

/// Parses `10`, `10s`, `250ms`, `1.5s`, `2m` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 10s, 500ms, 2m)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{text}` must be a non-negative duration"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// A validated run configuration.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The loopback targets; requests go to them round-robin (at least one).
    pub targets: Vec<Target>,
    /// Wire protocol.
    pub transport: Transport,
    /// Workload.
    pub scenario: Scenario,
    /// Distinct ids.
    pub ids: u64,
    /// Payload size in bytes.
    pub payload_size: usize,
    /// Fraction of reads (mixed).
    pub read_ratio: f64,
    /// Workers (requests in flight at most).
    pub concurrency: usize,
    /// TCP connections.
    pub connections: usize,
    /// Closed or open loop.
    pub mode: Mode,
    /// Measured duration (an upper bound in count mode).
    pub duration: Duration,
    /// Warm-up, excluded from the results.
    pub warmup: Duration,
    /// Measured request count (smoke mode).
    pub count: Option<u64>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Whether to write every id first.
    pub prefill: bool,
    /// JSON output file.
    pub json: Option<PathBuf>,
    /// Name of the system under test.
    pub label: String,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Random seed.
    pub seed: u64,
    /// Id prefix.
    pub id_prefix: String,
    /// Generator threads.
    pub threads: usize,
    /// Templates of the operations in use (the write template is always present for prefill).
    pub templates: Vec<(Op, TemplateSpec)>,
    /// Extra protos.
    pub protos: Vec<PathBuf>,
    /// Include directories for `protos`.
    pub includes: Vec<PathBuf>,
}

impl LoadArgs {
    /// Validates the flags.
    pub fn into_config(self) -> Result<LoadConfig> {
        let bad = |m: String| Err(Error::Config(m));
        let targets = self
            .target
            .iter()
            .map(|t| Target::parse(t.trim()))
            .collect::<Result<Vec<_>>>()?;
        if targets.is_empty() || targets.len() > MAX_TARGETS {
            return bad(format!(
                "--target: give 1..={MAX_TARGETS} targets, not {}",
                targets.len()
            ));
        }
        if self.concurrency == 0 || self.concurrency > 10_000 {
            return bad(format!(
                "--concurrency {} must be in 1..=10000",
                self.concurrency
            ));
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return bad(format!("--read-ratio {} must be in 0..=1", self.read_ratio));
        }
        if self.payload_size > 16 << 20 {
            return bad(format!(
                "--payload-size {} must be at most 16 MiB",
                self.payload_size
            ));
        }
        if self.threads == 0 || self.threads > 64 {
            return bad(format!("--threads {} must be in 1..=64", self.threads));
        }
        let ids = self.ids.unwrap_or(self.scenario.default_ids());
        if ids == 0 || ids > 100_000_000 {
            return bad(format!("--ids {ids} must be in 1..=100000000"));
        }
        let connections = match self.transport {
            Transport::Http1 => {
                if self.connections.is_some_and(|c| c != self.concurrency) {
                    return bad("HTTP/1.1 uses one connection per request in flight: --connections must equal --concurrency or be left out".into());
                }
                self.concurrency
            }
            _ => self.connections.unwrap_or(self.concurrency.min(4)),
        };
        if connections == 0 || connections > self.concurrency {
            return bad(format!(
                "--connections {connections} must be in 1..=concurrency"
            ));
        }
        let mode = match self.rate {
            None => Mode::Closed,
            Some(rate) if rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0 => {
                Mode::Open { rate }
            }
            Some(rate) => return bad(format!("--rate {rate} must be in (0, 10000000]")),
        };
        if let Some(count) = self.count
            && (count == 0 || count > 100_000_000)
        {
            return bad(format!("--count {count} must be in 1..=100000000"));
        }
        let default_duration = if self.count.is_some() { 60 } else { 10 };
        let duration = self
            .duration
            .unwrap_or(Duration::from_secs(default_duration));
        let warmup = self.warmup.unwrap_or(if self.count.is_some() {
            Duration::ZERO
        } else {
            Duration::from_secs(2)
        });
        if duration.is_zero() || duration > MAX_PHASE || warmup > MAX_PHASE {
            return bad("--duration must be in (0, 1h] and --warmup at most 1h".into());
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(300) {
            return bad("--timeout must be in (0, 300s]".into());
        }
        let prefill = self.scenario.needs_prefill() && !self.no_prefill;
        let mut ops: Vec<Op> = self.scenario.ops().to_vec();
        if prefill && !ops.contains(&Op::Write) {
            ops.push(Op::Write);
        }
        let templates = ops
            .into_iter()
            .map(|op| {
                let (method, path, body) = default_template(op, self.transport);
                let (m, p, b) = match op {
                    Op::Write => (&self.write_method, &self.write_path, &self.write_body),
                    Op::Read => (&None, &self.read_path, &self.read_body),
                    Op::Event => (&self.event_method, &self.event_path, &self.event_body),
                    Op::Echo => (&None, &self.echo_path, &self.echo_body),
                };
                let spec = TemplateSpec {
                    method: m.clone().unwrap_or_else(|| method.to_string()),
                    path: p.clone().unwrap_or_else(|| path.to_string()),
                    body: b.clone().or_else(|| body.map(str::to_string)),
                };
                (op, spec)
            })
            .collect();
        Ok(LoadConfig {
            targets,
            transport: self.transport,
            scenario: self.scenario,
            ids,
            payload_size: self.payload_size,
            read_ratio: self.read_ratio,
            concurrency: self.concurrency,
            connections,
            mode,
            duration,
            warmup,
            count: self.count,
            timeout: self.timeout,
            prefill,
            json: self.json,
            label: self.label,
            progress: !self.quiet,
            seed: self.seed,
            id_prefix: self.id_prefix,
            threads: self.threads,
            templates,
            protos: self.proto,
            includes: self.include,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<LoadConfig> {
        let mut v = vec!["plinth-load", "--target", "http://127.0.0.1:9"];
        v.extend_from_slice(extra);
        LoadArgs::try_parse_from(v)
            .map_err(|e| Error::Config(e.to_string()))?
            .into_config()
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn defaults_follow_the_scenario() {
        let c = args(&["--scenario", "mixed"]).unwrap();
        assert_eq!(c.ids, 10_000);
        assert!(c.prefill);
        assert_eq!(c.mode, Mode::Closed);
        assert_eq!(c.warmup, Duration::from_secs(2));
        let ops: Vec<Op> = c.templates.iter().map(|t| t.0).collect();
        assert_eq!(ops, [Op::Read, Op::Write]);
        let hot = args(&["--scenario", "hot", "--count", "10"]).unwrap();
        assert_eq!(hot.ids, 1);
        assert_eq!(hot.warmup, Duration::ZERO);
        let read = args(&["--scenario", "read", "--transport", "grpc"]).unwrap();
        assert_eq!(read.templates[1].1.path, "/bench.CustomerService/Upsert");
        assert_eq!(read.connections, 4);
    }

    #[test]
    fn several_targets_are_accepted_repeated_or_comma_separated() {
        let one = args(&["--scenario", "write"]).unwrap();
        assert_eq!(one.targets.len(), 1);
        let c = args(&[
            "--scenario",
            "write",
            "--target",
            "http://127.0.0.1:10,http://127.0.0.1:11",
            "--target",
            "http://localhost:12",
        ])
        .unwrap();
        let ports: Vec<u16> = c.targets.iter().map(|t| t.addr.port()).collect();
        assert_eq!(ports, [9, 10, 11, 12]);
        // Every one of them must be loopback.
        assert!(matches!(
            args(&[
                "--scenario",
                "write",
                "--target",
                "http://127.0.0.1:10,http://10.0.0.1:11"
            ]),
            Err(Error::NotLoopback(_))
        ));
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        assert!(args(&["--scenario", "write", "--connections", "2"]).is_err());
        assert!(args(&["--scenario", "write", "--rate", "0"]).is_err());
        assert!(args(&["--scenario", "write", "--concurrency", "0"]).is_err());
        assert!(args(&["--scenario", "write", "--read-ratio", "2"]).is_err());
        assert!(args(&["--scenario", "write", "--duration", "2h"]).is_err());
        let far = LoadArgs::try_parse_from([
            "plinth-load",
            "--target",
            "http://10.1.2.3:80",
            "--scenario",
            "read",
        ]);
        assert!(matches!(
            far.unwrap().into_config(),
            Err(Error::NotLoopback(_))
        ));
    }
}
