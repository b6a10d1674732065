//! `bench-tool`: readiness probe, cold-start timing and result summaries for `bench/run.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use plinth_bench::load::Transport;
use plinth_bench::load::config::parse_duration;
use plinth_bench::probe::{Probe, cold_start};
use plinth_bench::summary::summarize;
use plinth_bench::target::Target;
use plinth_bench::{Error, Result};

/// Flags of `bench-tool`.
#[derive(Debug, Parser)]
#[command(
    name = "bench-tool",
    about = "Probes, cold start and summaries for Plinth benchmarks"
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

/// Where and how to probe.
#[derive(Debug, clap::Args)]
struct ProbeArgs {
    /// Target origin (loopback only).
    #[arg(long)]
    target: String,
    /// Probe protocol (`http1` and `h2c` both probe with HTTP/1.1).
    #[arg(long, value_enum, default_value = "http1")]
    transport: Transport,
    /// URL path, or `/package.Service/Method` for gRPC (default: a customer read).
    #[arg(long)]
    path: Option<String>,
    /// Give up after this long.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Wait until the target answers a request; prints the wait in milliseconds.
    Ready(ProbeArgs),
    /// Spawn a server, print milliseconds from spawn to its first answered request, stop it.
    Coldstart {
        #[command(flatten)]
        probe: ProbeArgs,
        /// The server command line.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Print medians and ratios of a results directory; writes summary.json and summary.md there.
    Summarize {
        /// Directory of `*.load.json` and `*.metric.json` files.
        dir: PathBuf,
        /// Label that ratios are relative to.
        #[arg(long, default_value = "reference")]
        reference: String,
        /// Label of the RPC ceiling.
        #[arg(long, default_value = "echo")]
        ceiling: String,
    },
}

fn probe(args: &ProbeArgs) -> Result<Probe> {
    Ok(Probe {
        target: Target::parse(&args.target)?,
        transport: args.transport,
        path: args
            .path
            .clone()
            .unwrap_or_else(|| Probe::default_path(args.transport).to_string()),
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn run(args: Args) -> Result<()> {
    match args.command {
        Cmd::Ready(p) => {
            let waited = runtime()?.block_on(probe(&p)?.wait(p.timeout))?;
            println!("{:.1}", waited.as_secs_f64() * 1e3);
        }
        Cmd::Coldstart { probe: p, command } => {
            let probe = probe(&p)?;
            // The port must be free before spawning, or the probe would reach another server.
            if std::net::TcpStream::connect_timeout(&probe.target.addr, Duration::from_millis(200))
                .is_ok()
            {
                return Err(Error::Config(format!(
                    "{} is already in use",
                    probe.target.base
                )));
            }
            let (took, mut child) = runtime()?.block_on(cold_start(&command, &probe, p.timeout))?;
            let _ = child.kill();
            let _ = child.wait();
            println!("{:.1}", took.as_secs_f64() * 1e3);
        }
        Cmd::Summarize {
            dir,
            reference,
            ceiling,
        } => {
            let summary = summarize(&dir, &reference, &ceiling)?;
            let markdown = summary.markdown();
            let write = |name: &str, text: String| {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|source| Error::File { path, source })
            };
            write(
                "summary.json",
                serde_json::to_string_pretty(&summary)? + "\n",
            )?;
            write("summary.md", markdown.clone())?;
            print!("{markdown}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-tool: {e}");
            ExitCode::FAILURE
        }
    }
}
