//! B7 (replicas): what Redis coordination buys a service with several replicas. Each
//! replica is a `Client` with its own callback hub, its own `CallbackReceiver` on a port of
//! its own and its own `RedisCoordinator` (its own Redis connection), as separate processes
//! would have; they share this process only to be measured together. A throwaway
//! `redis-server` and the mock run on 127.0.0.1.
//!
//! 1. **Cross-replica callback → wait latency.** A task completes; replica 1 receives its
//!    callback (the moment its receiver hands the callback to the client, `t0`); a wait on
//!    replica 3, which polls only every 10 minutes, returns at `t1`. `t1 - t0` covers the
//!    pub/sub hop through Redis and replica 3's status read.
//! 2. **Status reads per task, 3 replicas vs 1.** Tasks with callbacks are submitted and
//!    waited on round-robin across the replicas; the mock delivers each callback to the
//!    receiver of a random replica (as a load balancer would). Reads are counted in the
//!    mock's log; the time from submit to the end of the wait is the detection delay.
//!    Three set-ups: one replica; three with Redis; three without (in-process only).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use apipod::callback_server::CallbackReceiver;
use apipod::coord::redis::{RedisCoordinator, RedisOptions};
use apipod::coord::{Coordinator, InProcess};
use apipod::models::SeedreamV45;
use apipod::{
    CallbackHub, CallbackTokens, Client, PollPolicy, SubmitOptions, TaskKind, WaitOptions,
};
use apipod_bench::report::{BenchResult, Figure};
use apipod_bench::stats::Summary;
use apipod_mock::{MockConfig, MockServer};
use apipod_tests::redis_server::RedisServer;
use serde_json::json;

use super::{KEY, Opts, http_client, runtime};

const SECRET: &str = "b7-callback-route-secret-32-bytes-long!!";

struct Replica {
    client: Client,
    callback_base: String,
}

