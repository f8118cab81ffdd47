//! R1: no duplicates, nothing lost.
//!
//! Hundreds of logical submits go to the mock APIPod while it injects faults into about
//! 30% of create requests: connections dropped after the task was accepted, 500/503/504,
//! 429 with `Retry-After`, plus windows in which creates take longer than the client's
//! request timeout (timeouts, then 409 `idempotency_in_progress` or replays), and
//! double submits of the same key racing each other (409 `idempotency_in_progress`).
//! Afterwards exactly one task exists per logical submit, every submit succeeded with its
//! own task id, and the server's log shows that no key ever created a second task.
//!
//! Runs under paused tokio time, so backoffs, `Retry-After` and timeouts cost no real time.
//! CI size: 200 logical submits; `APIPOD_LONG_TESTS=1`: 1,000.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use apipod::models::SeedreamV45;
use apipod::{Client, RetryPolicy, SubmitOptions, Submitted};
use apipod_mock::{FaultConfig, FaultScope, MockConfig, MockServer};
use futures::StreamExt;

fn long_run() -> bool {
    std::env::var("APIPOD_LONG_TESTS").is_ok_and(|v| v == "1")
}

/// The client's per-attempt timeout; slow windows hold creates longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Faults on creates: 26% of requests get a fault drawn from `seed`; in a slow window every
/// create is also held for 3 s (longer than the request timeout) before the task is made.
fn faults(seed: u64, slow: bool) -> FaultConfig {
    FaultConfig::new()
        .seed(seed)
        .scope(FaultScope::Creates)
        .drop_rate(0.08)
        .error_rate(500, 0.04)
        .error_rate(503, 0.05)
        .error_rate(504, 0.04)
        .error_rate(429, 0.05)
        .retry_after(1)
        .latency(Duration::from_millis(5))
        .create_latency(if slow {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(30)
        })
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key("sk-reliability")
        .base_url(server.base_url())
        .request_timeout(REQUEST_TIMEOUT)
        .retry_policy(RetryPolicy {
            max_retries: 40,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(500),
            // No jitter: with paused time the whole run is then the same on every run.
            jitter: false,
            max_retry_after: Duration::from_secs(5),
        })
        .build()
        .unwrap()
}

/// One logical submit: its key, and the answers of the one or two calls made with it.
struct Logical {
    key: String,
    answers: Vec<apipod::Result<Submitted>>,
}

#[tokio::test(start_paused = true)]
async fn faults_never_duplicate_or_lose_a_task() {
    let n = if long_run() { 1_000 } else { 200 };
    let server =
        Arc::new(MockServer::start_with(MockConfig::fast().faults(faults(7, false))).await);
    let client = client(&server);

    // Slow windows: 0.4 s out of every 2.5 s, each with a fresh fault seed.
    let flipper = {
        let server = server.clone();
        tokio::spawn(async move {
            for round in 1u64.. {
                tokio::time::sleep(Duration::from_millis(2_100)).await;
                server.set_faults(faults(1_000 + round, true));
                tokio::time::sleep(Duration::from_millis(400)).await;
                server.set_faults(faults(2_000 + round, false));
            }
        })
    };

    let logical: Vec<Logical> = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let key = format!("r1-{i:05}");
                let request = || SeedreamV45::new(format!("reliability task {i}"));
                // Every tenth logical submit is made twice at once with the same key, as two
                // workers (or a double click) would.
                let answers = if i % 10 == 0 {
                    let (a, b) = tokio::join!(
                        client.submit_with(request(), SubmitOptions::idempotency_key(&key)),
                        client.submit_with(request(), SubmitOptions::idempotency_key(&key)),
                    );
                    vec![a, b]
                } else {
                    vec![
                        client
                            .submit_with(request(), SubmitOptions::idempotency_key(&key))
                            .await,
                    ]
                };
                Logical { key, answers }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    flipper.abort();
    let _ = flipper.await;

    // Every call succeeded; calls sharing a key got the same task; keys got distinct tasks.
    let mut task_of_key: HashMap<String, String> = HashMap::new();
    let mut retried = 0;
    let mut attempts = 0;
    for l in &logical {
        let ids: Vec<&str> = l
            .answers
            .iter()
            .map(|a| match a {
                Ok(s) => s.handle.task_id.as_str(),
                Err(e) => panic!("submit {} failed: {e}", l.key),
            })
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "key {} got different tasks: {ids:?}",
            l.key
        );
        retried += l
            .answers
            .iter()
            .filter(|a| a.as_ref().is_ok_and(|s| s.attempts > 1))
            .count();
        attempts += l
            .answers
            .iter()
            .map(|a| a.as_ref().map_or(0, |s| s.attempts as usize))
            .sum::<usize>();
        task_of_key.insert(l.key.clone(), ids[0].to_string());
    }
    let distinct: HashSet<&String> = task_of_key.values().collect();
    assert_eq!(distinct.len(), n, "two logical submits share a task");
    assert_eq!(server.tasks_created(), n, "tasks on the server");

    // The server's view: each key created exactly one task, the one its submit returned.
    let log = server.log().entries();
    let mut created_by_key: HashMap<String, Vec<String>> = HashMap::new();
    for entry in &log {
        if let Some(task) = &entry.created_task {
            let key = entry.idempotency_key.clone().expect("creates carry a key");
            created_by_key.entry(key).or_default().push(task.clone());
        }
    }
    assert_eq!(created_by_key.len(), n);
    for (key, created) in &created_by_key {
        assert_eq!(created.len(), 1, "key {key} created {created:?}");
        assert_eq!(Some(&created[0]), task_of_key.get(key), "key {key}");
    }

    // The faults really happened (otherwise this test would prove nothing).
    let count = |label: &str| {
        log.iter()
            .filter(|e| e.fault.as_deref() == Some(label))
            .count()
    };
    for label in ["drop", "500", "503", "504", "429"] {
        assert!(count(label) > 0, "no {label} fault was injected");
    }
    let in_progress = log.iter().filter(|e| e.status == 409).count();
    assert!(in_progress > 0, "no 409 idempotency_in_progress was seen");
    let creates = log
        .iter()
        .filter(|e| e.path == "/v1/images/generations")
        .count();
    let faulted = log
        .iter()
        .filter(|e| e.path == "/v1/images/generations" && (e.fault.is_some() || e.status == 409))
        .count();
    eprintln!(
        "{n} logical submits: {creates} create requests, {faulted} faulted or 409 \
         (drop {}, 500 {}, 503 {}, 504 {}, 429 {}, 409 {in_progress}); {retried} calls retried; \
         {attempts} attempts made",
        count("drop"),
        count("500"),
        count("503"),
        count("504"),
        count("429"),
    );
    assert!(
        faulted * 100 >= creates * 20,
        "only {faulted} of {creates} create requests were faulted"
    );
    assert!(retried * 5 >= n, "only {retried} submits needed a retry");
    // Attempts the server never answered are those that hit the client's timeout in a slow
    // window (the mock abandons a request whose client went away, and logs nothing).
    assert!(
        attempts > creates,
        "no attempt timed out ({attempts} attempts, {creates} answered)"
    );
}
