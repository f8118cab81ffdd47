//! H4: redirects, and who receives the API key.

use std::io;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path as UrlPath;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use futures::stream;
use serde_json::json;

use crate::support::*;

/// H4: redirects never carry the API key to another host: not for a result download
/// (downloads never send it, even to the API host), not for a status read or a create that
/// the API host redirects elsewhere. Redirects to `file://`, redirect loops and a body cut
/// short of its `Content-Length` fail with exit 3 and leave nothing on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_never_carry_the_key_to_another_host() {
    // The download host: serves anything, and answers API paths without checking a key.
    let other = start(|base| {
        let base = base.to_string();
        Router::new()
            .route(
                "/v1/images/status/{id}",
                // Answers about whichever task was asked for.
                get(
                    move |axum::extract::Path(id): axum::extract::Path<String>| {
                        let status = completed(&id, &[format!("{base}/files/0.png")]);
                        async move { json_answer(StatusCode::OK, &status) }
                    },
                ),
            )
            .route("/files/{*rest}", get(|| async { png() }))
            .fallback(|| async {
                json_answer(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": {"message": "who are you", "code": "invalid_api_key"}}),
                )
            })
    })
    .await;
    let to = other.base.clone();
    let api = start(move |base| {
        let results = completed(
            "img_r",
            &[
                format!("{base}/redirect/files/0.png"),
                format!("{base}/files/1.png"),
            ],
        );
        let broken = |name: &str, path: &str| {
            (
                format!("/v1/images/status/img_{name}"),
                completed(&format!("img_{name}"), &[format!("{base}{path}")]),
            )
        };
        let broken = [
            broken("file", "/to-file"),
            broken("loop", "/loop"),
            broken("short", "/short"),
        ];
        let to_status = to.clone();
        let to_create = to.clone();
        let to_files = to.clone();
        let mut router = Router::new().route(
            "/v1/images/status/img_r",
            get(move || {
                let results = results.clone();
                async move { json_answer(StatusCode::OK, &results) }
            }),
        );
        for (path, body) in broken {
            router = router.route(
                &path,
                get(move || {
                    let body = body.clone();
                    async move { json_answer(StatusCode::OK, &body) }
                }),
            );
        }
        router
            .route(
                "/v1/images/status/img_moved",
                get(move || {
                    let to = to_status.clone();
                    async move {
                        redirect(
                            StatusCode::TEMPORARY_REDIRECT,
                            &format!("{to}/v1/images/status/img_moved"),
                        )
                    }
                }),
            )
            .route(
                "/v1/images/generations",
                post(move || {
                    let to = to_create.clone();
                    async move {
                        redirect(
                            StatusCode::TEMPORARY_REDIRECT,
                            &format!("{to}/v1/images/generations"),
                        )
                    }
                }),
            )
            .route(
                "/redirect/{*rest}",
                get(move |UrlPath(rest): UrlPath<String>| {
                    let to = to_files.clone();
                    async move { redirect(StatusCode::FOUND, &format!("{to}/{rest}")) }
                }),
            )
            .route("/files/{*rest}", get(|| async { png() }))
            .route(
                "/to-file",
                get(|| async { redirect(StatusCode::FOUND, "file:///etc/passwd") }),
            )
            .route(
                "/loop",
                get(|| async { redirect(StatusCode::FOUND, "/loop") }),
            )
            .route(
                "/short",
                get(|| async {
                    // Promises 1 MB, sends 10 bytes, then the connection ends.
                    let body = stream::unfold(0, |step| async move {
                        match step {
                            0 => Some((Ok(Bytes::from_static(b"\x89PNG12345")), 1)),
                            1 => {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                Some((Err(io::Error::other("cut")), 2))
                            }
                            _ => None,
                        }
                    });
                    let mut response = Response::new(Body::from_stream(body));
                    let headers = response.headers_mut();
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
                    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("1000000"));
                    response
                }),
            )
    })
    .await;

    // A result on another host, reached through a redirect.
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let mut cmd = apipod(&api.base);
    cmd.args(["download", "img_r", "--kind", "image", "--out"])
        .arg(&out_dir);
    let (out, _) = run(cmd).await;
    assert_exit(&out, 0);
    assert_eq!(
        assert_contained(tmp.path(), &out_dir, &text(&out.stdout)).len(),
        2
    );

    // A status read and a create that the API host sends elsewhere.
    let mut cmd = apipod(&api.base);
    cmd.args(["status", "img_moved", "--kind", "image"]);
    let (out, _) = run(cmd).await;
    assert_exit(&out, 0);
    let mut cmd = apipod(&api.base);
    cmd.args([
        "generate",
        "--model",
        "seedream-v4.5",
        "--prompt",
        "p",
        "--out",
    ])
    .arg(tmp.path().join("gen"));
    let (out, _) = run(cmd).await;
    assert_exit(&out, 3);

    // A redirect to file://, a redirect loop and a cut body (the last two retried, then
    // given up), run at once.
    let ids = ["img_file", "img_loop", "img_short"];
    let runs = ids.map(|id| {
        let mut cmd = apipod(&api.base);
        cmd.args(["download", id, "--kind", "image", "--out"])
            .arg(tmp.path().join(id));
        run(cmd)
    });
    for (id, (out, _)) in ids.into_iter().zip(futures::future::join_all(runs).await) {
        assert_exit(&out, 3);
        let dir = tmp.path().join(id);
        assert!(walk(&dir).is_empty(), "{id}: {:?}", walk(&dir));
    }

    let other_hits = other.seen.hits();
    for path in [
        "/files/0.png",
        "/v1/images/status/img_moved",
        "/v1/images/generations",
    ] {
        assert!(
            other_hits.iter().any(|h| h.path == path),
            "{path} never reached the other host: {other_hits:?}"
        );
    }
    for hit in &other_hits {
        assert_eq!(
            hit.authorization, None,
            "the key reached another host: {hit:?}"
        );
    }
    // The API host itself gets the key on API calls only, never with a download.
    for hit in api.seen.hits() {
        let api_call = hit.path.starts_with("/v1/");
        assert_eq!(
            hit.authorization.is_some(),
            api_call,
            "{} {}: {:?}",
            hit.method,
            hit.path,
            hit.authorization
        );
    }
}
