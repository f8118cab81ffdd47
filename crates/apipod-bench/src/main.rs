//! `apipod-bench`: measures the SDK's client overhead (B1), polling efficiency (B2), scale
//! (B3), downloads (B4), the mock's capacity (B5) and build times (B6, opt-in with
//! `--build`), prints each figure next to its target and writes a JSON report.
//!
//! Every benchmark runs in a fresh child process of this binary, so memory figures are not
//! polluted by earlier benchmarks; servers run in further child processes. All traffic
//! stays on 127.0.0.1. Build with `--release` for meaningful numbers:
//!
//! ```text
//! cargo run --release -p apipod-bench -- [--only b1,b3] [--build] [--quick] [--rounds N] [--report PATH]
//! ```

mod benches;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::Context;
use apipod_bench::report::{BenchResult, Figure, merge_rounds, table};
use apipod_bench::servers::{ServeArgs, serve_child};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "apipod-bench",
    about = "Benchmarks of the apipod SDK and mock server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Clone, Debug)]
struct RunArgs {
    /// Benchmarks to run, comma-separated (b1, b1i, b2, b3, b4, b5, b6, b7; b1i is B1's
    /// instructions per call by layer, counted once with callgrind; b1l is B1's breakdown of
    /// client CPU by layer alone). Default: all but b6, which --build adds.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also run B6, the (slow) build-time benchmark.
    #[arg(long)]
    build: bool,
    /// Small sizes: a smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON report (default: <target dir>/bench-report.json).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Tasks waited on at once in B3.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Size of the B4 download, MiB.
    #[arg(long, default_value_t = 1024)]
    download_mib: u64,
    /// Rounds of each benchmark (each in a fresh process): targets are judged on the median
    /// round and the spread is reported. B6 (the build) and B7 (minutes of whole-system
    /// runs with Redis and worker processes) run once unless --rounds-all is given.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=15))]
    rounds: u32,
    /// Also repeat B6 and B7 for every round.
    #[arg(long)]
    rounds_all: bool,
    /// Which round this child runs (seeds the simulations differently per round).
    #[arg(long, default_value_t = 0, hide = true)]
    round: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs one benchmark and prints `RESULT <json>` (used by the parent process).
    #[command(hide = true)]
    Run {
        /// b1 .. b6.
        bench: String,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Runs a server child (used by the benchmarks).
    #[command(hide = true)]
    Serve(ServeArgs),
}

fn default_report() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| benches::workspace_root().join("target"));
    target.join("bench-report.json")
}

fn child_args(args: &RunArgs, round: u32) -> Vec<String> {
    let mut out = vec![
        "--round".to_string(),
        round.to_string(),
        "--tasks".into(),
        args.tasks.to_string(),
        "--download-mib".into(),
        args.download_mib.to_string(),
    ];
    if args.quick {
        out.push("--quick".into());
    }
    out
}

/// Runs one benchmark in a child process and collects its result.
fn run_child(bench: &str, args: &RunArgs, round: u32) -> anyhow::Result<BenchResult> {
    let exe = std::env::current_exe()?;
    // Benchmarks of a client against a server pin the client here (the servers pin
    // themselves to the other core); whole-system ones run unpinned.
    let measured_pair = matches!(bench, "b1" | "b1l" | "b3" | "b4" | "b5");
    let mut child = if measured_pair {
        apipod_bench::pin::command(exe, apipod_bench::pin::Role::Client)
    } else {
        Command::new(exe)
    };
    let mut child = child
        .arg("run")
        .arg(bench)
        .args(child_args(args, round))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the benchmark child process")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut result = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        match line.strip_prefix("RESULT ") {
            Some(json) => result = Some(serde_json::from_str(json)?),
            None => eprintln!("{line}"),
        }
    }
    let status = child.wait()?;
    match result {
        Some(r) if status.success() => Ok(r),
        _ => anyhow::bail!("benchmark {bench} failed ({status})"),
    }
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": cpu,
        "kernel": kernel,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "optimized_build": !cfg!(debug_assertions),
        "pinning": apipod_bench::pin::describe(),
    })
}

/// Runs `bench` for its rounds, each in a fresh child, and merges them: figures judged on
/// the median round, every round's details kept.
fn run_rounds(bench: &str, args: &RunArgs) -> anyhow::Result<BenchResult> {
    // B1i counts instructions, which repeat exactly: one round is all there is.
    let rounds = if bench == "b1i" || (matches!(bench, "b6" | "b7") && !args.rounds_all) {
        1
    } else {
        args.rounds
    };
    let mut results = Vec::new();
    for round in 0..rounds {
        if rounds > 1 {
            eprintln!(
                "-- {} round {} of {rounds} --",
                bench.to_uppercase(),
                round + 1
            );
        }
        results.push(run_child(bench, args, round)?);
    }
    let figures: Vec<Vec<Figure>> = results.iter().map(|r| r.figures.clone()).collect();
    let first = results.first().cloned().unwrap_or_default();
    Ok(BenchResult {
        figures: merge_rounds(&figures),
        details: serde_json::json!({
            "rounds": results.len(),
            "per_round": results.iter().map(|r| r.details.clone()).collect::<Vec<_>>(),
        }),
        seconds: results.iter().map(|r| r.seconds).sum(),
        ..first
    })
}

fn orchestrate(args: RunArgs) -> anyhow::Result<bool> {
    let mut selected: Vec<String> = if args.only.is_empty() {
        ["b1", "b1i", "b2", "b3", "b4", "b5", "b7"]
            .map(String::from)
            .to_vec()
    } else {
        args.only.iter().map(|s| s.trim().to_lowercase()).collect()
    };
    if args.build && !selected.iter().any(|b| b == "b6") {
        selected.push("b6".into());
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; use `cargo run --release -p apipod-bench` for real numbers"
        );
    }
    eprintln!("pinning: {}", apipod_bench::pin::describe());
    let started = Instant::now();
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for bench in &selected {
        eprintln!("== {} ==", bench.to_uppercase());
        match run_rounds(bench, &args) {
            Ok(r) => {
                eprintln!("{}", table(&r.figures));
                results.push(r);
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                failures.push(format!("{bench}: {e:#}"));
            }
        }
    }
    let figures: Vec<Figure> = results.iter().flat_map(|r| r.figures.clone()).collect();
    println!("{}", table(&figures));
    let report = serde_json::json!({
        "generated_unix": apipod_bench::servers::unix_ms() / 1000,
        "machine": machine(),
        "quick": args.quick,
        "rounds": args.rounds,
        "total_seconds": started.elapsed().as_secs_f64(),
        "figures": figures,
        "results": results,
        "failures": failures,
    });
    let path = args.report.clone().unwrap_or_else(default_report);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    let missed = figures.iter().filter(|f| f.met == Some(false)).count();
    println!(
        "{} figures, {missed} target(s) missed, {} benchmark(s) failed; {:.0} s; report: {}",
        figures.len(),
        failures.len(),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(failures.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Cmd::Serve(args)) => serve_child(args).map(|()| true),
        Some(Cmd::Run { bench, args }) => {
            let opts = benches::Opts {
                round: args.round,
                quick: args.quick,
                tasks: args.tasks,
                download_mib: args.download_mib,
            };
            benches::run(&bench, &opts).and_then(|r| {
                println!("RESULT {}", serde_json::to_string(&r)?);
                Ok(true)
            })
        }
        None => orchestrate(cli.run),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
