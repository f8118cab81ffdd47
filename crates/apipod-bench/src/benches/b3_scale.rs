//! B3: scale. N tasks are submitted (at most `MAX_IN_FLIGHT` submits at a time) and each
//! is waited on as soon as it is submitted, by one client process, against the mock in a
//! child process (so only the client's memory and CPU are measured). Tasks finish ~30 s
//! after creation, so every wait is in flight at the same time for a while. A sampler
//! thread records RSS, heap in use, CPU time, open connections and the number of waiting
//! tasks every 100 ms; the mock child records its request count every 100 ms, from which
//! the status request rate is derived.
//!
//! Variant `b3b` runs the same load with a wait loop that boxes each status read (a
//! proposed change to `Task::wait`), to show what the idle wait's inline request future
//! costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use apipod::models::SeedreamV45;
use apipod::{Client, PollPolicy, TaskHandle, TaskStatus};
use apipod_bench::report::{BenchResult, Figure};
use apipod_bench::servers::{ServeArgs, ServerProc, unix_ms};
use apipod_bench::stats::{Summary, median};
use apipod_bench::sys;
use futures::StreamExt;
use serde_json::json;

use super::{KEY, Opts, http_client, runtime};

/// Largest number of API requests the client has in flight.
const MAX_IN_FLIGHT: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Sample {
    unix_ms: u64,
    rss_kib: u64,
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

/// How each task is waited on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `Task::wait` as the SDK has it.
    Sdk,
    /// The same schedule with each status read boxed, so an idle wait holds only its
    /// timer and state (a proposed change to `Task::wait`).
    BoxedRead,
}

/// A wait loop on the SDK's public API that boxes each status read: the default poll
/// policy with the model's hint, keeping the last snapshot, like `Task::wait`.
async fn boxed_read_wait(client: Client, handle: TaskHandle) -> apipod::Result<()> {
    let hint = apipod::contract::find(&handle.model).and_then(|m| m.polling);
    let task = client.task(handle);
    let policy = PollPolicy::default();
    let started = tokio::time::Instant::now();
    let mut last: Option<apipod::TaskSnapshot> = None;
    loop {
        let snap = Box::pin(task.status()).await?;
        match snap.status() {
            TaskStatus::Completed => return Ok(()),
            TaskStatus::Failed | TaskStatus::Cancelled => {
                return Err(apipod::Error::InvalidArgument {
                    argument: "task",
                    message: format!("task {}", snap.status()),
                });
            }
            _ => {}
        }
        // Keep the latest snapshot across the sleep, as `Task::wait` does.
        drop(last.replace(snap));
        tokio::time::sleep(policy.delay(started.elapsed(), hint)).await;
    }
}