async fn replica(
    mock: &MockServer,
    coordinator: Arc<dyn Coordinator>,
    tokens: &CallbackTokens,
) -> anyhow::Result<Replica> {
    let client = Client::builder()
        .api_key(KEY)
        .base_url(mock.base_url())
        .http_client(http_client())
        .callbacks(CallbackHub::new())
        .coordinator(coordinator)
        .build()?;
    let receiver = CallbackReceiver::new(client.clone(), tokens.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let callback_base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
    Ok(Replica {
        client,
        callback_base,
    })
}

fn redis_coordinator(redis: &RedisServer, prefix: &str) -> anyhow::Result<Arc<RedisCoordinator>> {
    Ok(Arc::new(RedisCoordinator::connect(
        &redis.url(),
        RedisOptions::default().prefix(prefix),
    )?))
}

async fn connected(replicas: &[Replica]) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(20);
    while !replicas
        .iter()
        .all(|r| r.client.coordinator().is_connected())
    {
        anyhow::ensure!(Instant::now() < until, "Redis coordination did not connect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Part 1: `samples` callbacks handed to replica 1, each ending a wait on replica 3.
async fn callback_latency(replicas: &[Replica], samples: usize) -> anyhow::Result<Summary> {
    let (first, last) = (&replicas[0], &replicas[replicas.len() - 1]);
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let mut submitted = last.client.submit(SeedreamV45::new("b7 latency")).await?;
        // The wait expects a callback (so it polls slowly); none is sent by the mock.
        submitted.handle.callback_url = Some(format!("{}/image/k/t", last.callback_base));
        let task_id = submitted.handle.task_id.clone();
        let task = last.client.task(submitted.handle);
        let wait = tokio::spawn(async move {
            let r = task
                .wait_with(
                    WaitOptions::timeout(Duration::from_secs(120))
                        .with_poll(PollPolicy::Fixed(Duration::from_secs(600))),
                )
                .await;
            (r, Instant::now())
        });
        // Let the task complete on the mock (reads from replica 1, which is not waiting).
        loop {
            let snap = first.client.status(TaskKind::Image, &task_id).await?;
            if snap.status().is_terminal() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let t0 = Instant::now();
        first.client.callback_received(&task_id);
        let (outcome, t1) = wait.await?;
        outcome.context("the wait on replica 3")?;
        latencies.push((t1 - t0).as_secs_f64());
    }
    Ok(Summary::of(&latencies))
}

struct Traffic {
    reads_per_task: f64,
    detection: Summary,
}

/// Part 2: `tasks` tasks waited on round-robin, callbacks to a random replica.
async fn traffic(
    mock: &MockServer,
    replicas: &[Replica],
    tokens: &CallbackTokens,
    tasks: usize,
) -> anyhow::Result<Traffic> {
    let mut waits = Vec::new();
    let mut ids = Vec::new();
    for i in 0..tasks {
        let waiter = &replicas[i % replicas.len()];
        let target = &replicas[fastrand::usize(..replicas.len())];
        let key = CallbackTokens::submission_key();
        let url = tokens.callback_url_for(&target.callback_base, TaskKind::Image, &key);
        let started = Instant::now();
        let submitted = waiter
            .client
            .submit_with(
                SeedreamV45::new("b7 traffic").callback_url(url),
                SubmitOptions::idempotency_key(key),
            )
            .await?;
        ids.push(submitted.handle.task_id.clone());
        let task = waiter.client.task(submitted.handle);
        waits.push(tokio::spawn(async move {
            task.wait_with(WaitOptions::timeout(Duration::from_secs(300)))
                .await
                .map(|_| started.elapsed().as_secs_f64())
        }));
    }
    let mut detection = Vec::new();
    for w in waits {
        detection.push(w.await??);
    }
    let log = mock.log().entries();
    let reads = log
        .iter()
        .filter(|e| e.method == "GET" && e.task_id.as_ref().is_some_and(|t| ids.contains(t)))
        .count();
    Ok(Traffic {
        reads_per_task: reads as f64 / tasks as f64,
        detection: Summary::of(&detection),
    })
}

pub fn run(opts: &Opts) -> anyhow::Result<BenchResult> {
    let redis = RedisServer::start()
        .context("B7 needs redis-server (Debian package redis-server; `.ci/run` installs it)")?;
    let rt = runtime(2)?;
    let mut result = BenchResult {
        bench: "B7".into(),
        ..BenchResult::default()
    };
    let (samples, tasks) = if opts.quick { (20, 12) } else { (200, 60) };
    rt.block_on(async {
        let tokens = CallbackTokens::new(SECRET)?;
        // Part 1 on a fast mock.
        let fast = MockServer::start_with(
            MockConfig::fast().durations(Duration::from_millis(20), Duration::from_millis(30)),
        )
        .await;
        let mut three = Vec::new();
        for _ in 0..3 {
            three.push(replica(&fast, redis_coordinator(&redis, "b7-latency")?, &tokens).await?);
        }
        connected(&three).await?;
        let latency = callback_latency(&three, samples).await?;
        result.figures.push(Figure::new(
            "B7",
            "cross-replica callback → wait, p50 / p95",
            format!(
                "{:.1} / {:.1} ms (n = {})",
                latency.p50 * 1e3,
                latency.p95 * 1e3,
                latency.n
            ),
            "p95 ≤ 50 ms",
            latency.p95 <= 0.050,
        ));

        // Part 2: tasks of 2-3 s, callbacks delivered by the mock.
        let mut setups = Vec::new();
        for (name, count, redis_prefix) in [
            ("1 replica", 1, None),
            ("3 replicas, Redis", 3, Some("b7-traffic")),
            ("3 replicas, in-process only", 3, None),
        ] {
            let mock = MockServer::start_with(
                MockConfig::fast()
                    .durations(Duration::from_millis(1000), Duration::from_millis(1500)),
            )
            .await;
            let mut replicas = Vec::new();
            for _ in 0..count {
                let coordinator: Arc<dyn Coordinator> = match redis_prefix {
                    Some(prefix) => redis_coordinator(&redis, prefix)?,
                    None => Arc::new(InProcess),
                };
                replicas.push(replica(&mock, coordinator, &tokens).await?);
            }
            connected(&replicas).await?;
            let t = traffic(&mock, &replicas, &tokens, tasks).await?;
            setups.push((name, t));
        }
        let one = setups[0].1.reads_per_task;
        for (name, t) in &setups {
            result.figures.push(Figure::info(
                "B7",
                format!("status reads per task, {name}"),
                format!(
                    "{:.2} (submit → done p50 {:.1} s, p95 {:.1} s)",
                    t.reads_per_task, t.detection.p50, t.detection.p95
                ),
            ));
        }
        let shared = &setups[1].1;
        result.figures.push(Figure::new(
            "B7",
            "reads per task, 3 replicas with Redis vs 1",
            format!("×{:.2}", shared.reads_per_task / one),
            "≤ ×1.10, same detection",
            shared.reads_per_task <= one * 1.10
                && shared.detection.p95 <= setups[0].1.detection.p95 + 0.5,
        ));
        result.details = json!({
            "callback_latency_seconds": latency,
            "traffic": setups.iter().map(|(name, t)| json!({
                "setup": name, "tasks": tasks, "reads_per_task": t.reads_per_task,
                "submit_to_done_seconds": t.detection,
            })).collect::<Vec<_>>(),
        });
        anyhow::Ok(())
    })?;
    result.notes.push(
        "replicas are separate clients, receivers and Redis connections in one process; the mock runs in-process".into(),
    );
    Ok(result)
}
