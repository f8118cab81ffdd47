//! Coordination across replicas through a real `redis-server` (feature `redis`): several
//! processes of `coord-probe` (one replica each) and the mock, all on 127.0.0.1.
//!
//! Without `redis-server` these tests return early outside CI and fail under `CI`.

#![cfg(feature = "redis")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use apipod::coord::redis::{RedisCoordinator, RedisOptions};
use apipod::coord::{CoordEvent, Coordinator, KeyHash};
use apipod::{AdaptivePollPolicy, CallbackHub, Client, PollPolicy, WaitOptions};
use apipod_mock::{MockConfig, MockServer};
use apipod_tests::redis_server::RedisServer;

const KEY: &str = "sk-coord-test";
const SECRET: &str = "a-callback-secret-of-at-least-32-bytes!!";

/// One `coord-probe` process, killed when dropped.
struct Probe {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Probe {
    fn start(role: &str, redis: &str, mock: &str, prefix: &str, extra: &[&str]) -> Probe {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coord-probe"))
            .args([
                role,
                "--redis",
                redis,
                "--base-url",
                mock,
                "--prefix",
                prefix,
            ])
            .args(["--api-key", KEY, "--secret", SECRET])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("coord-probe starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut probe = Probe {
            child,
            stdin,
            lines,
        };
        probe.expect("READY");
        probe
    }

