//! `apipod assets`: upload (with and without --wait) and show, against the in-process mock
//! (`--mock`) and against a mock server started by the test.

use std::process::Output;
use std::time::Duration;

use apipod_mock::{ASSET_FAILURE_MESSAGE, MockServer};
use assert_cmd::Command;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_apipod");

/// The binary with a clean environment.
fn apipod() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("APIPOD_API_KEY")
        .env_remove("APIPOD_BASE_URL")
        .env_remove("RUST_LOG")
        .env("APIPOD_POLL_INTERVAL_MS", "20")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .timeout(Duration::from_secs(60));
    cmd
}

/// Runs a command without blocking the runtime a test's mock server lives on.
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
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(&out.stdout)))
}

#[test]
fn upload_wait_prints_active_and_the_reference() {
    let out = apipod()
        .args([
            "--mock",
            "assets",
            "upload",
            "https://cdn.example.com/person.png",
        ])
        .args(["--type", "image", "--name", "Person reference", "--wait"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("status:    ACTIVE"), "{stdout}");
    assert!(stdout.contains("reference: assetId://asset-"), "{stdout}");
    assert!(stdout.contains("type:      Image"), "{stdout}");
    assert!(stdout.contains("name:      Person reference"), "{stdout}");
    assert!(text(&out.stderr).contains("registered asset assetId://asset-"));

    let out = apipod()
        .args([
            "--mock",
            "assets",
            "upload",
            "https://cdn.example.com/clip.mp4",
        ])
        .args(["--type", "video", "--wait", "--timeout", "30s", "--json"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let asset = json_of(&out);
    assert_eq!(asset["status"], "ACTIVE");
    assert_eq!(asset["asset_type"], "Video");
    let id = asset["asset_id"].as_str().unwrap();
    assert_eq!(asset["reference"], format!("assetId://{id}"));
    assert!(asset["error_message"].is_null());
}

#[test]
fn upload_without_wait_returns_at_once() {
    let out = apipod()
        .args([
            "--mock",
            "assets",
            "upload",
            "https://cdn.example.com/a.mp3",
        ])
        .args(["--type", "audio", "--json"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let asset = json_of(&out);
    assert_eq!(asset["status"], "NONE");
    assert_eq!(asset["asset_type"], "Audio");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_reads_an_uploaded_asset_by_id_or_reference() {
    let server = MockServer::start().await;
    let at = |args: &[&str]| {
        let mut cmd = apipod();
        cmd.args(["--base-url", &server.base_url(), "--api-key", "sk-cli-test"])
            .args(args);
        cmd
    };
    let out = run(at(&[
        "assets",
        "upload",
        "https://cdn.example.com/a.png",
        "--type",
        "image",
        "--json",
    ]))
    .await;
    assert_exit(&out, 0);
    let id = json_of(&out)["asset_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let out = run(at(&[
        "assets",
        "show",
        &format!("assetId://{id}"),
        "--json",
    ]))
    .await;
    assert_exit(&out, 0);
    let shown = json_of(&out);
    assert_eq!(shown["asset_id"], id.as_str());
    assert_eq!(shown["status"], "ACTIVE");
    assert_eq!(shown["url"], "https://cdn.example.com/a.png");

    let out = run(at(&["assets", "show", &id])).await;
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("asset:     {id}")), "{stdout}");
    assert!(stdout.contains("status:    ACTIVE"), "{stdout}");
    assert_eq!(server.assets_created(), 1);
}

#[test]
fn an_unusable_asset_exits_4_with_the_reason() {
    for (marker, status) in [("mock-fail", "FAILED"), ("mock-expire", "EXPIRED")] {
        let out = apipod()
            .args(["--mock", "assets", "upload"])
            .arg(format!("https://cdn.example.com/{marker}/a.png"))
            .args(["--type", "image", "--wait"])
            .output()
            .unwrap();
        assert_exit(&out, 4);
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("is {status}")), "{stderr}");
        if status == "FAILED" {
            assert!(stderr.contains(ASSET_FAILURE_MESSAGE), "{stderr}");
        }
        assert!(stderr.contains("upload the file again"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_wait_past_its_timeout_exits_5() {
    let started = std::time::Instant::now();
    let out = apipod()
        .args([
            "--mock",
            "assets",
            "upload",
            "https://cdn.example.com/mock-stuck/a.png",
        ])
        .args(["--type", "image", "--wait", "--timeout", "1500ms"])
        .output()
        .unwrap();
    assert_exit(&out, 5);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("timed out after"), "{stderr}");
    assert!(stderr.contains("to become ACTIVE"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn bad_input_exits_2_and_unknown_assets_exit_3() {
    for args in [
        vec![
            "assets",
            "upload",
            "ftp://cdn.example.com/a.png",
            "--type",
            "image",
        ],
        vec![
            "assets",
            "upload",
            "https://cdn.example.com/a.png",
            "--type",
            "text",
        ],
        vec![
            "assets",
            "upload",
            "https://cdn.example.com/a.png",
            "--type",
            "image",
            "--timeout",
            "5s",
        ],
        vec![
            "assets",
            "upload",
            "https://cdn.example.com/a.png",
            "--type",
            "image",
            "--wait",
            "--timeout",
            "soon",
        ],
        vec!["assets", "show", "a b"],
        vec!["assets", "show", "assetId://"],
    ] {
        let out = apipod().arg("--mock").args(&args).output().unwrap();
        assert_exit(&out, 2);
    }
    let out = apipod()
        .args(["--mock", "assets", "show", "asset-20260101000000-missing"])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    assert!(text(&out.stderr).contains("asset not found"));
}
