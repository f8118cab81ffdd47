//! Downloads of results: naming, streaming, atomicity, retries, expiry, concurrency.
//!
//! Every server here runs on 127.0.0.1 with an ephemeral port.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apipod::{Client, DownloadOptions, Error, Output, RetryPolicy};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

fn client() -> Client {
    Client::builder()
        .api_key("sk-test-key")
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap()
}

fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        jitter: false,
        max_retry_after: Duration::from_secs(5),
    }
}

fn output(task_id: &str, index: usize, url: String) -> Output {
    Output::new(task_id, index, url).with_expiry(SystemTime::now() + Duration::from_secs(3600))
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Names of everything in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_sha256(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex(&hasher.finalize())
}

/// Deterministic pseudo-random bytes (xorshift64), so content mix-ups change checksums.
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[derive(Default)]
struct Files {
    /// name -> (content type, body)
    files: HashMap<String, (Option<&'static str>, Vec<u8>)>,
    /// Authorization headers seen.
    auth_seen: Mutex<Vec<String>>,
    hits: AtomicUsize,
}

async fn file(
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    State(files): State<Arc<Files>>,
) -> Response {
    files.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        files
            .auth_seen
            .lock()
            .unwrap()
            .push(auth.to_str().unwrap_or_default().to_string());
    }
    match files.files.get(&name) {
        Some((ct, body)) => {
            let mut response = Response::new(Body::from(body.clone()));
            if let Some(ct) = ct {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, ct.parse().unwrap());
            }
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file_server(files: Files) -> (String, Arc<Files>) {
    let files = Arc::new(files);
    let router = Router::new()
        .route("/r/{name}", get(file))
        .with_state(files.clone());
    (serve(router).await, files)
}

#[tokio::test]
async fn content_type_names_the_file_and_no_api_key_is_sent() {
    let cases: [(&str, Option<&'static str>, &str); 8] = [
        ("a", Some("image/png"), "png"),
        ("b", Some("image/jpeg"), "jpg"),
        ("c", Some("image/webp; q=1"), "webp"),
        ("d", Some("video/mp4"), "mp4"),
        ("e", Some("video/x-yuv4mpeg2"), "y4m"),
        ("f", Some("video/quicktime"), "mov"),
        ("g.gif", Some("application/octet-stream"), "gif"),
        ("h", None, "bin"),
    ];
    let mut files = Files::default();
    for (i, (name, ct, _)) in cases.iter().enumerate() {
        files.files.insert(
            name.to_string(),
            (*ct, pseudo_random(i as u64 + 1, 1000 + i)),
        );
    }
    let (base, files) = file_server(files).await;
    let dir = tempfile::tempdir().unwrap();
    let client = client();
    for (i, (name, _, ext)) in cases.iter().enumerate() {
        let out = output("img_task_1", i, format!("{base}/r/{name}?signature=s3cr3t"));
        let done = client
            .download(&out, dir.path(), &DownloadOptions::default())
            .await
            .unwrap();
        assert_eq!(done.path, dir.path().join(format!("img_task_1-{i}.{ext}")));
        let expected = &files.files[*name].1;
        assert_eq!(std::fs::read(&done.path).unwrap(), *expected);
        assert_eq!(done.bytes, expected.len() as u64);
        assert_eq!(done.sha256, sha256_hex(expected));
        assert_eq!(done.attempts, 1);
        assert_eq!(done.content_type.as_deref(), cases[i].1);
    }
    assert!(
        files.auth_seen.lock().unwrap().is_empty(),
        "the API key must never reach a result URL"
    );
    assert_eq!(
        listing(dir.path()).len(),
        cases.len(),
        "no temporary files left"
    );
}

/// Chunk `i` of the large body: a slice of one random block chosen by `i`, stamped with
/// `i`, so a lost, repeated or reordered chunk changes the checksum.
fn big_chunk(block: &[u8], i: usize, len: usize) -> Vec<u8> {
    let start = (i * 4099) % (block.len() - len);
    let mut chunk = block[start..start + len].to_vec();
    chunk[..8].copy_from_slice(&(i as u64).to_le_bytes());
    chunk
}

#[tokio::test]
async fn large_body_streams_to_disk_intact() {
    const SIZE: usize = 64 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let block = Arc::new(pseudo_random(7, 1024 * 1024));
    let mut expected = Sha256::new();
    for i in 0..SIZE / CHUNK {
        expected.update(big_chunk(&block, i, CHUNK));
    }
    let expected = hex(&expected.finalize());

    let served = block.clone();
    let big = move || {
        let block = served.clone();
        async move {
            let chunks = futures::stream::unfold(0usize, move |i| {
                let block = block.clone();
                async move {
                    (i * CHUNK < SIZE).then(|| {
                        let chunk = bytes::Bytes::from(big_chunk(&block, i, CHUNK));
                        (Ok::<_, Infallible>(chunk), i + 1)
                    })
                }
            });
            let mut response = Response::new(Body::from_stream(chunks));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, "video/mp4".parse().unwrap());
            headers.insert(header::CONTENT_LENGTH, SIZE.into());
            response
        }
    };

    let base = serve(Router::new().route("/big", get(big))).await;
    let dir = tempfile::tempdir().unwrap();
    let done = client()
        .download(
            &output("vid_1", 0, format!("{base}/big")),
            dir.path(),
            &DownloadOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(done.bytes, SIZE as u64);
    assert_eq!(done.path, dir.path().join("vid_1-0.mp4"));
    assert_eq!(done.sha256, expected);
    assert_eq!(file_sha256(&done.path), expected);
    assert_eq!(listing(dir.path()), ["vid_1-0.mp4"]);
}

/// A raw HTTP/1.1 server that announces the whole body but sends half of it and closes
/// the connection, for the first `cuts` requests; later requests get the whole body.
async fn cutting_server(body: Arc<Vec<u8>>, cuts: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let read = socket.read(&mut buf).await.unwrap();
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..read]);
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                socket.write_all(head.as_bytes()).await.unwrap();
                let sent = if n < cuts { body.len() / 2 } else { body.len() };
                socket.write_all(&body[..sent]).await.unwrap();
                socket.flush().await.unwrap();
                // Dropping the socket closes the connection.
            });
        }
    });
    (format!("http://{addr}"), requests)
}