pub fn run(opts: &Opts, variant: Variant) -> anyhow::Result<BenchResult> {
    let n = if opts.quick {
        opts.tasks.min(1_000)
    } else {
        opts.tasks
    };
    let (pending_ms, processing_ms) = if opts.quick {
        (8_000, 2_000)
    } else {
        (25_000, 5_000)
    };
    let mut server = ServerProc::spawn(&ServeArgs {
        pending_ms,
        processing_ms,
        log_capacity: n * 40,
        ..ServeArgs::mock()
    })?;
    let rt = runtime(2)?;
    let sizes = rt.block_on(future_sizes(server.url()))?;
    let client = rt.block_on(async {
        let client = Client::builder()
            .api_key(KEY)
            .base_url(server.url())
            .http_client(http_client())
            .max_in_flight(MAX_IN_FLIGHT)
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
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push(Sample {
                    unix_ms: unix_ms(),
                    rss_kib: sys::rss_kib(),
                    cpu: sys::cpu_time(None).as_secs_f64(),
                    waiting: waiting.load(Ordering::Relaxed),
                    finished: finished.load(Ordering::Relaxed),
                    connections: sys::connections_to(port),
                    heap: sys::heap_in_use().unwrap_or(0),
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
            let (client, waiting, finished) = (client.clone(), waiting.clone(), finished.clone());
            waiting.fetch_add(1, Ordering::Relaxed);
            macro_rules! spawn_wait {
                ($wait:expr) => {{
                    let fut = async move {
                        let done = $wait(client, submitted.handle).await;
                        waiting.fetch_sub(1, Ordering::Relaxed);
                        finished.fetch_add(1, Ordering::Relaxed);
                        done
                    };
                    future_bytes = size_of_future(&fut);
                    handles.push(tokio::spawn(fut));
                }};
            }
            match variant {
                Variant::Sdk => spawn_wait!(|client: Client, handle| async move {
                    client.task(handle).wait().await.map(drop)
                }),
                Variant::BoxedRead => spawn_wait!(boxed_read_wait),
            }
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
    // What the policy alone asks for: N tasks / mean interval of the default policy.
    let hint = apipod::contract::find(SeedreamV45::ID).and_then(|m| m.polling);
    let policy = PollPolicy::default();
    let mean_interval = (0..10_000)
        .map(|_| policy.delay(Duration::from_secs(10), hint).as_secs_f64())
        .sum::<f64>()
        / 10_000.0;
    let expected_rate = max_waiting as f64 / mean_interval;
    let status_requests = stats.requests.saturating_sub(stats.tasks_created) as f64;
    let max_connections = samples.iter().map(|s| s.connections).max().unwrap_or(0);

    let id = match variant {
        Variant::Sdk => "B3",
        Variant::BoxedRead => "B3b",
    };
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
    if variant == Variant::BoxedRead {
        result.figures.push(Figure::info(
            id,
            format!(
                "memory per waiting task if Task::wait boxed its status read ({max_waiting} waiting)"
            ),
            memory,
        ));
        result.figures.push(Figure::info(
            id,
            "heap in use per waiting task, status read boxed (mallinfo2)",
            heap,
        ));
        result.figures.push(Figure::new(
            id,
            "all waits completed",
            format!("{ok} of {n}"),
            "all",
            ok == n,
        ));
        result.details = json!({
            "tasks": n, "ok": ok, "failed": failed.len(),
            "baseline_rss_kib": baseline_kib, "rss_all_waiting_kib": rss_waiting_kib,
            "bytes_per_waiting_task": per_task_bytes, "bytes_per_task_peak": per_task_peak_bytes,
            "heap_bytes_per_waiting_task": heap_per_task,
            "size_of_spawned_future_bytes": future_bytes, "max_waiting": max_waiting,
            "client_cpu_seconds": cpu, "status_requests": status_requests,
        });
        return Ok(result);
    }
    result.figures.push(Figure::new(
        id,
        format!("memory per waiting task ({max_waiting} waiting at once)"),
        memory,
        "< 4 KiB",
        per_task_bytes < 4096.0,
    ));
    result.figures.push(Figure::info(
        id,
        "heap in use per waiting task (mallinfo2: live allocations only)",
        heap,
    ));
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
    result.figures.push(Figure::new(
        "B3",
        "status reads/s while all wait, vs what the poll policy asks for",
        format!(
            "mean {:.0}/s (policy: {:.0}/s), peak 1-s window {:.0}/s",
            rate.mean, expected_rate, rate.max
        ),
        "mean <= 1.1x the policy's rate",
        rate.mean <= 1.1 * expected_rate,
    ));
    result.figures.push(Figure::info(
        "B3",
        format!("open connections to the mock, most seen (max_in_flight {MAX_IN_FLIGHT})"),
        format!("{max_connections}"),
    ));
    result.figures.push(Figure::info(
        "B3",
        "client CPU while all wait",
        format!(
            "{:.1}% of one core ({:.1} µs per status read)",
            100.0 * cpu_waiting / window_secs.max(1e-9),
            1e6 * cpu_waiting / (rate.mean * window_secs).max(1.0)
        ),
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
        "poll_policy": "SDK default (staged; seedream-v4.5 hint 3 s kept within 2-3 s)",
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
