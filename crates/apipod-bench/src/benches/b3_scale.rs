//! B3: scale. N tasks are submitted (at most `MAX_IN_FLIGHT` submits at a time) and each
//! is waited on as soon as it is submitted, by one client process, against the mock in a
//! child process (so only the client's memory and CPU are measured). Tasks finish ~30 s
//! after creation, so every wait is in flight at the same time for a while. A sampler
//! thread records RSS, heap in use, CPU time, open connections and the number of waiting
//! tasks every 100 ms; the mock child records its request count every 100 ms, from which
//! the status request rate is derived.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use apipod::models::SeedreamV45;
use apipod::{Client, PollPolicy};
use apipod_bench::report::{BenchResult, Figure, Goal, Unit};
use apipod_bench::servers::{ServeArgs, ServerProc, unix_ms};
use apipod_bench::stats::{Summary, median};
use apipod_bench::sys;
use futures::{FutureExt, StreamExt};
use serde_json::json;

use super::{KEY, Opts, http_client, runtime};

/// Largest number of API requests the client has in flight.
const MAX_IN_FLIGHT: usize = 64;

/// Every wait reads every 10 s: 100,000 waits on the staged schedule's 2.5 s would ask for
/// 40,000 reads/s, more than one core of any HTTP client makes, and B3 measures what a
/// waiting task and a read cost, not how many reads fit on a core.
const POLL: Duration = Duration::from_secs(10);

fn policy() -> PollPolicy {
    PollPolicy::Fixed(POLL)
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    unix_ms: u64,
    rss_kib: u64,
    /// Process CPU seconds, minus what the sampler thread itself used.
    cpu: f64,
    waiting: usize,
    finished: usize,
    connections: usize,
    heap: u64,
}

fn size_of_future<F: std::future::Future>(_: &F) -> usize {
    std::mem::size_of::<F>()
}

/// Sizes of the SDK's futures (never polled): what each waiting task carries inline.
async fn future_sizes(url: &str) -> anyhow::Result<serde_json::Value> {
    let client = super::sdk(url)?;
    let task = client.task_by_id(apipod::TaskKind::Image, "img_0");
    Ok(json!({
        "Task::wait": size_of_future(&task.wait()),
        "Task::status": size_of_future(&task.status()),
        "Client::submit": size_of_future(&client.submit(SeedreamV45::new("x"))),
        "tokio::time::Sleep": std::mem::size_of::<tokio::time::Sleep>(),
    }))
}

