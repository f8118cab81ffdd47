//! The benchmarks. Each runs in its own child process (see `main.rs`) and returns a
//! [`BenchResult`].

use std::path::PathBuf;
use std::time::Duration;

use apipod::{Client, RetryPolicy};
use apipod_bench::report::BenchResult;

pub mod b1_breakdown;
pub mod b1_instructions;
pub mod b1_overhead;
pub mod b2_polling;
pub mod b3_scale;
pub mod b4_download;
pub mod b5_mock;
pub mod b6_build;
pub mod b7_batch;
pub mod b7_replicas;

/// The API key every benchmark uses against local servers.
pub const KEY: &str = "sk-bench-local";

/// Options shared by the benchmarks.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Which round of the benchmark this is (0-based): simulations seed from it.
    pub round: u32,
    /// Smaller sizes, for a smoke test.
    pub quick: bool,
    /// Tasks waited on at once in B3.
    pub tasks: usize,
    /// Size of the B4 download, MiB.
    pub download_mib: u64,
}

/// Runs benchmark `id` (`b1` ... `b7`; `b1l` is B1's CPU breakdown by layer alone, `b1i`
/// B1's instruction counts by layer).
pub fn run(id: &str, opts: &Opts) -> anyhow::Result<BenchResult> {
    let started = std::time::Instant::now();
    let mut result = match id {
        "b1" => b1_overhead::run(opts)?,
        // B1's breakdown alone (the layers' CPU), for profiling work.
        "b1l" => BenchResult {
            bench: "B1".into(),
            details: b1_breakdown::run(opts.quick)?,
            ..BenchResult::default()
        },
        // B1's instructions per call by layer (callgrind): exact, so run once.
        "b1i" => b1_instructions::run()?,
        "b2" => b2_polling::run(opts)?,
        "b3" => b3_scale::run(opts)?,
        "b4" => b4_download::run(opts)?,
        "b5" => b5_mock::run(opts)?,
        "b6" => b6_build::run(opts)?,
        "b7" => {
            let mut replicas = b7_replicas::run(opts)?;
            let batch = b7_batch::run(opts)?;
            replicas.figures.extend(batch.figures);
            replicas.notes.extend(batch.notes);
            replicas.details =
                serde_json::json!({"replicas": replicas.details, "batch": batch.details});
            replicas
        }
        other => {
            anyhow::bail!(
                "unknown benchmark {other:?} (expected b1, b1i, b1l, b2, b3, b4, b5, b6, b7)"
            )
        }
    };
    result.seconds = started.elapsed().as_secs_f64();
    Ok(result)
}

/// A tokio runtime with `threads` workers; for one thread, the current-thread runtime, so
/// a client pinned to one core does not bounce its work between two threads on it.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
}

/// The HTTP client settings both sides of a comparison use: the SDK's defaults (10 s
/// connect timeout, 60 s request timeout), and never a proxy (all traffic is loopback).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

/// An SDK client for a local server, on its own connection pool.
pub fn sdk(base_url: &str) -> apipod::Result<Client> {
    Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .http_client(http_client())
        .retry_policy(RetryPolicy::default())
        .build()
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(manifest)
}

/// `x` as a signed percentage, e.g. `+4.2%`.
pub fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// Microseconds with no decimals.
pub fn us(seconds: f64) -> String {
    format!("{:.0} µs", seconds * 1e6)
}
