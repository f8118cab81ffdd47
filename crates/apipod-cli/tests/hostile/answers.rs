//! H7 and H9: hostile text and unusable task ids in answers.

use std::path::PathBuf;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::json;

use crate::support::*;

/// H7: text from the server (task ids, statuses, error messages) never sends escape
/// sequences to the terminal; a failed task's `download` exits 4 with its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_text_cannot_drive_the_terminal() {
    let nasty = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\r";
    let failed = json!({"code": 200, "message": "success", "data": {
        "task_id": "img_failed", "status": "failed",
        "error_code": format!("E{nasty}"), "error_message": format!("boom{nasty}"),
    }});
    let weird = json!({"code": 200, "message": "success", "data": {
        "task_id": "img_weird", "status": format!("thinking{nasty}"), "progress": 5,
    }});
    let server = start(move |_| {
        Router::new()
            .route(
                "/v1/images/status/img_failed",
                get(move || {
                    let failed = failed.clone();
                    async move { json_answer(StatusCode::OK, &failed) }
                }),
            )
            .route(
                "/v1/images/status/img_weird",
                get(move || {
                    let weird = weird.clone();
                    async move { json_answer(StatusCode::OK, &weird) }
                }),
            )
            .route(
                "/v1/images/status/img_error",
                get(move || async move {
                    json_answer(
                        StatusCode::BAD_REQUEST,
                        &json!({"code": 400, "message": format!("bad{nasty}"),
                                "data": {"type": "invalid_request_error", "error_code": format!("c{nasty}")}}),
                    )
                }),
            )
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    for (args, code) in [
        (&["status", "img_failed", "--kind", "image"][..], 0),
        (&["status", "img_weird", "--kind", "image"][..], 0),
        (&["status", "img_error", "--kind", "image"][..], 3),
        (
            &["download", "img_failed", "--kind", "image", "--out"][..],
            4,
        ),
        (
            &["download", "img_weird", "--kind", "image", "--out"][..],
            1,
        ),
    ] {
        let mut cmd = apipod(&server.base);
        cmd.args(args);
        if args[0] == "download" {
            cmd.arg(tmp.path().join("out"));
        }
        let (out, _) = run(cmd).await;
        assert_exit(&out, code);
        if code == 4 {
            assert!(text(&out.stderr).contains("boom"), "{}", text(&out.stderr));
        }
    }
}

/// H9: a create answered with a task id that cannot be one (path segments, empty, NUL,
/// 10,000 characters) is an API error (exit 3) for `generate` and for a batch job, not a
/// usage error (2): something was submitted. Nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_task_ids_from_a_create_are_api_errors() {
    let long = "i".repeat(10_000);
    for id in ["../../x", "", "a\u{0}b", "img_/..", long.as_str()] {
        let body = json!({"code": 200, "message": "success", "data": {"task_id": id}});
        let server = start(move |_| {
            Router::new().route(
                "/v1/images/generations",
                post(move || {
                    let body = body.clone();
                    async move { json_answer(StatusCode::OK, &body) }
                }),
            )
        })
        .await;
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = apipod(&server.base);
        cmd.args([
            "generate",
            "--model",
            "seedream-v4.5",
            "--prompt",
            "p",
            "--out",
        ])
        .arg(tmp.path().join("out"));
        let (out, _) = run(cmd).await;
        assert_exit(&out, 3);
        assert!(walk(tmp.path()).is_empty());
        let jobs = tmp.path().join("jobs.jsonl");
        std::fs::write(&jobs, r#"{"model": "seedream-v4.5", "prompt": "p"}"#).unwrap();
        let mut cmd = apipod(&server.base);
        cmd.arg("batch")
            .arg(&jobs)
            .arg("--out")
            .arg(tmp.path().join("batch"));
        let (out, _) = run(cmd).await;
        assert_exit(&out, 3);
        let files: Vec<PathBuf> = walk(&tmp.path().join("batch"));
        assert_eq!(files.len(), 1, "only the manifest: {files:?}");
    }
}
