//! Drives the built `apipod` binary against the in-process mock (`--mock`) and against mock
//! servers started by the tests themselves (loopback only).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use apipod::contract::{self, ModelContract};
use apipod_mock::{FaultConfig, FaultScope, MockConfig, MockServer};
use assert_cmd::Command;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_apipod");
const KEY: &str = "sk-cli-test";

/// The binary with a clean environment (no key, URL or log settings from the caller).
fn apipod() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("APIPOD_API_KEY")
        .env_remove("APIPOD_BASE_URL")
        .env_remove("RUST_LOG")
        .env("APIPOD_POLL_INTERVAL_MS", "20")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .timeout(Duration::from_secs(120));
    cmd
}

/// The binary pointed at a test-started mock.
fn apipod_at(server: &MockServer) -> Command {
    let mut cmd = apipod();
    cmd.args(["--base-url", &server.base_url(), "--api-key", KEY]);
    cmd
}

/// Runs a command without blocking the runtime the test's mock server lives on.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run apipod"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(&out.stdout)))
}

/// True when the model cannot run without an input image.
fn needs_image(model: &ModelContract) -> bool {
    !model.require_one_of.is_empty() || model.field("image_urls").is_some_and(|f| f.required)
}

#[track_caller]
fn assert_nonempty_files(files: &Value, dir: &Path) -> Vec<PathBuf> {
    let files: Vec<PathBuf> = files
        .as_array()
        .expect("files array")
        .iter()
        .map(|f| PathBuf::from(f.as_str().expect("file path")))
        .collect();
    assert!(!files.is_empty(), "no files");
    for file in &files {
        assert!(
            file.starts_with(dir),
            "{} is outside {}",
            file.display(),
            dir.display()
        );
        let len = std::fs::metadata(file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .len();
        assert!(len > 0, "{} is empty", file.display());
    }
    files
}

#[test]
fn mock_generate_works_for_every_model() {
    // Every model in the catalog, each with its own example request from the spec.
    assert!(!contract::MODELS.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    for model in contract::MODELS {
        let dir = tmp.path().join(model.id);
        let mut cmd = apipod();
        cmd.args(["--mock", "generate", "--model", model.id, "--example"])
            .args(["--json", "--out"])
            .arg(&dir);
        let out = cmd.output().unwrap();
        assert_exit(&out, 0);
        let result = json_of(&out);
        assert_eq!(result["model"], model.id);
        assert_eq!(result["status"], "completed");
        assert_eq!(result["kind"], model.kind.as_str());
        let prefix = match model.kind {
            apipod::TaskKind::Image => "img_",
            apipod::TaskKind::Video => "vid_",
        };
        assert!(result["task_id"].as_str().unwrap().starts_with(prefix));
        assert!(
            result["idempotency_key"]
                .as_str()
                .unwrap()
                .starts_with("apipod-cli-")
        );
        let files = assert_nonempty_files(&result["files"], &dir);
        assert_eq!(files.len(), result["urls"].as_array().unwrap().len());
        let stderr = text(&out.stderr);
        assert!(stderr.contains("submitted task"), "{stderr}");
    }
}

#[test]
fn plain_generate_prints_one_path_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = apipod()
        .args(["--mock", "generate", "--model", "seedream-v4.5"])
        .args(["--prompt", "a lighthouse at dawn", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    let paths: Vec<&str> = stdout.lines().collect();
    assert_eq!(paths.len(), 1, "{stdout}");
    let png = std::fs::read(paths[0]).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
}

#[test]
fn r2v_runs_with_only_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    let r2v: Vec<&ModelContract> = contract::MODELS
        .iter()
        .filter(|m| !m.require_one_of.is_empty())
        .collect();
    assert!(!r2v.is_empty());
    for model in r2v {
        let out = apipod()
            .args([
                "--mock", "generate", "--model", model.id, "--prompt", "dance",
            ])
            .args(["--image", "https://example.com/a.png", "--json", "--out"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert_exit(&out, 0);
        assert_nonempty_files(&json_of(&out)["files"], tmp.path());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_exits_2_with_the_library_message_and_submits_nothing() {
    let server = MockServer::start().await;
    let long = "x".repeat(5000);
    let cases: Vec<(Vec<&str>, Value)> = vec![
        (
            vec![
                "--model",
                "seedream-v4.5",
                "--prompt",
                "p",
                "--set",
                "quality=8K",
            ],
            json!({"model": "seedream-v4.5", "prompt": "p", "quality": "8K"}),
        ),
        (
            vec!["--model", "seedream-v4.5", "--prompt", &long],
            json!({"model": "seedream-v4.5", "prompt": long}),
        ),
        (
            vec!["--model", "wan2.7-image-edit", "--prompt", "make it night"],
            json!({"model": "wan2.7-image-edit", "prompt": "make it night"}),
        ),
    ];
    for (args, body) in cases {
        let expected = apipod::GenerationRequest::from_json(body)
            .unwrap_err()
            .to_string();
        let mut cmd = apipod_at(&server);
        cmd.arg("generate").args(&args);
        let out = run(cmd).await;
        assert_exit(&out, 2);
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }
    // An unknown --set key names the accepted fields.
    let mut cmd = apipod_at(&server);
    cmd.args([
        "generate",
        "--model",
        "seedream-v4.5",
        "--prompt",
        "p",
        "--set",
        "colour=red",
    ]);
    let out = run(cmd).await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("seedream-v4.5: `colour` is not a field of this model (accepted: "),
        "{stderr}"
    );
    assert!(stderr.contains("quality"), "{stderr}");
    // --callback-url on a model whose contract has no callback_url.
    let model = contract::MODELS
        .iter()
        .find(|m| !m.accepts_callback() && !needs_image(m))
        .expect("a model without callback_url");
    let mut cmd = apipod_at(&server);
    cmd.args(["generate", "--model", model.id, "--prompt", "p"])
        .args(["--callback-url", "https://example.com/hook"]);
    let out = run(cmd).await;
    assert_exit(&out, 2);
    let expected = apipod::GenerationRequest::from_json(
        json!({"model": model.id, "prompt": "p", "callback_url": "https://example.com/hook"}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        text(&out.stderr).contains(&expected),
        "{}",
        text(&out.stderr)
    );
    assert!(
        server.log().is_empty(),
        "requests were sent: {:?}",
        server.log().entries()
    );
    assert_eq!(server.tasks_created(), 0);
    server.shutdown().await;
}

#[test]
fn missing_key_is_a_usage_error() {
    let out = apipod()
        .args(["generate", "--model", "seedream-v4.5", "--prompt", "p"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no API key"), "{stderr}");
    assert!(stderr.contains("APIPOD_API_KEY"), "{stderr}");
    assert!(stderr.contains("--mock"), "{stderr}");
}

#[test]
fn failed_and_cancelled_tasks_exit_4() {
    let tmp = tempfile::tempdir().unwrap();
    for (marker, expect) in [
        (
            apipod_mock::markers::FAIL,
            apipod_mock::DEFAULT_FAILURE_CODE,
        ),
        (apipod_mock::markers::CANCEL, "cancelled"),
    ] {
        let out = apipod()
            .args(["--mock", "generate", "--model", "seedream-v4.5"])
            .args(["--prompt", &format!("a lighthouse {marker}"), "--out"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert_exit(&out, 4);
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expect), "{stderr}");
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }
}

#[test]
fn wait_deadline_exits_5() {
    let out = apipod()
        .args([
            "--mock",
            "generate",
            "--model",
            "seedream-v4.5",
            "--timeout",
            "1",
        ])
        .args([
            "--prompt",
            &format!("forever {}", apipod_mock::markers::STUCK),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 5);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("timed out"), "{stderr}");
}

#[test]
fn models_json_lists_every_model_from_the_spec() {
    let out = apipod().args(["models", "--json"]).output().unwrap();
    assert_exit(&out, 0);
    let models = json_of(&out);
    let models = models.as_array().unwrap();
    assert_eq!(models.len(), contract::MODELS.len());
    for (listed, model) in models.iter().zip(contract::MODELS) {
        assert_eq!(listed["id"], model.id);
        assert_eq!(listed["kind"], model.kind.as_str());
        assert_eq!(
            listed["fields"].as_array().unwrap().len(),
            model.fields.len()
        );
    }
    let seedream = models.iter().find(|m| m["id"] == "seedream-v4.5").unwrap();
    let quality = seedream["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "quality")
        .unwrap();
    assert_eq!(quality["enum"], json!(["2K", "4K"]));

    let out = apipod().args(["models", "seedream-v4.5"]).output().unwrap();
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("seedream-v4.5"), "{stdout}");
    assert!(stdout.contains("one of 2K|4K"), "{stdout}");

    let out = apipod().args(["models", "no-such-model"]).output().unwrap();
    assert_exit(&out, 2);
}

#[test]
fn help_documents_the_exit_codes() {
    let out = apipod().arg("--help").output().unwrap();
    assert_exit(&out, 0);
    let help = text(&out.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    for line in [
        "2    usage",
        "3    APIPod",
        "4    the task failed",
        "5    timed out",
        "130    interrupted",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_wait_and_download_against_a_test_mock() {
    let server = MockServer::start_with(MockConfig::fast()).await;
    let tmp = tempfile::tempdir().unwrap();

    let mut cmd = apipod_at(&server);
    cmd.args([
        "generate",
        "--model",
        "seedream-v4.5",
        "--prompt",
        "a red bicycle",
    ])
    .args(["--idempotency-key", "cli-test-key-1", "--no-wait"]);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    let handle = json_of(&out);
    let task_id = handle["task_id"].as_str().unwrap().to_string();
    assert_eq!(handle["kind"], "image");
    assert_eq!(handle["idempotency_key"], "cli-test-key-1");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&task_id) && stderr.contains("cli-test-key-1"),
        "{stderr}"
    );

    let mut cmd = apipod_at(&server);
    cmd.args(["status", &task_id, "--json"]);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    let status = json_of(&out);
    assert_eq!(status["task_id"], task_id.as_str());
    assert_eq!(status["kind"], "image");

    let mut cmd = apipod_at(&server);
    cmd.args(["wait", &task_id]);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    let urls = text(&out.stdout);
    assert_eq!(urls.lines().count(), 1, "{urls}");
    assert!(urls.starts_with(&server.base_url()), "{urls}");

    let dir = tmp.path().join("downloaded");
    let mut cmd = apipod_at(&server);
    cmd.args(["download", &task_id, "--json", "--out"])
        .arg(&dir);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    assert_nonempty_files(&json_of(&out)["files"], &dir);

    let mut cmd = apipod_at(&server);
    cmd.args(["status", &task_id]);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("completed"),
        "{}",
        text(&out.stdout)
    );

    // The same id as a video task does not exist: an API error.
    let mut cmd = apipod_at(&server);
    cmd.args(["status", &task_id, "--kind", "video"]);
    let out = run(cmd).await;
    assert_exit(&out, 3);

    // An id without a kind prefix is tried as an image task, then as a video task.
    let mut cmd = apipod_at(&server);
    cmd.args(["status", "task-without-prefix"]);
    let out = run(cmd).await;
    assert_exit(&out, 3);
    assert!(
        text(&out.stderr).contains("was found neither as an image nor as a video task"),
        "{}",
        text(&out.stderr)
    );
    let lookups: Vec<String> = server
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.path.ends_with("/task-without-prefix"))
        .map(|e| e.path)
        .collect();
    assert_eq!(
        lookups,
        [
            "/v1/images/status/task-without-prefix",
            "/v1/videos/status/task-without-prefix"
        ]
    );

    // Re-submitting with the same key replays the task.
    let mut cmd = apipod_at(&server);
    cmd.args([
        "generate",
        "--model",
        "seedream-v4.5",
        "--prompt",
        "a red bicycle",
    ])
    .args(["--idempotency-key", "cli-test-key-1", "--no-wait"]);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    assert_eq!(json_of(&out)["task_id"], task_id.as_str());
    assert_eq!(server.tasks_created(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_of_an_unfinished_task_exits_1() {
    let server = MockServer::start().await;
    let mut cmd = apipod_at(&server);
    cmd.args(["generate", "--model", "seedream-v4.5", "--no-wait"])
        .args(["--prompt", &format!("slow {}", apipod_mock::markers::STUCK)]);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    let task_id = json_of(&out)["task_id"].as_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = apipod_at(&server);
    cmd.args(["download", &task_id, "--out"]).arg(tmp.path());
    let out = run(cmd).await;
    assert_exit(&out, 1);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("has no results yet"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "apipod --base-url {} wait {task_id} --kind image",
            server.base_url()
        )),
        "{stderr}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
    let faults = FaultConfig::new()
        .seed(11)
        .scope(FaultScope::Creates)
        .error_rate(429, 0.25)
        .error_rate(503, 0.15)
        .error_rate(500, 0.1)
        .retry_after(0);
    let server = MockServer::start_with(MockConfig::fast().faults(faults)).await;
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let mut cmd = apipod_at(&server);
        cmd.args(["generate", "--model", "nano-banana-2", "--json"])
            .args(["--prompt", &format!("picture {i}"), "--out"])
            .arg(tmp.path());
        let out = run(cmd).await;
        assert_exit(&out, 0);
        assert_nonempty_files(&json_of(&out)["files"], tmp.path());
        assert_eq!(server.tasks_created(), i + 1);
    }
    let creates = server.log().entries_for("/v1/images/generations");
    let faulted = creates.iter().filter(|e| e.fault.is_some()).count();
    assert!(faulted > 0, "no create was faulted: {creates:?}");
    assert_eq!(creates.len(), 3 + faulted);
    assert_eq!(
        creates.iter().filter(|e| e.created_task.is_some()).count(),
        3
    );
    server.shutdown().await;
}

/// Writes `n` jobs (mixed image models, some with ids) and returns the file.
fn write_jobs(dir: &Path, n: usize) -> PathBuf {
    let mut lines = String::new();
    for i in 0..n {
        let job = if i % 3 == 0 {
            json!({"id": format!("job-{i}"), "model": "seedream-v4.5", "prompt": format!("lighthouse {i}")})
        } else {
            json!({"model": "nano-banana-2", "prompt": format!("bicycle {i}"), "aspect_ratio": "16:9"})
        };
        lines.push_str(&job.to_string());
        lines.push('\n');
    }
    let path = dir.join("jobs.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

fn manifest_events(dir: &Path, event: &str) -> usize {
    std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == event)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_resumes_after_a_kill_without_duplicate_tasks() {
    const JOBS: usize = 10;
    // Slow enough tasks that the first run is still busy when it is killed.
    let config = MockConfig::fast().durations(Duration::from_millis(100), Duration::from_secs(2));
    let server = MockServer::start_with(config).await;
    let tmp = tempfile::tempdir().unwrap();
    let jobs = write_jobs(tmp.path(), JOBS);
    let out_dir = tmp.path().join("out");

    let mut child = std::process::Command::new(BIN)
        .env_remove("APIPOD_API_KEY")
        .env_remove("APIPOD_BASE_URL")
        .env_remove("RUST_LOG")
        .env("APIPOD_POLL_INTERVAL_MS", "20")
        .args(["--base-url", &server.base_url(), "--api-key", KEY, "batch"])
        .arg(&jobs)
        .args(["--concurrency", "3", "--out"])
        .arg(&out_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while manifest_events(&out_dir, "submitted") < 2 {
        assert!(
            Instant::now() < deadline,
            "the batch never submitted anything"
        );
        assert!(child.try_wait().unwrap().is_none(), "the batch ended early");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done_before = manifest_events(&out_dir, "completed");
    assert!(
        done_before < JOBS,
        "the first run finished before it was killed"
    );
    let created_before = server.tasks_created();
    assert!(created_before >= 2);

    let mut cmd = apipod_at(&server);
    cmd.arg("batch")
        .arg(&jobs)
        .args(["--concurrency", "4", "--json", "--out"])
        .arg(&out_dir);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    let summary = json_of(&out);
    assert_eq!(summary["total"], JOBS);
    assert_eq!(summary["completed"], JOBS);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["completed_earlier"], done_before);
    for job in summary["jobs"].as_array().unwrap() {
        assert_eq!(job["status"], "completed", "{job}");
        assert_nonempty_files(&job["files"], &out_dir);
    }
    assert!(
        text(&out.stderr).contains("resuming from"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.tasks_created(), JOBS, "duplicate tasks were created");

    // A third run has nothing left to do and creates nothing.
    let mut cmd = apipod_at(&server);
    cmd.arg("batch")
        .arg(&jobs)
        .args(["--json", "--out"])
        .arg(&out_dir);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    assert_eq!(json_of(&out)["completed_earlier"], JOBS);
    assert_eq!(server.tasks_created(), JOBS);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_resubmits_a_lost_submit_with_the_same_key() {
    const JOBS: usize = 4;
    // Every create is refused: the first run records keys but no task.
    let refuse = FaultConfig::new()
        .scope(FaultScope::Creates)
        .error_rate(400, 1.0);
    let server = MockServer::start_with(MockConfig::fast().faults(refuse)).await;
    let tmp = tempfile::tempdir().unwrap();
    let jobs = write_jobs(tmp.path(), JOBS);
    let out_dir = tmp.path().join("out");
    let mut cmd = apipod_at(&server);
    cmd.arg("batch").arg(&jobs).args(["--out"]).arg(&out_dir);
    let out = run(cmd).await;
    assert_exit(&out, 3);
    assert_eq!(server.tasks_created(), 0);

    // Pretend the first job's submit reached APIPod and only the answer was lost: create its
    // task with the recorded key, as the lost request would have.
    let manifest = std::fs::read_to_string(out_dir.join("manifest.jsonl")).unwrap();
    let prepared: Vec<Value> = manifest
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "prepared")
        .collect();
    assert_eq!(prepared.len(), JOBS);
    let first = prepared.iter().find(|r| r["line"] == 1).unwrap();
    let key = first["idempotency_key"].as_str().unwrap().to_string();
    let body: Value = serde_json::from_str(
        std::fs::read_to_string(&jobs)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let mut body = body.as_object().unwrap().clone();
    body.remove("id");
    server.set_faults(FaultConfig::new());
    let client = apipod::Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let lost = client
        .submit_with(
            apipod::GenerationRequest::from_json(Value::Object(body)).unwrap(),
            apipod::SubmitOptions::idempotency_key(key.clone()),
        )
        .await
        .unwrap();
    assert_eq!(server.tasks_created(), 1);

    let mut cmd = apipod_at(&server);
    cmd.arg("batch")
        .arg(&jobs)
        .args(["--json", "--out"])
        .arg(&out_dir);
    let out = run(cmd).await;
    assert_exit(&out, 0);
    let summary = json_of(&out);
    assert_eq!(summary["completed"], JOBS);
    let job = summary["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["line"] == 1)
        .unwrap();
    assert_eq!(job["task_id"], lost.handle.task_id.as_str());
    assert_eq!(
        server.tasks_created(),
        JOBS,
        "the lost submit was duplicated"
    );
    let replays = server
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.replay && e.idempotency_key.as_deref() == Some(key.as_str()))
        .count();
    assert_eq!(replays, 1);
    server.shutdown().await;
}

#[test]
fn batch_with_an_invalid_line_submits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let jobs = tmp.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        "{\"model\": \"seedream-v4.5\", \"prompt\": \"ok\"}\n{\"model\": \"seedream-v4.5\", \"prompt\": \"p\", \"quality\": \"8K\"}\n",
    )
    .unwrap();
    let out = apipod()
        .args(["--mock", "batch"])
        .arg(&jobs)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 2: invalid request: seedream-v4.5: `quality` is \"8K\""),
        "{stderr}"
    );
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn failed_jobs_make_the_batch_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let jobs = tmp.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        format!(
            "{{\"model\": \"seedream-v4.5\", \"prompt\": \"fine\"}}\n{{\"model\": \"seedream-v4.5\", \"prompt\": \"doomed {}\"}}\n",
            apipod_mock::markers::FAIL
        ),
    )
    .unwrap();
    let out = apipod()
        .args(["--mock", "batch"])
        .arg(&jobs)
        .args(["--json", "--out"])
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert_exit(&out, 4);
    let summary = json_of(&out);
    assert_eq!(summary["completed"], 1);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["jobs"][1]["exit_code"], 4);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_waiting_and_prints_how_to_resume() {
    let server = MockServer::start().await;
    let mut child = std::process::Command::new(BIN)
        .env_remove("APIPOD_API_KEY")
        .env_remove("APIPOD_BASE_URL")
        .env_remove("RUST_LOG")
        .env("APIPOD_POLL_INTERVAL_MS", "20")
        .args(["--base-url", &server.base_url(), "--api-key", KEY])
        .args(["generate", "--model", "seedream-v4.5"])
        .args([
            "--prompt",
            &format!("never {}", apipod_mock::markers::STUCK),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let stderr = child.stderr.take().unwrap();
    let collected = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        // The resume hint is printed once the Ctrl-C handler is installed and the task exists.
        for line in lines.by_ref() {
            let line = line.unwrap();
            let ready = line.starts_with("resume with:");
            seen.push(line);
            if ready {
                let status = std::process::Command::new("kill")
                    .args(["-INT", &pid])
                    .status()
                    .unwrap();
                assert!(status.success());
                break;
            }
        }
        seen.extend(lines.map(|l| l.unwrap()));
        seen
    })
    .await
    .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let stderr = collected.join("\n");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted while waiting for task img_"),
        "{stderr}"
    );
    assert!(
        stderr.contains("resume with: apipod --base-url"),
        "{stderr}"
    );
    assert!(stderr.contains(" --kind image"), "{stderr}");
    assert_eq!(server.tasks_created(), 1);
    server.shutdown().await;
}

#[test]
fn closed_stdout_is_not_an_error() {
    let mut child = std::process::Command::new(BIN)
        .args(["models", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_models_get_a_cli_message_with_suggestions() {
    let out = apipod()
        .args([
            "--mock",
            "generate",
            "--model",
            "gpt-image-3",
            "--prompt",
            "p",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unknown model \"gpt-image-3\""), "{stderr}");
    assert!(stderr.contains("did you mean gpt-image-2"), "{stderr}");
    assert!(stderr.contains("apipod models"), "{stderr}");
    assert!(!stderr.contains("GenerationRequest"), "{stderr}");
}

#[test]
fn models_schema_prints_the_contract_as_json_schema() {
    let out = apipod()
        .args(["models", "seedream-v4.5", "--schema"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let schema = json_of(&out);
    let model = contract::find("seedream-v4.5").unwrap();
    assert_eq!(schema["properties"]["model"]["const"], "seedream-v4.5");
    let prompt = model.field("prompt").unwrap();
    assert_eq!(
        schema["properties"]["prompt"]["maxLength"].as_u64(),
        prompt.max_length
    );
    let ratios: Vec<&str> = schema["properties"]["aspect_ratio"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ratios, model.field("aspect_ratio").unwrap().enum_values);
    assert_eq!(schema["required"], serde_json::json!(["model", "prompt"]));
    // Without a model, --schema is a usage error.
    let out = apipod().args(["models", "--schema"]).output().unwrap();
    assert_exit(&out, 2);
}
