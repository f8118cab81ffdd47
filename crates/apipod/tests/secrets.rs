//! The API key never shows up in Debug/Display output, errors, panics or trace-level logs.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use apipod::models::SeedreamV45;
use apipod::{TaskKind, WaitOptions};
use support::{Reply, Scripted};

const KEY: &str = "sk-test-secret-key";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_key_never_leaks() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Scripted::start().await;
    server.push(
        "create",
        [
            Reply::error(429, "rate_limit_exceeded", "slow").header("retry-after", "1"),
            Reply::json(401, serde_json::json!({"error": {"message": "Authentication required.", "type": "invalid_request_error", "code": "invalid_api_key"}})),
        ],
    );
    server.push("status", [Reply::status("img_1", "processing")]);
    let client = support::client(&server.base_url);
    let builder = apipod::Client::builder().api_key(KEY);

    let mut shown = vec![format!("{client:?}"), format!("{builder:?}")];
    let err = client.submit(SeedreamV45::new("p")).await.unwrap_err();
    shown.push(format!("{err:?}"));
    shown.push(format!("{err}"));
    let err = client
        .task_by_id(TaskKind::Image, "img_1")
        .wait_with(WaitOptions::timeout(std::time::Duration::from_secs(10)))
        .await
        .unwrap_err();
    shown.push(format!("{err:?} {err}"));
    let invalid = client
        .submit(SeedreamV45::new("x".repeat(5000)))
        .await
        .unwrap_err();
    shown.push(format!("{invalid:?} {invalid}"));
    // What a caller's `expect` on a failed submit would print.
    let failed = client.submit(SeedreamV45::new("y".repeat(5000))).await;
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        failed.expect("boom");
    }))
    .unwrap_err();
    shown.push(panic.downcast_ref::<String>().cloned().unwrap_or_default());

    // The key did reach the server (so the test is meaningful)...
    let sent = server.seen()[0].header("authorization").unwrap();
    assert_eq!(sent, format!("Bearer {KEY}"));
    // ...and nowhere else.
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("APIPod error body"),
        "trace logging is on: {logs}"
    );
    for text in shown.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(KEY), "key leaked in: {text}");
        assert!(!text.contains("secret-key"), "key leaked in: {text}");
    }
}
