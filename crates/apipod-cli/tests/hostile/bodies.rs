//! H5-H6: endless, huge and dripping answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use crate::support::*;

/// H5: endless and huge API answers are read up to the SDK's caps (1 MiB for status and
/// create bodies, 64 KiB for error bodies) and end with exit 3; the server sees the client
/// stop reading after a few MiB at most. Oversized headers end the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_and_huge_answers_are_capped() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let server = start(move |_| {
        let (a, b, c, d, e) = (
            counter.clone(),
            counter.clone(),
            counter.clone(),
            counter.clone(),
            counter,
        );
        Router::new()
            .route(
                "/v1/images/status/img_endless",
                get(move || {
                    let sent = a.clone();
                    async move {
                        json_body(
                            StatusCode::OK,
                            endless(br#"{"code":200,"message":""#, b'a', sent),
                        )
                    }
                }),
            )
            .route(
                "/v1/images/status/img_endless_error",
                get(move || {
                    let sent = b.clone();
                    async move {
                        json_body(
                            StatusCode::BAD_REQUEST,
                            endless(br#"{"code":400,"message":""#, b'e', sent),
                        )
                    }
                }),
            )
            .route(
                "/v1/images/status/img_endless_503",
                get(move || {
                    let sent = c.clone();
                    async move {
                        let mut response = json_body(
                            StatusCode::SERVICE_UNAVAILABLE,
                            endless(b"<html>", b'x', sent),
                        );
                        response
                            .headers_mut()
                            .insert(RETRY_AFTER, HeaderValue::from_static("0"));
                        response
                    }
                }),
            )
            .route(
                "/v1/images/status/img_huge_headers",
                get(|| async {
                    let mut response = Response::new(Body::from("{}"));
                    let value = HeaderValue::from_str(&"h".repeat(512 * 1024)).unwrap();
                    for i in 0..4 {
                        response.headers_mut().insert(
                            format!("x-huge-{i}")
                                .parse::<axum::http::HeaderName>()
                                .unwrap(),
                            value.clone(),
                        );
                    }
                    response
                }),
            )
            .route(
                "/v1/images/generations",
                post(move || {
                    let sent = d.clone();
                    async move {
                        json_body(
                            StatusCode::OK,
                            endless(
                                br#"{"code":200,"message":"success","data":{"task_id":""#,
                                b'i',
                                sent,
                            ),
                        )
                    }
                }),
            )
            .route(
                "/v1/videos/generations",
                post(move || {
                    let sent = e.clone();
                    async move {
                        json_body(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            endless(br#"{"code":422,"message":""#, b'v', sent),
                        )
                    }
                }),
            )
    })
    .await;
    let cases: [(&[&str], &str); 6] = [
        (&["status", "img_endless", "--kind", "image"], "img_endless"),
        (
            &["status", "img_endless_error", "--kind", "image"],
            "img_endless_error",
        ),
        (
            &["status", "img_endless_503", "--kind", "image"],
            "img_endless_503",
        ),
        (
            &["status", "img_huge_headers", "--kind", "image"],
            "img_huge_headers",
        ),
        (
            &["generate", "--model", "seedream-v4.5", "--prompt", "p"],
            "image create",
        ),
        (
            &["generate", "--model", "seedance-2.0-t2v", "--prompt", "p"],
            "video create",
        ),
    ];
    for (args, label) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let before = sent.load(Ordering::Relaxed);
        let mut cmd = apipod(&server.base);
        cmd.args(args).args(["--out"]).arg(tmp.path().join("out"));
        if args[0] == "status" {
            cmd = apipod(&server.base);
            cmd.args(args);
        }
        let (out, took) = run(cmd).await;
        assert_exit(&out, 3);
        let stderr = text(&out.stderr);
        assert!(
            stderr.len() < 16 * 1024,
            "{label}: {} bytes of stderr",
            stderr.len()
        );
        let read = sent.load(Ordering::Relaxed) - before;
        // Retried answers are each capped too: at most 5 attempts of 64 KiB for errors.
        assert!(
            read < 24 * 1024 * 1024,
            "{label}: the server sent {read} bytes before the CLI stopped reading"
        );
        assert!(took < Duration::from_secs(45), "{label}: took {took:?}");
        assert!(walk(tmp.path()).is_empty(), "{label}: wrote files");
    }
}

/// H6: a server that sends one byte at a time, forever, holds no command longer than its
/// `--timeout`: `status`, `wait`, `generate` (the submit) and `download` (the result) exit
/// 5 within the limit plus a little, and a cut download leaves nothing on disk. An endless
/// result body is bounded the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_drips_are_bounded_by_timeout() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let server = start(move |base| {
        let results = completed(
            "img_slowfile",
            &[
                format!("{base}/drip/0.png"),
                format!("{base}/endless/1.png"),
            ],
        );
        Router::new()
            .route(
                "/v1/images/status/img_drip",
                get(|| async {
                    json_body(
                        StatusCode::OK,
                        drip(br#"{"code":200,"message":""#, Duration::from_millis(300)),
                    )
                }),
            )
            .route(
                "/v1/images/status/img_slowfile",
                get(move || {
                    let results = results.clone();
                    async move { json_answer(StatusCode::OK, &results) }
                }),
            )
            .route(
                "/v1/images/generations",
                post(|| async {
                    json_body(
                        StatusCode::OK,
                        drip(br#"{"code":200,"message":""#, Duration::from_millis(300)),
                    )
                }),
            )
            .route(
                "/drip/{name}",
                get(|| async {
                    let mut response = Response::new(drip(b"\x89PNG", Duration::from_millis(300)));
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
                    response
                }),
            )
            .route(
                "/endless/{name}",
                get(move || {
                    let sent = counter.clone();
                    async move {
                        let pace = Some(Duration::from_millis(10));
                        let mut response = Response::new(endless_paced(b"\x89PNG", 0, sent, pace));
                        response
                            .headers_mut()
                            .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
                        response
                    }
                }),
            )
    })
    .await;
    let limit = 3;
    let cases: [&[&str]; 4] = [
        &["status", "img_drip", "--kind", "image"],
        &["wait", "img_drip", "--kind", "image"],
        &["generate", "--model", "seedream-v4.5", "--prompt", "p"],
        &["download", "img_slowfile", "--kind", "image"],
    ];
    for args in cases {
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = apipod(&server.base);
        cmd.args(args).args(["--timeout", &limit.to_string()]);
        if matches!(args[0], "generate" | "download") {
            cmd.arg("--out").arg(tmp.path().join("out"));
        }
        let (out, took) = run(cmd).await;
        assert_exit(&out, 5);
        assert!(
            took < Duration::from_secs(limit + 7),
            "{args:?} took {took:?} with --timeout {limit}"
        );
        assert!(
            walk(tmp.path()).iter().all(|p| p.is_dir()),
            "{args:?}: {:?}",
            walk(tmp.path())
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains("timed out"), "{args:?}: {stderr}");
        if args[0] == "generate" {
            assert!(stderr.contains("--idempotency-key"), "{stderr}");
        }
    }
    // The endless result was streamed to disk and deleted, never held in memory; in 3 s
    // over loopback that is at most a few GiB.
    assert!(sent.load(Ordering::Relaxed) > 0);
}
