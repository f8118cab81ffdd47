//! B5: how much load the mock carries. The mock runs in a child process with two worker
//! threads (like the `apipod-mock` binary); N concurrent loops in this process, sharing one
//! reqwest client, read the status of one task as fast as they can for a few seconds.
//! Both processes share the machine's cores, as they would in a local load test. The mock's
//! own CPU time per request gives a machine-independent-ish capacity figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use apipod::raw::types::SubmitTaskResponse;
use apipod_bench::report::{BenchResult, Figure};
use apipod_bench::servers::{ServeArgs, ServerProc};
use apipod_bench::stats::Summary;
use apipod_bench::sys;
use serde_json::json;

use super::{KEY, Opts, http_client, runtime};

struct Load {
    requests: u64,
    seconds: f64,
    latency: Summary,
    server_cpu_seconds: f64,
}

async fn hammer(
    http: &reqwest::Client,
    url: &str,
    create: bool,
    concurrency: usize,
    duration: Duration,
    server_pid: u32,
) -> anyhow::Result<Load> {
    let cpu0 = sys::cpu_time(Some(server_pid)).as_secs_f64();
    let start = Instant::now();
    let deadline = start + duration;
    let counter = Arc::new(AtomicU64::new(0));
    let mut loops = Vec::new();
    for worker in 0..concurrency {
        let (http, url, counter) = (http.clone(), url.to_string(), counter.clone());
        loops.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let request = if create {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    http.post(&url)
                        .header("Idempotency-Key", format!("b5-{worker}-{n}"))
                        .json(&json!({"model": "seedream-v4.5", "prompt": "load"}))
                } else {
                    http.get(&url)
                };
                let resp = request.bearer_auth(KEY).send().await?;
                ensure!(resp.status().is_success(), "HTTP {}", resp.status());
                resp.bytes().await?;
                latencies.push(t.elapsed().as_secs_f64());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for l in loops {
        latencies.extend(l.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(Load {
        requests: latencies.len() as u64,
        seconds,
        latency: Summary::of(&latencies),
        server_cpu_seconds: sys::cpu_time(Some(server_pid)).as_secs_f64() - cpu0,
    })
}

pub fn run(opts: &Opts) -> anyhow::Result<BenchResult> {
    let server = ServerProc::spawn(&ServeArgs {
        pending_ms: 3_600_000,
        processing_ms: 60_000,
        log_capacity: 100_000,
        threads: 2,
        ..ServeArgs::mock()
    })?;
    let secs = if opts.quick { 1 } else { 4 };
    let rt = runtime(2)?;
    let mut result = BenchResult {
        bench: "B5".into(),
        ..BenchResult::default()
    };
    let mut details = Vec::new();
    rt.block_on(async {
        let http = http_client();
        let created: SubmitTaskResponse = http
            .post(format!("{}/v1/images/generations", server.url()))
            .bearer_auth(KEY)
            .json(&json!({"model": "seedream-v4.5", "prompt": "load"}))
            .send()
            .await?
            .json()
            .await?;
        let task_id = created.data.task_id.context("no task id")?;
        let status_url = format!("{}/v1/images/status/{task_id}", server.url());
        let mut best = (0.0, 0usize, 0.0);
        for concurrency in [1, 8, 32, 128] {
            eprintln!("B5: {concurrency} concurrent status readers for {secs} s");
            let load = hammer(
                &http,
                &status_url,
                false,
                concurrency,
                Duration::from_secs(secs),
                server.pid(),
            )
            .await?;
            let rate = load.requests as f64 / load.seconds;
            let cpu_per_request = load.server_cpu_seconds / load.requests.max(1) as f64;
            if rate > best.0 {
                best = (rate, concurrency, cpu_per_request);
            }
            details.push(json!({
                "route": "GET /v1/images/status/{id}", "concurrency": concurrency,
                "requests": load.requests, "seconds": load.seconds, "per_second": rate,
                "latency_seconds": load.latency, "mock_cpu_seconds_per_request": cpu_per_request,
            }));
            result.figures.push(Figure::info(
                "B5",
                format!("mock status reads/s, {concurrency} concurrent"),
                format!(
                    "{rate:.0}/s (p50 {:.2} ms, p99 {:.2} ms)",
                    load.latency.p50 * 1e3,
                    load.latency.p99 * 1e3
                ),
            ));
        }
        result.figures.push(Figure::info(
            "B5",
            "mock CPU per status read (at the best rate)",
            format!(
                "{:.0} µs, i.e. about {:.0} reads per core-second",
                best.2 * 1e6,
                1.0 / best.2.max(1e-9)
            ),
        ));
        let load = hammer(
            &http,
            &format!("{}/v1/images/generations", server.url()),
            true,
            32,
            Duration::from_secs(secs.min(2)),
            server.pid(),
        )
        .await?;
        let rate = load.requests as f64 / load.seconds;
        details.push(json!({
            "route": "POST /v1/images/generations", "concurrency": 32,
            "requests": load.requests, "seconds": load.seconds, "per_second": rate,
            "latency_seconds": load.latency,
            "mock_cpu_seconds_per_request": load.server_cpu_seconds / load.requests.max(1) as f64,
        }));
        result.figures.push(Figure::info(
            "B5",
            "mock creates/s, 32 concurrent",
            format!("{rate:.0}/s (p50 {:.2} ms)", load.latency.p50 * 1e3),
        ));
        anyhow::Ok(())
    })?;
    result.details = json!({ "mock_threads": 2, "client_threads": 2, "loads": details });
    result.notes.push(
        "load generator and mock share the machine's cores; the mock logs every request".into(),
    );
    Ok(result)
}