#[tokio::test]
async fn cut_connection_leaves_nothing_on_disk() {
    let body = Arc::new(pseudo_random(42, 3 * 1024 * 1024 + 17));
    let (base, requests) = cutting_server(body, usize::MAX).await;
    let dir = tempfile::tempdir().unwrap();
    let options = DownloadOptions::default().with_retry(fast_retries(1));
    let err = client()
        .download(
            &output("img_cut", 0, format!("{base}/x.png")),
            dir.path(),
            &options,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Download { status: None, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(requests.load(Ordering::SeqCst), 2, "one retry");
    assert!(
        listing(dir.path()).is_empty(),
        "left behind: {:?}",
        listing(dir.path())
    );
}

#[tokio::test]
async fn retry_after_a_cut_produces_an_identical_file() {
    let body = Arc::new(pseudo_random(43, 2 * 1024 * 1024 + 5));
    let (base, requests) = cutting_server(body.clone(), 1).await;
    let dir = tempfile::tempdir().unwrap();
    let options = DownloadOptions::default().with_retry(fast_retries(3));
    let done = client()
        .download(
            &output("img_cut", 2, format!("{base}/x.png")),
            dir.path(),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.bytes, body.len() as u64);
    assert_eq!(done.sha256, sha256_hex(&body));
    assert_eq!(file_sha256(&done.path), sha256_hex(&body));
    assert_eq!(listing(dir.path()), ["img_cut-2.png"]);
}

#[tokio::test]
async fn server_errors_are_retried_honouring_retry_after() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new().route(
        "/flaky",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::RETRY_AFTER, "0")],
                        "busy",
                    )
                        .into_response(),
                    1 => (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response(),
                    _ => ([(header::CONTENT_TYPE, "image/webp")], "webp!").into_response(),
                }
            }
        }),
    );
    let base = serve(router).await;
    let dir = tempfile::tempdir().unwrap();
    let options = DownloadOptions::default().with_retry(fast_retries(3));
    let done = client()
        .download(
            &output("t", 0, format!("{base}/flaky")),
            dir.path(),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(done.attempts, 3);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(std::fs::read(&done.path).unwrap(), b"webp!");

    // A Retry-After longer than the policy allows fails at once instead of sleeping.
    let router = Router::new().route(
        "/limited",
        get(|| async {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "3600")],
            )
                .into_response()
        }),
    );
    let base = serve(router).await;
    let err = client()
        .download(
            &output("t", 1, format!("{base}/limited")),
            dir.path(),
            &options,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
}

