//! Smoke runs of every scenario against the reference server (both commit strategies) and the
//! echo server (child processes), and against the Plinth benchmark service (started in the test
//! process on real sockets and a real SQLite file), over HTTP/1.1, h2c and gRPC on ephemeral
//! loopback ports. Assertions are on counts and errors only, never on timings.

mod common;

use std::process::Command;

use common::{COUNT, Server, load, smoke, start};
use plinth_bench::load::Report;

#[test]
fn every_scenario_runs_clean_against_reference_and_echo() {
    let dir = tempfile::tempdir().unwrap();
    let direct = start(
        env!("CARGO_BIN_EXE_reference-server"),
        &["--db", dir.path().join("direct.db").to_str().unwrap()],
    );
    let batching = start(
        env!("CARGO_BIN_EXE_reference-server"),
        &[
            "--db",
            dir.path().join("batching.db").to_str().unwrap(),
            "--batching",
        ],
    );
    let echo = start(env!("CARGO_BIN_EXE_echo-server"), &[]);
    let results = dir.path().join("results");
    std::fs::create_dir(&results).unwrap();

    let mut failures = Vec::new();
    let mut mixed = None;
    for transport in ["http1", "h2c", "grpc"] {
        for (server, label) in [
            (&direct, "reference"),
            (&batching, "reference-batching"),
            (&echo, "echo"),
        ] {
            for scenario in ["write", "read", "hot", "mixed", "event"] {
                match smoke(server, label, transport, scenario, &results) {
                    Ok(report) if scenario == "mixed" && label == "reference" => {
                        mixed = Some(report)
                    }
                    Ok(_) => {}
                    Err(e) => failures.push(e),
                }
            }
        }
        if let Err(e) = smoke(&echo, "echo", transport, "echo", &results) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing runs:\n{}",
        failures.len(),
        failures.join("\n\n")
    );

    // The mixed scenario issued both reads and writes, and prefilled first.
    let mixed = mixed.expect("mixed ran");
    let ops: Vec<&str> = mixed.ops.iter().map(|o| o.op.as_str()).collect();
    assert_eq!(ops, ["write", "read"]);
    assert!(mixed.prefill_s.is_some());

    // The summary sees every run and compares with the reference and the ceiling.
    let summary = plinth_bench::summary::summarize(&results, "reference", "echo").unwrap();
    assert_eq!(
        summary.rows.iter().map(|r| r.runs).sum::<usize>(),
        3 * (3 * 5 + 1)
    );
    let batched_write = summary
        .rows
        .iter()
        .find(|r| r.label == "reference-batching" && r.workload == "write grpc closed c8")
        .expect("batched gRPC write row");
    assert!(batched_write.vs_reference.is_some() && batched_write.vs_ceiling.is_some());
}