    /// The next line, which must start with `prefix` (its remaining words), within 60 s.
    fn expect(&mut self, prefix: &str) -> Vec<String> {
        match self.lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.starts_with(prefix) => {
                line.split_whitespace().skip(1).map(String::from).collect()
            }
            Ok(line) => panic!("expected {prefix}, the probe said {line:?}"),
            Err(RecvTimeoutError::Timeout) => panic!("no {prefix} within 60 s"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the probe exited before saying {prefix}")
            }
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the probe");
        self.stdin.flush().expect("flush");
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_reads(mock: &MockServer, task_id: &str) -> usize {
    mock.log()
        .entries()
        .iter()
        .filter(|e| e.method == "GET" && e.task_id.as_deref() == Some(task_id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_received_by_one_replica_finishes_a_wait_on_another() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mock = MockServer::start_with(
        MockConfig::fast().durations(Duration::from_millis(500), Duration::from_millis(1500)),
    )
    .await;
    let (url, base) = (redis.url(), mock.base_url());
    let prefix = "fanout";
    let mut receiver = Probe::start("receive", &url, &base, prefix, &[]);
    let listening = receiver.expect("LISTENING").remove(0);
    let mut waiter = Probe::start("wait", &url, &base, prefix, &[]);
    let mut submitter = Probe::start(
        "submit",
        &url,
        &base,
        prefix,
        &["--callback-base", &listening],
    );

    submitter.send("go");
    let submitted = submitter.expect("SUBMITTED");
    let (task_id, callback_url) = (&submitted[0], &submitted[2]);
    assert!(callback_url.starts_with(&listening), "{callback_url}");
    waiter.send(&format!("{task_id} {callback_url}"));
    let done = waiter.expect("COMPLETED");
    assert_eq!(&done[0], task_id);

    // The waiter polls every 10 minutes (60 s at most while it expects a callback): only the
    // callback that reached the receiver process, fanned out through Redis, can have ended
    // its wait after one more read.
    let waited: u64 = done[1].parse().unwrap();
    assert!(waited < 30_000, "the wait took {waited} ms");
    let delivered = mock.log().callback_attempts();
    assert!(
        delivered
            .iter()
            .any(|a| &a.task_id == task_id && a.url.starts_with(&listening)),
        "the mock delivered the callback to process 1: {delivered:?}"
    );
    assert!(
        status_reads(&mock, task_id) <= 3,
        "the waiter read on a timer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_replica_pauses_submits_on_the_others() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let retry_after = 3;
    let mock = MockServer::start_with(
        MockConfig::fast().faults(apipod_mock::FaultConfig::new().retry_after(retry_after)),
    )
    .await;
    let (url, base) = (redis.url(), mock.base_url());
    let prefix = "pause";
    let mut b = Probe::start("submit", &url, &base, prefix, &["--expect-pause"]);
    let mut c = Probe::start("submit", &url, &base, prefix, &["--expect-pause"]);
    let mut a = Probe::start("submit", &url, &base, prefix, &["--fault", "429"]);
    a.send("go");
    b.send("go");
    c.send("go");
    for replica in [&mut b, &mut c] {
        let paused: u64 = replica.expect("PAUSED")[0].parse().unwrap();
        assert!(
            paused > 1000 && paused <= retry_after * 1000,
            "paused {paused} ms"
        );
        let took: u64 = replica.expect("SUBMITTED")[1].parse().unwrap();
        // The submit waited out the pause it learned from the other replica.
        assert!(
            took + 50 >= paused,
            "submitted after {took} ms, paused {paused} ms"
        );
    }
    assert_eq!(a.expect("ERROR")[0], "rate_limit_exceeded");
    let created = mock.tasks_created();
    assert_eq!(created, 2, "B and C created one task each, A none");
}

fn coordinator(redis: &RedisServer, prefix: &str) -> Arc<RedisCoordinator> {
    Arc::new(
        RedisCoordinator::connect(
            &redis.url(),
            RedisOptions::default()
                .prefix(prefix)
                .heartbeat(Duration::from_millis(50))
                .timeout(Duration::from_millis(500)),
        )
        .unwrap(),
    )
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replica_starts_with_the_shared_durations_and_pause() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let old = coordinator(&redis, "learn");
    until("connected", || old.is_connected()).await;
    for i in 0..40 {
        old.publish(CoordEvent::TaskDuration {
            model: "seedance-2.0-t2v".into(),
            duration: Duration::from_secs(200 + i),
        });
    }
    old.publish(CoordEvent::RateLimited {
        key: KeyHash::of(KEY),
        pause: Duration::from_secs(30),
    });
    let learner = Arc::new(AdaptivePollPolicy::default());
    let fresh = coordinator(&redis, "learn");
    let client = Client::builder()
        .api_key(KEY)
        .base_url("http://127.0.0.1:9")
        .poll_policy(PollPolicy::Adaptive(learner.clone()))
        .coordinator(fresh)
        .build()
        .unwrap();
    until("the new replica learned the durations", || {
        learner.dead_zone("seedance-2.0-t2v").is_some()
    })
    .await;
    // 0.9 × the 2nd-percentile duration (200 s + 0 s) of the 40 shared ones.
    assert_eq!(
        learner.dead_zone("seedance-2.0-t2v"),
        Some(Duration::from_secs(180))
    );
    until("the new replica paused its submits", || {
        client.submits_paused_for().is_some()
    })
    .await;
    assert!(client.submits_paused_for().unwrap() > Duration::from_secs(20));
    // What reached Redis names the key by its hash only.
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert!(
        keys.iter().any(|k| k.starts_with("learn:pause:")),
        "{keys:?}"
    );
    for key in &keys {
        assert!(!key.contains(KEY), "{key}");
        let dump: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut conn).unwrap();
        assert!(!String::from_utf8_lossy(&dump).contains(KEY), "{key}");
    }
    // Another service's prefix shares nothing.
    let other_learner = Arc::new(AdaptivePollPolicy::default());
    let other = Client::builder()
        .api_key(KEY)
        .poll_policy(PollPolicy::Adaptive(other_learner.clone()))
        .coordinator(coordinator(&redis, "other-service"))
        .build()
        .unwrap();
    until("connected", || other.coordinator().is_connected()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(other_learner.dead_zone("seedance-2.0-t2v"), None);
    assert_eq!(other.submits_paused_for(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_degrades_to_in_process_and_recovers() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let mock = MockServer::start_with(
        MockConfig::fast().durations(Duration::from_millis(100), Duration::from_millis(200)),
    )
    .await;
    let replica = |coord: Arc<RedisCoordinator>| {
        Client::builder()
            .api_key(KEY)
            .base_url(mock.base_url())
            .callbacks(CallbackHub::new())
            .poll_policy(PollPolicy::Fixed(Duration::from_millis(50)))
            .coordinator(coord)
            .build()
            .unwrap()
    };
    let (a, b) = (
        replica(coordinator(&redis, "outage")),
        replica(coordinator(&redis, "outage")),
    );
    until("both connected", || {
        a.coordinator().is_connected() && b.coordinator().is_connected()
    })
    .await;

    redis.kill();
    until("both see the outage", || {
        !a.coordinator().is_connected() && !b.coordinator().is_connected()
    })
    .await;
    // Submits and waits carry on without Redis, and create exactly one task each.
    let mut ids = Vec::new();
    for client in [&a, &b, &a] {
        let request = apipod::models::SeedreamV45::new("a lighthouse at dawn");
        let submitted = client.submit(request).await.expect("submit without redis");
        let done = client
            .task(submitted.handle.clone())
            .wait_with(WaitOptions::timeout(Duration::from_secs(30)))
            .await
            .expect("wait without redis");
        ids.push(done.snapshot.task_id().to_string());
    }
    assert_eq!(mock.tasks_created(), 3);
    ids.dedup();
    assert_eq!(ids.len(), 3);

    redis.restart();
    until("both reconnected", || {
        a.coordinator().is_connected() && b.coordinator().is_connected()
    })
    .await;
    // Fan-out works again: a callback on A wakes a subscriber on B.
    let hub_b = b.callback_hub().unwrap().clone();
    let mut subscription = hub_b.subscribe("img_after_restart");
    let woke = async {
        loop {
            a.callback_received("img_after_restart");
            tokio::select! {
                _ = subscription.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), woke)
        .await
        .expect("a callback on A reaches B after Redis restarted");
    assert_eq!(mock.tasks_created(), 3, "nothing was created twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_never_fails_a_submit_or_a_wait() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mock = MockServer::start_with(MockConfig::fast()).await;
    let coord = Arc::new(
        RedisCoordinator::connect(
            &format!("redis://127.0.0.1:{port}/"),
            RedisOptions::default().heartbeat(Duration::from_millis(20)),
        )
        .unwrap(),
    );
    let client = Client::builder()
        .api_key(KEY)
        .base_url(mock.base_url())
        .callbacks(CallbackHub::new())
        .poll_policy(PollPolicy::Fixed(Duration::from_millis(20)))
        .coordinator(coord.clone())
        .build()
        .unwrap();
    for _ in 0..3 {
        let request = apipod::models::SeedreamV45::new("no redis");
        let done = client.submit(request).await.expect("submit").handle;
        client
            .task(done)
            .wait_with(WaitOptions::timeout(Duration::from_secs(30)))
            .await
            .expect("wait");
        client.callback_received("img_x");
    }
    assert!(!coord.is_connected());
    assert_eq!(mock.tasks_created(), 3);
    // Bad settings fail before anything is sent, without echoing a password.
    let err = RedisCoordinator::connect("http://user:hunter2@host/", RedisOptions::default())
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err =
        RedisCoordinator::connect("redis://127.0.0.1/", RedisOptions::default().prefix("a b"))
            .unwrap_err();
    assert!(
        err.to_string().contains("redis_prefix") || err.to_string().contains("prefix"),
        "{err}"
    );
    let debug = format!(
        "{:?}",
        RedisCoordinator::connect("redis://:hunter2@127.0.0.1:1/", RedisOptions::default())
            .unwrap()
    );
    assert!(!debug.contains("hunter2"), "{debug}");
}
