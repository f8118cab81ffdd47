//! H1-H3: where result files go and what they are called.

use axum::Router;
use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;

use crate::support::*;

/// H1: task ids and result URLs from the server cannot place a file outside `--out`, nor
/// give it a hidden, overlong or unprintable name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_ids_and_urls_cannot_place_files_outside_out() {
    let long = "a/".repeat(20_000);
    let hostile_ids = [
        "../../escape",
        "/etc/passwd",
        "..",
        ".hidden",
        "a/../../../b",
        "C:\\Windows\\evil",
        "nul\u{0}byte",
        "new\nline\u{1b}[2J",
        "ünïcødé/≠",
        "",
        long.as_str(),
        // The id asked for: the hostile result URLs alone still land inside --out.
        "img_1",
    ];
    for id in hostile_ids {
        let body_id = id.to_string();
        let server = start(move |base| {
            status_router(completed(
                &body_id,
                &[
                    format!("{base}/files/..%2F..%2Fescape.png"),
                    format!("{base}/files/../../../../tmp/escape.png"),
                    format!("{base}/files/x.png?name=../../escape"),
                ],
            ))
        })
        .await;
        let tmp = tempfile::tempdir().unwrap();
        let out_dir = tmp.path().join("deep/out");
        let mut cmd = apipod(&server.base);
        cmd.args(["download", "img_1", "--kind", "image", "--out"])
            .arg(&out_dir);
        let (out, _) = run(cmd).await;
        if id == "img_1" {
            assert_exit(&out, 0);
            let files = assert_contained(tmp.path(), &out_dir, &text(&out.stdout));
            assert_eq!(files.len(), 3, "task id {id:?}: {files:?}");
        } else {
            // An answer about another task than the one asked for is refused by the SDK
            // before any file is named after it.
            assert_exit(&out, 3);
            assert!(text(&out.stderr).contains("another task"), "{id:?}");
            assert!(walk(tmp.path()).is_empty(), "task id {id:?}");
        }
    }
}

/// H2: the user's own id is checked before anything is sent: path separators and dot
/// segments exit 2 and no request leaves the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_task_id_arguments_send_nothing() {
    let server = start(|_| Router::new()).await;
    for id in ["../../x", "..", "a/b", "/etc/passwd"] {
        let tmp = tempfile::tempdir().unwrap();
        for command in ["status", "download"] {
            let mut cmd = apipod(&server.base);
            cmd.args([command, id, "--kind", "image", "--out"])
                .arg(tmp.path().join("out"));
            if command == "status" {
                cmd = apipod(&server.base);
                cmd.args([command, id, "--kind", "image"]);
            }
            let (out, _) = run(cmd).await;
            assert_exit(&out, 2);
        }
        assert!(walk(tmp.path()).is_empty());
    }
    assert!(server.seen.hits().is_empty(), "{:?}", server.seen.hits());
}

/// H3: the Content-Type and the URL only choose an extension from a short safe list
/// (`[a-z0-9]{1,5}`, else `bin`); nothing in them reaches the path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_content_types_only_pick_safe_extensions() {
    const TYPES: &[&[u8]] = &[
        b"../../../../tmp/evil",
        b"image/png/../../x",
        b"image/png; filename=../../evil.sh",
        b"text/html; charset=../../x",
        b"image/p\xffng",
        b"application/x-sh",
        b"video/mp4\t",
    ];
    let long_type = "a".repeat(8000);
    let server = start(|base| {
        let mut urls: Vec<String> = (0..TYPES.len())
            .map(|i| format!("{base}/ct/{i}/result.bin"))
            .collect();
        urls.push(format!("{base}/ct/long/evil.sh"));
        urls.push(format!("{base}/ct/none/a.toolongext"));
        urls.push(format!("{base}/ct/none/a.p%2Fg"));
        urls.push(format!("{base}/ct/none/.htaccess"));
        urls.push(format!("{base}/ct/none/IMAGE.PnG"));
        let body = completed("img_ct", &urls);
        Router::new()
            .route(
                "/v1/images/status/{id}",
                get(move || {
                    let body = body.clone();
                    async move { json_answer(StatusCode::OK, &body) }
                }),
            )
            .route(
                "/ct/{which}/{name}",
                get(move |UrlPath((which, _name)): UrlPath<(String, String)>| {
                    let long_type = long_type.clone();
                    async move {
                        let mut response = Response::new(Body::from("payload"));
                        let value = match which.as_str() {
                            "long" => HeaderValue::from_str(&long_type).unwrap(),
                            "none" => return response,
                            i => {
                                HeaderValue::from_bytes(TYPES[i.parse::<usize>().unwrap()]).unwrap()
                            }
                        };
                        response.headers_mut().insert(CONTENT_TYPE, value);
                        response
                    }
                }),
            )
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let mut cmd = apipod(&server.base);
    cmd.args(["download", "img_ct", "--kind", "image", "--out"])
        .arg(&out_dir);
    let (out, _) = run(cmd).await;
    assert_exit(&out, 0);
    let files = assert_contained(tmp.path(), &out_dir, &text(&out.stdout));
    assert_eq!(files.len(), TYPES.len() + 5);
    for file in &files {
        let ext = file.extension().unwrap().to_str().unwrap();
        assert!(
            (1..=5).contains(&ext.len())
                && ext
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{}",
            file.display()
        );
    }
}