#[test]
fn every_scenario_runs_clean_against_plinth() {
    use plinth_bench_service::bench::{CustomerLogEntityComponent, CustomerRecordEntityComponent};
    use plinth_bench_service::{CustomerLog, CustomerRecord};

    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = plinth::Config::default()
        .with_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .with_sqlite(dir.path().join("plinth.db"));
    let service = runtime
        .block_on(
            plinth::Service::new()
                .with(CustomerRecordEntityComponent::new(CustomerRecord))
                .with(CustomerLogEntityComponent::new(CustomerLog))
                .config(config)
                .start(),
        )
        .expect("the Plinth service starts");
    // One port serves both gRPC and HTTP/JSON.
    let origin = format!("http://{}", service.local_addr());
    let server = Server {
        child: None,
        http: origin.clone(),
        grpc: origin,
    };
    let results = dir.path().join("results");
    std::fs::create_dir(&results).unwrap();
    let mut failures = Vec::new();
    for transport in ["http1", "h2c", "grpc"] {
        for scenario in ["write", "read", "hot", "mixed", "event"] {
            if let Err(e) = smoke(&server, "plinth", transport, scenario, &results) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing runs:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    let summary = plinth_bench::summary::summarize(&results, "reference", "echo").unwrap();
    assert_eq!(summary.rows.iter().map(|r| r.runs).sum::<usize>(), 3 * 5);
    runtime.block_on(service.shutdown());
}

#[test]
fn failures_exit_nonzero_and_far_targets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        env!("CARGO_BIN_EXE_reference-server"),
        &["--db", dir.path().join("r.db").to_str().unwrap()],
    );
    // Reads of ids that were never written fail with 404: smoke mode must exit 1.
    let out = load(&[
        "--target",
        &server.http,
        "--scenario",
        "read",
        "--no-prefill",
        "--count",
        "20",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("http 404"),
        "{out:?}"
    );
    let out = load(&[
        "--target",
        &server.grpc,
        "--transport",
        "grpc",
        "--scenario",
        "read",
        "--no-prefill",
        "--count",
        "20",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("grpc NotFound"),
        "{out:?}"
    );

    let out = load(&[
        "--target",
        "http://192.168.1.10:8080",
        "--scenario",
        "write",
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a loopback address"),
        "{out:?}"
    );

    // Servers refuse to listen anywhere but loopback.
    let out = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .args(["--http", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("loopback"),
        "{out:?}"
    );
}

#[test]
fn bench_tool_probes_and_times_cold_start() {
    let server = start(env!("CARGO_BIN_EXE_echo-server"), &[]);
    let tool = env!("CARGO_BIN_EXE_bench-tool");
    for (target, transport) in [(&server.http, "http1"), (&server.grpc, "grpc")] {
        let out = Command::new(tool)
            .args(["ready", "--target", target, "--transport", transport])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let ms: f64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("milliseconds");
        assert!(ms >= 0.0);
    }
    // Cold start on a port that is free: reserve one, release it, start the server there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let out = Command::new(tool)
        .args([
            "coldstart",
            "--target",
            &target,
            "--timeout",
            "60s",
            "--",
            env!("CARGO_BIN_EXE_echo-server"),
            "--http",
            &addr,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ms: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("milliseconds");
    assert!(ms > 0.0);
    // The server was stopped again: the port is free.
    assert!(std::net::TcpListener::bind(&addr).is_ok());
}

#[test]
fn requests_spread_round_robin_over_several_targets() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(
        env!("CARGO_BIN_EXE_reference-server"),
        &["--db", dir.path().join("a.db").to_str().unwrap()],
    );
    let b = start(
        env!("CARGO_BIN_EXE_reference-server"),
        &["--db", dir.path().join("b.db").to_str().unwrap()],
    );
    let count = COUNT.to_string();
    for transport in ["http1", "grpc"] {
        let (ta, tb) = if transport == "grpc" {
            (&a.grpc, &b.grpc)
        } else {
            (&a.http, &b.http)
        };
        let json = dir.path().join(format!("spread-{transport}.load.json"));
        // One flag repeated and a comma list mean the same.
        let both = format!("{ta},{tb}");
        let target_args: Vec<&str> = if transport == "grpc" {
            vec!["--target", &both]
        } else {
            vec!["--target", ta, "--target", tb]
        };
        let mut args = target_args;
        args.extend([
            "--transport",
            transport,
            "--scenario",
            "write",
            "--count",
            &count,
            "--ids",
            "100",
            "--concurrency",
            "8",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ]);
        let out = load(&args);
        assert!(out.status.success(), "{transport}: {out:?}");
        let report: Report =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(report.ok, COUNT, "{report:?}");
        let spread: Vec<(String, u64)> = report
            .targets
            .iter()
            .map(|t| (t.target.clone(), t.ok))
            .collect();
        assert_eq!(spread.len(), 2, "{report:?}");
        assert_eq!(spread[0].0, *ta);
        assert_eq!(spread[1].0, *tb);
        assert_eq!(spread[0].1 + spread[1].1, COUNT, "{spread:?}");
        // Every worker alternates, so the two differ by at most one request per worker.
        assert!(spread[0].1.abs_diff(spread[1].1) <= 8, "{spread:?}");
    }
}
