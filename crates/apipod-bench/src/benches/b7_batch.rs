//! B7 (batch): throughput of `apipod batch --redis` with 3 worker processes against 1, on
//! the same jobs file, against the mock with realistic durations and a rate limit.
//!
//! The mock runs in this process with `Timing::Realistic` (the spec's per-model
//! `x-apipod-mock-timing` estimates) scaled to a twentieth, so an image takes about 1-4 s
//! instead of 20-80 s, and a limit of 20 creates per second per key (429 with
//! `Retry-After: 1` past it; the workers share the pause through Redis). Each worker is an
//! `apipod` process (built with `--features redis` next to this binary) with 8 jobs at a
//! time and a 250 ms poll interval (the durations are scaled, so the polling is too).
//! Throughput is jobs per second of wall time, from starting the workers to the last one
//! exiting, loading and claiming included.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, ensure};
use apipod_bench::report::{BenchResult, Figure};
use apipod_mock::{MockConfig, MockServer};
use apipod_tests::redis_server::RedisServer;
use serde_json::json;

use super::{KEY, Opts, runtime};

/// Image models with different realistic durations, cycled through the jobs.
const MODELS: [&str; 3] = ["seedream-v4.5", "seedream-5.0-lite", "nano-banana-pro"];

/// The workers' poll interval (the durations are scaled down, so the polling is too).
const POLL_MS: &str = "250";

/// The `apipod` binary next to this one (`cargo xtask bench` builds it).
fn cli_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .context("bench binary has no directory")?
        .join("apipod");
    ensure!(
        path.is_file(),
        "{} not found: build it with `cargo build --release -p apipod-cli --features redis` (cargo xtask bench does)",
        path.display()
    );
    Ok(path)
}

fn jobs_file(dir: &Path, n: usize) -> anyhow::Result<PathBuf> {
    let path = dir.join("jobs.jsonl");
    let lines: Vec<String> = (0..n)
        .map(|i| {
            json!({"id": format!("job-{i}"), "model": MODELS[i % MODELS.len()], "prompt": format!("bench {i}")})
                .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n")?;
    Ok(path)
}

/// Runs `workers` worker processes on `jobs` jobs; returns the wall time.
async fn run_batch(
    cli: &Path,
    redis: &RedisServer,
    dir: &Path,
    jobs: usize,
    workers: usize,
) -> anyhow::Result<(f64, usize)> {
    // (wall seconds, creates answered 429)
    let mock = MockServer::start_with(
        MockConfig::realistic()
            .time_scale(0.05)
            .create_rate_limit(Some(20)),
    )
    .await;
    let file = jobs_file(dir, jobs)?;
    let prefix = format!("b7-batch-{workers}");
    let started = Instant::now();
    let mut children = Vec::new();
    for w in 0..workers {
        let out = dir.join(format!("out-{workers}-{w}"));
        children.push(
            Command::new(cli)
                .env_remove("RUST_LOG")
                .env("APIPOD_POLL_INTERVAL_MS", POLL_MS)
                .args(["--base-url", &mock.base_url(), "--api-key", KEY, "batch"])
                .arg(&file)
                .arg("--out")
                .arg(&out)
                .args(["--redis", &redis.url(), "--redis-prefix", &prefix])
                .args(["--concurrency", "8"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    let statuses = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|mut c| c.wait())
            .collect::<Result<Vec<_>, _>>()
    })
    .await??;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        statuses.iter().all(|s| s.success()),
        "a batch worker failed: {statuses:?}"
    );
    let created = mock.tasks_created();
    ensure!(created == jobs, "{created} tasks for {jobs} jobs");
    let limited = mock
        .log()
        .entries()
        .iter()
        .filter(|e| e.fault.as_deref() == Some("rate-limit"))
        .count();
    mock.shutdown().await;
    Ok((seconds, limited))
}

pub fn run(opts: &Opts) -> anyhow::Result<BenchResult> {
    let cli = cli_binary()?;
    let redis = RedisServer::start()
        .context("B7 needs redis-server (Debian package redis-server; `.ci/run` installs it)")?;
    let dir = tempfile::tempdir()?;
    let jobs = if opts.quick { 24 } else { 240 };
    let rt = runtime(2)?;
    let mut result = BenchResult {
        bench: "B7".into(),
        ..BenchResult::default()
    };
    rt.block_on(async {
        let (one, limited_one) = run_batch(&cli, &redis, dir.path(), jobs, 1).await?;
        let (three, limited_three) = run_batch(&cli, &redis, dir.path(), jobs, 3).await?;
        let (r1, r3) = (jobs as f64 / one, jobs as f64 / three);
        for (n, secs, rate) in [(1, one, r1), (3, three, r3)] {
            result.figures.push(Figure::info(
                "B7",
                format!("batch throughput, {n} worker(s)"),
                format!("{rate:.2} jobs/s ({jobs} jobs in {secs:.1} s)"),
            ));
        }
        result.figures.push(Figure::new(
            "B7",
            "batch throughput, 3 workers vs 1",
            format!("×{:.2}", r3 / r1),
            "≥ ×2.5",
            r3 / r1 >= 2.5,
        ));
        result.details = json!({
            "jobs": jobs, "one_worker_seconds": one, "three_workers_seconds": three,
            "rate_limited_creates": {"one_worker": limited_one, "three_workers": limited_three},
            "mock": "realistic durations × 0.05, 20 creates/s per key", "concurrency_per_worker": 8,
            "poll_interval_ms": POLL_MS,
        });
        anyhow::Ok(())
    })?;
    Ok(result)
}