#[tokio::test]
async fn expired_urls_say_the_task_must_be_regenerated() {
    let (base, files) = file_server(Files::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let client = client();
    let mut expired = output("img_old", 0, format!("{base}/r/gone?sig=1"));
    expired.expires_at = Some(SystemTime::now() - Duration::from_secs(2 * 3600));

    // Past expiry: fails before any request.
    let err = client
        .download(&expired, dir.path(), &DownloadOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("expired") && text.contains("generated again"),
        "{text}"
    );
    assert!(
        !text.contains("sig=1"),
        "signed query strings stay out of errors: {text}"
    );
    assert_eq!(files.hits.load(Ordering::SeqCst), 0);

    // Tried anyway: the 404 is reported as expiry, and not retried.
    let options = DownloadOptions::default()
        .with_allow_expired(true)
        .with_retry(fast_retries(3));
    let err = client
        .download(&expired, dir.path(), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Download {
                status: Some(404),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(files.hits.load(Ordering::SeqCst), 1);

    // A 404 before expiry is a plain not-found, not retried either.
    let fresh = output("img_new", 0, format!("{base}/r/missing"));
    let err = client
        .download(&fresh, dir.path(), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Download {
                status: Some(404),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("expired "), "{err}");
    assert_eq!(files.hits.load(Ordering::SeqCst), 2);
    assert!(listing(dir.path()).is_empty());
}

#[tokio::test]
async fn overwrite_false_refuses_to_clobber() {
    let mut files = Files::default();
    files
        .files
        .insert("n".into(), (Some("image/png"), b"new".to_vec()));
    let (base, _) = file_server(files).await;
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("img_9-0.png");
    std::fs::write(&existing, b"old").unwrap();
    let out = output("img_9", 0, format!("{base}/r/n"));
    let client = client();

    let err = client
        .download(&out, dir.path(), &DownloadOptions::default())
        .await
        .unwrap_err();
    match &err {
        Error::Io { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&existing).unwrap(), b"old");
    assert_eq!(listing(dir.path()), ["img_9-0.png"]);

    let done = client
        .download(
            &out,
            dir.path(),
            &DownloadOptions::default().with_overwrite(true),
        )
        .await
        .unwrap();
    assert_eq!(done.path, existing);
    assert_eq!(std::fs::read(&existing).unwrap(), b"new");
    assert_eq!(listing(dir.path()), ["img_9-0.png"]);
}

#[tokio::test]
async fn cancelled_download_writes_nothing() {
    let mut files = Files::default();
    files
        .files
        .insert("n".into(), (Some("image/png"), b"data".to_vec()));
    let (base, files) = file_server(files).await;
    let dir = tempfile::tempdir().unwrap();
    let cancel = apipod::CancellationToken::new();
    cancel.cancel();
    let err = client()
        .download(
            &output("img_c", 0, format!("{base}/r/n")),
            dir.path(),
            &DownloadOptions::default().with_cancel(cancel),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    assert_eq!(files.hits.load(Ordering::SeqCst), 0);
    assert!(listing(dir.path()).is_empty());
}

#[derive(Debug, Clone, Copy, Default)]
struct Load {
    active: usize,
    max: usize,
    completed: usize,
    total: usize,
    limit: usize,
}

/// Holds each request until as many are in flight as the client should allow (or as are
/// left), so a client exceeding its bound shows up in `max`, and one below it stalls.
async fn gated(
    UrlPath(i): UrlPath<usize>,
    State(load): State<Arc<watch::Sender<Load>>>,
) -> Response {
    load.send_modify(|l| {
        l.active += 1;
        l.max = l.max.max(l.active);
    });
    load.subscribe()
        .wait_for(|l| l.active >= l.limit.min(l.total - l.completed))
        .await
        .unwrap();
    load.send_modify(|l| {
        l.active -= 1;
        l.completed += 1;
    });
    ([(header::CONTENT_TYPE, "image/png")], format!("file {i}")).into_response()
}

#[tokio::test]
async fn download_all_bounds_concurrency_and_keeps_order() {
    const TOTAL: usize = 10;
    const LIMIT: usize = 3;
    let load = Arc::new(
        watch::channel(Load {
            total: TOTAL,
            limit: LIMIT,
            ..Load::default()
        })
        .0,
    );
    let base = serve(
        Router::new()
            .route("/g/{i}", get(gated))
            .with_state(load.clone()),
    )
    .await;
    let outputs: Vec<Output> = (0..TOTAL)
        .map(|i| output("img_many", i, format!("{base}/g/{i}")))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let options = DownloadOptions::default().with_concurrency(LIMIT);
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        client().download_all(&outputs, dir.path(), &options),
    )
    .await
    .expect("downloads stalled: fewer requests in flight than the bound")
    .unwrap();
    let load = *load.borrow();
    assert_eq!(load.completed, TOTAL);
    assert_eq!(
        load.max, LIMIT,
        "at most {LIMIT} requests in flight, and the bound is used"
    );
    assert_eq!(done.len(), TOTAL);
    for (i, d) in done.iter().enumerate() {
        assert_eq!(d.index, i);
        assert_eq!(d.path, dir.path().join(format!("img_many-{i}.png")));
        assert_eq!(
            std::fs::read_to_string(&d.path).unwrap(),
            format!("file {i}")
        );
    }
    assert_eq!(listing(dir.path()).len(), TOTAL);
}

#[tokio::test]
async fn save_all_downloads_every_output_of_a_completed_task() {
    let mut files = Files::default();
    files
        .files
        .insert("0".into(), (Some("image/png"), b"zero".to_vec()));
    files
        .files
        .insert("1".into(), (Some("image/jpeg"), b"one".to_vec()));
    let (base, _) = file_server(files).await;
    let detail: apipod::raw::types::TaskDetail = serde_json::from_value(serde_json::json!({
        "task_id": "img_done",
        "status": "completed",
        "result": [format!("{base}/r/0"), format!("{base}/r/1")],
        "completed_at": SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
    }))
    .unwrap();
    let completed = apipod::Completed {
        snapshot: apipod::TaskSnapshot::from_raw(apipod::TaskKind::Image, detail),
        handle: apipod::TaskHandle::from_id(apipod::TaskKind::Image, "img_done"),
    };
    let dir = tempfile::tempdir().unwrap();
    let done = completed
        .save_all(&client(), dir.path(), &DownloadOptions::default())
        .await
        .unwrap();
    let names: Vec<_> = done
        .iter()
        .map(|d| d.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["img_done-0.png", "img_done-1.jpg"]);
    assert_eq!(std::fs::read(&done[1].path).unwrap(), b"one");
}
