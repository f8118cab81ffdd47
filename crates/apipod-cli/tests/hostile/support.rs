//! The hostile servers and how the tests drive the binary.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::stream;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const BIN: &str = env!("CARGO_BIN_EXE_apipod");
/// The key every command is run with; it must reach the API host only.
pub const KEY: &str = "sk-hostile-SECRET-4f1c9a";

// ---------------------------------------------------------------- hostile servers

/// One request a hostile server received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<Hit>>>);

impl Seen {
    pub fn hits(&self) -> Vec<Hit> {
        self.0.lock().unwrap().clone()
    }
}

pub struct Server {
    pub base: String,
    pub seen: Seen,
}

pub async fn record(State(seen): State<Seen>, request: Request, next: Next) -> Response {
    seen.0.lock().unwrap().push(Hit {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        authorization: request
            .headers()
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    });
    next.run(request).await
}

/// Starts a server on 127.0.0.1 with the routes `make` builds (given the server's own base
/// URL), recording every request.
pub async fn start(make: impl FnOnce(&str) -> Router) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Seen::default();
    let app = make(&base).layer(middleware::from_fn_with_state(seen.clone(), record));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { base, seen }
}

/// `{code: 200, data: {...}}` for a completed task claiming `task_id`, with these results.
pub fn completed(task_id: &str, urls: &[String]) -> Value {
    json!({"code": 200, "message": "success", "data": {
        "task_id": task_id, "status": "completed", "progress": 100, "result": urls,
    }})
}

pub fn json_answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A server whose image status endpoint always answers `body`, and whose every other
/// path serves a few PNG-looking bytes.
pub fn status_router(body: Value) -> Router {
    Router::new()
        .route(
            "/v1/images/status/{id}",
            get(move || {
                let body = body.clone();
                async move { json_answer(StatusCode::OK, &body) }
            }),
        )
        .fallback(|| async { png() })
}

pub fn png() -> Response {
    (
        [(CONTENT_TYPE, "image/png")],
        &b"\x89PNG\r\n\x1a\nnot really a picture"[..],
    )
        .into_response()
}

/// A body that never ends, counting what it sent: `prefix`, then `fill` forever (64 KiB
/// blocks, one every `pace` when given).
pub fn endless(prefix: &'static [u8], fill: u8, sent: Arc<AtomicU64>) -> Body {
    endless_paced(prefix, fill, sent, None)
}

pub fn endless_paced(
    prefix: &'static [u8],
    fill: u8,
    sent: Arc<AtomicU64>,
    pace: Option<Duration>,
) -> Body {
    let block = Bytes::from(vec![fill; 64 * 1024]);
    let first = Bytes::from_static(prefix);
    Body::from_stream(stream::unfold(
        (Some(first), block, sent),
        move |(first, block, sent)| async move {
            if let (None, Some(pace)) = (&first, pace) {
                tokio::time::sleep(pace).await;
            }
            let chunk = first.unwrap_or_else(|| block.clone());
            sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Some((Ok::<_, io::Error>(chunk), (None, block, sent)))
        },
    ))
}

/// A body that sends `prefix`, then one byte every `every`, forever.
pub fn drip(prefix: &'static [u8], every: Duration) -> Body {
    Body::from_stream(stream::unfold(true, move |first| async move {
        if first {
            return Some((Ok::<_, io::Error>(Bytes::from_static(prefix)), false));
        }
        tokio::time::sleep(every).await;
        Some((Ok(Bytes::from_static(b" ")), false))
    }))
}

// ---------------------------------------------------------------- driving the binary

/// The binary with a clean environment, pointed at `base` with [`KEY`].
pub fn apipod(base: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("APIPOD_API_KEY")
        .env_remove("APIPOD_BASE_URL")
        .env_remove("RUST_LOG")
        .env("APIPOD_POLL_INTERVAL_MS", "20")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["--base-url", base, "--api-key", KEY])
        // A hang is a failure: the process is killed and the exit status checked below.
        .timeout(Duration::from_secs(90));
    cmd
}

/// Runs a command off the runtime the servers live on; returns its output and duration
/// (and shows both in the test's captured output).
pub async fn run(mut cmd: Command) -> (Output, Duration) {
    let shown = format!("{:?}", cmd.get_args().skip(4).collect::<Vec<_>>());
    let (out, took) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = cmd.output().expect("run apipod");
        (out, started.elapsed())
    })
    .await
    .expect("join");
    let stderr = text(&out.stderr);
    let shown: String = shown.chars().take(200).collect();
    eprintln!(
        "{shown}: exit {:?} after {took:.1?}; stderr: {}",
        out.status.code(),
        stderr.chars().take(600).collect::<String>()
    );
    (out, took)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The exit code, and what every hostile case must hold: no key and no escape character
/// in the output.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status,
    );
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY), "{stderr}");
    assert!(
        !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
        "an escape character reached the terminal:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Every file and directory below `root`, recursively (nothing when it does not exist).
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if !root.exists() {
        return found;
    }
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}

/// Everything below `root` is `out` or a plain file directly inside it, with a short name
/// made of safe characters; every path printed on stdout is one of them.
#[track_caller]
pub fn assert_contained(root: &Path, out: &Path, stdout: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in walk(root) {
        if out.starts_with(&path) {
            continue;
        }
        assert_eq!(
            path.parent(),
            Some(out),
            "{} is outside {}",
            path.display(),
            out.display()
        );
        assert!(path.is_file(), "{} is not a plain file", path.display());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= 255, "{name} is too long");
        assert!(
            !name.starts_with('.'),
            "{name}: hidden or temporary file left"
        );
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{name}"
        );
        files.push(path);
    }
    for line in stdout.lines() {
        let printed = PathBuf::from(line);
        assert!(
            files.contains(&printed),
            "printed {line}, which is not a file in {}",
            out.display()
        );
    }
    files
}

pub fn redirect(status: StatusCode, to: &str) -> Response {
    (status, [(LOCATION, to.to_string())]).into_response()
}

pub fn json_body(status: StatusCode, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