pub fn run(opts: &Opts) -> anyhow::Result<BenchResult> {
    let n = if opts.quick {
        opts.tasks.min(1_000)
    } else {
        opts.tasks
    };
    // Long enough that every task is submitted (at a few thousand per second) and then all
    // wait together for a while before the first finishes.
    let (pending_ms, processing_ms) = if opts.quick {
        (8_000, 2_000)
    } else {
        (20_000 + n as u64 * 3 / 10, 5_000)
    };
    let mut server = ServerProc::spawn(&ServeArgs {
        pending_ms,
        processing_ms,
        // Only the request counts are used; the mock's log stays small.
        log_capacity: 10_000,
        ..ServeArgs::mock()
    })?;
    // One worker per CPU this process may use (one when pinned).
    let rt = runtime(std::thread::available_parallelism().map_or(1, |n| n.get()))?;
    let sizes = rt.block_on(future_sizes(server.url()))?;
    let client = rt.block_on(async {
        let client = Client::builder()
            .api_key(KEY)
            .base_url(server.url())
            .http_client(http_client())
            .max_in_flight(MAX_IN_FLIGHT)
            .poll_policy(policy())
            .build()?;
        // Warm up: connections, lazy statics, the allocator's arenas.
        let warm = client.submit(SeedreamV45::new("warm-up")).await?;
        client.task(warm.handle).status().await?;
        anyhow::Ok(client)
    })?;
    std::thread::sleep(Duration::from_millis(300));
    let baseline_kib = sys::rss_kib();
    let baseline_heap = sys::heap_in_use().unwrap_or(0);
    let cpu0 = sys::cpu_time(None).as_secs_f64();
    let waiting = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = reqwest::Url::parse(server.url())?
        .port()
        .context("the mock's URL has a port")?;
    let sampler = {
        let (waiting, finished, stop) = (waiting.clone(), finished.clone(), stop.clone());
        std::thread::spawn(move || {
            // Reading the heap (mallinfo2 walks it, holding the allocator's lock) and the
            // socket table is costly at this scale: both once a second, the rest every
            // 100 ms; and the sampler's own CPU time is not the client's.
            let own0 = sys::own_thread_cpu_ns();
            let mut samples = Vec::new();
            let (mut heap, mut connections) = (0, 0);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if i.is_multiple_of(10) {
                    heap = sys::heap_in_use().unwrap_or(0);
                    connections = sys::connections_to(port);
                }
                i += 1;
                let own = (sys::own_thread_cpu_ns() - own0) as f64 / 1e9;
                samples.push(Sample {
                    unix_ms: unix_ms(),
                    rss_kib: sys::rss_kib(),
                    cpu: sys::cpu_time(None).as_secs_f64() - own,
                    waiting: waiting.load(Ordering::Relaxed),
                    finished: finished.load(Ordering::Relaxed),
                    connections,
                    heap,
                });
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    };
    eprintln!("B3: submitting and waiting on {n} tasks at once");
    let started = Instant::now();
    let (ok, failed, future_bytes) = rt.block_on(async {
        let mut future_bytes = 0;
        let mut handles = Vec::with_capacity(n);
        let mut failed = Vec::new();
        // Submits run MAX_IN_FLIGHT at a time; each submitted task's wait is spawned at once.
        let mut submits = futures::stream::iter(0..n)
            .map(|i| {
                let client = client.clone();
                async move {
                    client
                        .submit(SeedreamV45::new(format!("scale test {i}")))
                        .await
                }
            })
            .buffer_unordered(MAX_IN_FLIGHT);
        while let Some(submitted) = submits.next().await {
            let submitted = match submitted {
                Ok(s) => s,
                Err(e) => {
                    failed.push(e.to_string());
                    continue;
                }
            };
            let (waiting, finished) = (waiting.clone(), finished.clone());
            waiting.fetch_add(1, Ordering::Relaxed);
            // What a service would spawn: the owned wait, plus the two counters.
            let fut = client.task(submitted.handle).wait_owned().map(move |done| {
                waiting.fetch_sub(1, Ordering::Relaxed);
                finished.fetch_add(1, Ordering::Relaxed);
                done.map(drop)
            });
            future_bytes = size_of_future(&fut);
            handles.push(tokio::spawn(fut));
        }
        let mut ok = 0usize;
        for h in handles {
            match h.await {
                Ok(Ok(())) => ok += 1,
                Ok(Err(e)) => failed.push(e.to_string()),
                Err(e) => failed.push(e.to_string()),
            }
        }
        (ok, failed, future_bytes)
    });
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler thread");
    let cpu = sys::cpu_time(None).as_secs_f64() - cpu0;
    let peak_kib = sys::peak_rss_kib();
    let stats = server.stats()?;
    drop(rt);

    // The window where every task was waiting at once.
    let max_waiting = samples.iter().map(|s| s.waiting).max().unwrap_or(0);
    let full: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.waiting == max_waiting && s.finished == 0)
        .collect();
    let window = (
        full.first()
            .context("no sample while all tasks were waiting")?,
        full.last()
            .context("no sample while all tasks were waiting")?,
    );
    let rss_waiting_kib = full.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let heap_waiting = full.iter().map(|s| s.heap).max().unwrap_or(0);
    let heap_per_task =
        heap_waiting.saturating_sub(baseline_heap) as f64 / max_waiting.max(1) as f64;
    let per_task_bytes =
        (rss_waiting_kib.saturating_sub(baseline_kib) * 1024) as f64 / max_waiting.max(1) as f64;
    let per_task_peak_bytes = (peak_kib.saturating_sub(baseline_kib) * 1024) as f64 / n as f64;
    let window_secs = (window.1.unix_ms - window.0.unix_ms) as f64 / 1e3;
    let cpu_waiting = window.1.cpu - window.0.cpu;

    // Request rate in 1-second steps inside the window (mock samples are every 100 ms).
    let in_window: Vec<(u64, u64)> = stats
        .samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= window.0.unix_ms && *t <= window.1.unix_ms)
        .collect();
    let mut rates = Vec::new();
    for (i, (t, c)) in in_window.iter().enumerate() {
        if let Some((t2, c2)) = in_window[i..].iter().find(|(t2, _)| *t2 >= t + 1000) {
            rates.push((c2 - c) as f64 / ((t2 - t) as f64 / 1e3));
        }
    }
    let rate = Summary::of(&rates);
    // What the policy alone asks for: N tasks / mean interval of the policy.
    let hint = apipod::contract::find(SeedreamV45::ID).and_then(|m| m.polling);
    let policy = policy();
    let mean_interval = (0..10_000)
        .map(|_| policy.delay(Duration::from_secs(10), hint).as_secs_f64())
        .sum::<f64>()
        / 10_000.0;
    let expected_rate = max_waiting as f64 / mean_interval;
    let status_requests = stats.requests.saturating_sub(stats.tasks_created) as f64;
    let max_connections = samples.iter().map(|s| s.connections).max().unwrap_or(0);

    let id = "B3";
    let mut result = BenchResult {
        bench: id.into(),
        ..BenchResult::default()
    };
    let memory = format!(
        "{:.0} B ({:.1} MiB over a {:.1} MiB baseline)",
        per_task_bytes,
        rss_waiting_kib.saturating_sub(baseline_kib) as f64 / 1024.0,
        baseline_kib as f64 / 1024.0
    );
    let heap = format!("{heap_per_task:.0} B");
    result.figures.push(Figure::judged(
        id,
        format!("memory per waiting task ({max_waiting} waiting at once, RSS)"),
        memory,
        "< 2 KiB",
        (per_task_bytes, Unit::Bytes),
        Goal::AtMost(2047.0),
    ));
    result.figures.push(
        Figure::info(
            id,
            "heap in use per waiting task (mallinfo2: live allocations only)",
            heap,
        )
        .with_value(heap_per_task, Unit::Bytes),
    );
    result.figures.push(Figure::info(
        "B3",
        "peak RSS over the whole run per task (submits included)",
        format!("{per_task_peak_bytes:.0} B"),
    ));
    result.figures.push(Figure::new(
        "B3",
        "all waits completed",
        format!("{ok} of {n}"),
        "all",
        ok == n,
    ));
    result.figures.push(Figure::judged(
        "B3",
        "status reads/s while all wait, vs what the poll policy asks for (value: ratio)",
        format!(
            "mean {:.0}/s (policy: {:.0}/s, every {} s), peak 1-s window {:.0}/s",
            rate.mean,
            expected_rate,
            POLL.as_secs(),
            rate.max
        ),
        "mean <= 1.1x the policy's rate",
        (rate.mean / expected_rate, Unit::Factor),
        Goal::AtMost(1.1),
    ));
    result.figures.push(Figure::info(
        "B3",
        format!("open connections to the mock, most seen (max_in_flight {MAX_IN_FLIGHT})"),
        format!("{max_connections}"),
    ));
    let cpu_per_read = cpu_waiting / (rate.mean * window_secs).max(1.0);
    result.figures.push(Figure::judged(
        "B3",
        "client CPU per status read while all wait",
        format!(
            "{:.1} µs ({:.1}% of one core)",
            cpu_per_read * 1e6,
            100.0 * cpu_waiting / window_secs.max(1e-9),
        ),
        "<= 40 µs",
        (cpu_per_read, Unit::Micros),
        Goal::AtMost(40e-6),
    ));
    result.figures.push(Figure::info(
        "B3",
        "client CPU for the whole run",
        format!(
            "{cpu:.1} s for {n} submits + {:.0} status reads ({:.0} µs per request)",
            status_requests,
            1e6 * cpu / (stats.requests as f64).max(1.0)
        ),
    ));
    result.details = json!({
        "tasks": n,
        "task_lifetime_seconds": (pending_ms + processing_ms) as f64 / 1e3,
        "max_in_flight": MAX_IN_FLIGHT,
        "poll_policy": format!("fixed {} s", POLL.as_secs()),
        "ok": ok,
        "failed": failed.len(),
        "first_failures": failed.iter().take(5).collect::<Vec<_>>(),
        "elapsed_seconds": elapsed,
        "baseline_rss_kib": baseline_kib,
        "rss_all_waiting_kib": rss_waiting_kib,
        "peak_rss_kib": peak_kib,
        "bytes_per_waiting_task": per_task_bytes,
        "heap_bytes_per_waiting_task": heap_per_task,
        "baseline_heap_bytes": baseline_heap,
        "heap_all_waiting_bytes": heap_waiting,
        "bytes_per_task_peak": per_task_peak_bytes,
        "size_of_spawned_future_bytes": future_bytes,
        "size_of_sdk_futures_bytes": sizes,
        "max_waiting": max_waiting,
        "max_connections": max_connections,
        "all_waiting_window_seconds": window_secs,
        "status_rate_per_second": rate,
        "status_rate_median": median(&rates),
        "expected_rate_per_second": expected_rate,
        "mean_poll_interval_seconds": mean_interval,
        "status_requests": status_requests,
        "status_reads_per_task": status_requests / n as f64,
        "client_cpu_seconds": cpu,
        "client_cpu_seconds_all_waiting": cpu_waiting,
        "mock_cpu_seconds": stats.cpu_seconds,
        "mock_peak_rss_kib": stats.peak_rss_kib,
    });
    result.notes.push(format!(
        "size of one spawned wait future: {future_bytes} bytes (tokio boxes it with its task header)"
    ));
    Ok(result)
}
