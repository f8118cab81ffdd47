//! `apipod batch --redis`: one batch shared by several worker processes through a real
//! `redis-server` (started by each test on a free loopback port), against the mock.
//!
//! Without `redis-server` these tests return early outside CI and fail under `CI`.

#![cfg(feature = "redis")]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apipod_mock::{MockConfig, MockServer};
use apipod_tests::redis_server::RedisServer;

const BIN: &str = env!("CARGO_BIN_EXE_apipod");
const KEY: &str = "sk-batch-test";

fn jobs_file(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("jobs.jsonl");
    let lines: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"{{"id": "job-{i}", "model": "seedream-v4.5", "prompt": "picture {i}"}}"#)
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn worker(mock: &MockServer, redis: &str, jobs: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("APIPOD_API_KEY")
        .env_remove("RUST_LOG")
        .env("APIPOD_POLL_INTERVAL_MS", "50")
        .args(["--base-url", &mock.base_url(), "--api-key", KEY, "batch"])
        .arg(jobs)
        .arg("--out")
        .arg(out)
        .args([
            "--redis",
            redis,
            "--reclaim-after",
            "2",
            "--concurrency",
            "8",
        ])
        .args(extra);
    cmd
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apipod starts")
}

/// Waits for a worker to exit (within 120 s) and returns its stderr if it failed.
async fn finish(mut child: Child) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                if !status.success() {
                    let mut err = String::new();
                    use std::io::Read;
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    eprintln!("worker stderr:\n{err}");
                }
                return status;
            }
            if Instant::now() > until {
                let _ = child.kill();
                panic!("a worker did not finish within 120 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with("manifest") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// The tasks the mock created (replays excluded), and checks every one has its file in some
/// worker's output directory.
fn assert_one_task_and_file_per_job(mock: &MockServer, outs: &[PathBuf], jobs: usize) {
    let created: Vec<String> = mock
        .log()
        .entries()
        .into_iter()
        .filter_map(|e| e.created_task)
        .collect();
    let distinct: HashSet<&String> = created.iter().collect();
    assert_eq!(created.len(), jobs, "tasks created");
    assert_eq!(distinct.len(), jobs);
    assert_eq!(mock.tasks_created(), jobs);
    let files: HashSet<String> = outs.iter().flat_map(|d| files_in(d)).collect();
    for task in &distinct {
        assert!(
            files.iter().any(|f| f.starts_with(&format!("{task}-"))),
            "no file for task {task}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_midway_run_every_job_exactly_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mock = MockServer::start_with(
        MockConfig::fast().durations(Duration::from_millis(100), Duration::from_millis(200)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_file(dir.path(), 200);
    let outs: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("out-{i}")))
        .collect();
    let mut victim = spawn(worker(&mock, &redis.url(), &jobs, &outs[0], &[]));
    let survivors: Vec<Child> = outs[1..]
        .iter()
        .map(|out| spawn(worker(&mock, &redis.url(), &jobs, out, &[])))
        .collect();
    // Kill the first worker once it has finished some jobs (it then holds others).
    let until = Instant::now() + Duration::from_secs(60);
    while files_in(&outs[0]).len() < 10 {
        assert!(Instant::now() < until, "worker 0 made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
    for child in survivors {
        assert!(finish(child).await.success());
    }
    assert_one_task_and_file_per_job(&mock, &outs, 200);
    // The status, as any machine sees it.
    let status = Command::new(BIN)
        .args(["--base-url", &mock.base_url(), "--api-key", KEY, "batch"])
        .arg(&jobs)
        .args([
            "--out",
            "unused",
            "--redis",
            &redis.url(),
            "--status",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["total"], 200);
    assert_eq!(status["done"], 200);
    assert_eq!(status["failed"], 0);
    assert_eq!(status["finished"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_batch_loses_and_duplicates_nothing() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let mock = MockServer::start_with(
        MockConfig::fast().durations(Duration::from_millis(100), Duration::from_millis(200)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_file(dir.path(), 60);
    let outs: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("out-{i}")))
        .collect();
    let workers: Vec<Child> = outs
        .iter()
        .map(|out| spawn(worker(&mock, &redis.url(), &jobs, out, &[])))
        .collect();
    let until = Instant::now() + Duration::from_secs(60);
    while outs.iter().map(|o| files_in(o).len()).sum::<usize>() < 15 {
        assert!(Instant::now() < until, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Redis goes away with everything it held (no persistence) and comes back empty.
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    for child in workers {
        assert!(finish(child).await.success());
    }
    assert_one_task_and_file_per_job(&mock, &outs, 60);
}

#[test]
fn bad_redis_settings_fail_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_file(dir.path(), 2);
    for (args, expected) in [
        (
            vec!["--redis", "http://user:hunter2@host/"],
            "not a usable Redis URL",
        ),
        (
            vec!["--redis", "redis://127.0.0.1:1/", "--redis-prefix", "a b"],
            "--redis-prefix",
        ),
    ] {
        let out = Command::new(BIN)
            .args([
                "--base-url",
                "http://127.0.0.1:9",
                "--api-key",
                KEY,
                "batch",
            ])
            .arg(&jobs)
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    let out = Command::new(BIN)
        .args(["--mock", "batch"])
        .arg(&jobs)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(["--redis", "redis://127.0.0.1:1/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
