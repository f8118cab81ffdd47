//! `apipod sync` (the OpenAI-compatible synchronous images API) against the in-process mock:
//! a generation, an edit from local files with a mask, and refusals before anything is sent.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The binary with a clean environment, against `--mock`.
fn apipod_mock() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apipod"));
    cmd.env_remove("APIPOD_API_KEY")
        .env_remove("APIPOD_BASE_URL")
        .env_remove("RUST_LOG")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .timeout(Duration::from_secs(120))
        .arg("--mock");
    cmd
}

#[track_caller]
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sync_generation_saves_the_images() {
    let dir = tempfile::tempdir().unwrap();
    let out = apipod_mock()
        .args([
            "sync",
            "--model",
            "wan2.7-image",
            "--prompt",
            "two red bicycles",
        ])
        .args(["--size", "1024x1024", "-n", "2", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let paths: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(paths.len(), 2, "one path per image");
    for path in paths {
        assert!(path.ends_with(".png"), "{path}");
        assert!(std::fs::read(path).unwrap().starts_with(PNG));
    }
}

#[test]
fn sync_edit_uploads_local_files_and_a_mask() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, mask) = (
        dir.path().join("a.png"),
        dir.path().join("b.png"),
        dir.path().join("mask.png"),
    );
    for (path, body) in [(&a, "a"), (&b, "b"), (&mask, "mask")] {
        std::fs::write(path, [PNG, body.as_bytes()].concat()).unwrap();
    }
    let results = dir.path().join("results");
    let out = apipod_mock()
        .args([
            "sync",
            "--model",
            "gpt-image-2",
            "--prompt",
            "add a red wool hat",
        ])
        .arg("--image-file")
        .arg(&a)
        .arg("--image-file")
        .arg(&b)
        .arg("--mask")
        .arg(&mask)
        .args(["--response-format", "url", "--json", "--out"])
        .arg(&results)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["operation"], "edit");
    assert_eq!(summary["delivery"], "direct");
    assert!(summary["request_id"].as_str().unwrap().starts_with("req_"));
    assert!(summary["usage"]["total_tokens"].as_i64().unwrap() > 0);
    let files = summary["files"].as_array().unwrap();
    assert_eq!(
        (files.len(), summary["urls"].as_array().unwrap().len()),
        (1, 1)
    );
    let file = files[0].as_str().unwrap();
    assert!(std::fs::read(file).unwrap().starts_with(PNG));
}

#[test]
fn sync_refuses_invalid_requests_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("a.png");
    std::fs::write(&image, PNG).unwrap();
    // A model that takes no input images cannot edit.
    let out = apipod_mock()
        .args([
            "sync",
            "--model",
            "seedream-v4.5",
            "--prompt",
            "x",
            "--image-file",
        ])
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot edit"));
    // A video model is not an image model.
    let out = apipod_mock()
        .args(["sync", "--model", "seedance-2.0-t2v", "--prompt", "x"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
}
