//! Helpers shared by the smoke tests: servers as child processes on ephemeral loopback ports,
//! and one `plinth-load` smoke run checked on counts and errors.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use plinth_bench::load::Report;

/// Measured requests of every smoke run.
pub const COUNT: u64 = 200;

/// A server under test: a child process (killed on drop) or an in-process Plinth service.
pub struct Server {
    /// The child process, if the server is one.
    pub child: Option<Child>,
    /// HTTP origin.
    pub http: String,
    /// gRPC origin.
    pub grpc: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `binary --http 127.0.0.1:0 --grpc 127.0.0.1:0 --workers 1 EXTRA` and reads its ports.
pub fn start(binary: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(binary)
        .args([
            "--http",
            "127.0.0.1:0",
            "--grpc",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {binary}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut addr = |name: &str| {
        let line = lines
            .next()
            .expect("a listening line")
            .expect("readable stdout");
        let prefix = format!("listening {name}=");
        let addr = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("unexpected line `{line}`"));
        format!("http://{addr}")
    };
    let http = addr("http");
    let grpc = addr("grpc");
    Server {
        child: Some(child),
        http,
        grpc,
    }
}

/// Runs `plinth-load` with `args`.
pub fn load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth-load"))
        .args(args)
        .output()
        .expect("run plinth-load")
}

/// Runs one smoke scenario and checks its JSON report.
pub fn smoke(
    server: &Server,
    label: &str,
    transport: &str,
    scenario: &str,
    dir: &Path,
) -> Result<Report, String> {
    let target = if transport == "grpc" {
        &server.grpc
    } else {
        &server.http
    };
    let json = dir.join(format!("{label}-{transport}-{scenario}.load.json"));
    let count = COUNT.to_string();
    let out = load(&[
        "--target",
        target,
        "--transport",
        transport,
        "--scenario",
        scenario,
        "--count",
        &count,
        "--ids",
        "100",
        "--concurrency",
        "8",
        "--connections",
        if transport == "http1" { "8" } else { "2" },
        "--quiet",
        "--label",
        label,
        "--json",
        json.to_str().expect("utf-8 path"),
    ]);
    let context = || {
        format!(
            "{label} {transport} {scenario}: status {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    if !out.status.success() {
        return Err(context());
    }
    let report: Report = serde_json::from_str(
        &std::fs::read_to_string(&json).map_err(|e| format!("{e}: {}", context()))?,
    )
    .map_err(|e| format!("{e}: {}", context()))?;
    let per_op: u64 = report.ops.iter().map(|o| o.ok).sum();
    let checks = [
        (report.errors == 0, "errors"),
        (report.requests == COUNT, "requests == count"),
        (report.ok == COUNT, "ok == count"),
        (report.latency.count == COUNT, "histogram count == count"),
        (per_op == COUNT, "per-operation counts add up"),
        (
            report.latency.p50_ms > 0.0 && report.latency.p50_ms <= report.latency.max_ms,
            "percentiles ordered",
        ),
        (report.throughput_rps > 0.0, "throughput positive"),
        (
            report.label == label && report.scenario == scenario && report.transport == transport,
            "labels",
        ),
    ];
    for (ok, what) in checks {
        if !ok {
            return Err(format!("{what} failed: {report:?}\n{}", context()));
        }
    }
    Ok(report)
}
