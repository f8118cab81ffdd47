//! The consuming-service flow, end to end against the local fake APIPod: submit under
//! injected faults, store the handle, resume in "another process" (a fresh client built from
//! the stored JSON alone), wait, download. No duplicate task, no secret in any output.

use std::time::Duration;

use apipod::models::{Seedance20I2v, SeedreamV45};
use apipod::{Client, DownloadOptions, PollPolicy, RetryPolicy, SubmitOptions, TaskHandle};
use apipod_mock::{FaultConfig, MockServer};

const KEY: &str = "sk-service-flow-secret";

fn client(base_url: &str) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .retry_policy(RetryPolicy {
            max_retries: 8,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        })
        .poll_policy(PollPolicy::Fixed(Duration::from_millis(20)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn submit_store_resume_wait_download_without_duplicates() {
    let server = MockServer::start().await;
    // Every create answer is lost once: the first attempt's connection is dropped after
    // APIPod accepted the task, then 503s, then success.
    server.set_faults(
        FaultConfig::new()
            .seed(7)
            .drop_rate(0.3)
            .error_rate(503, 0.2)
            .error_rate(429, 0.1)
            .retry_after(0),
    );
    let out = tempfile::tempdir().unwrap();

    // Process 1: submit and store the handles.
    let stored: Vec<String> = {
        let c = client(&server.base_url());
        let mut stored = Vec::new();
        for i in 0..12 {
            let submitted = if i % 2 == 0 {
                c.submit(SeedreamV45::new(format!("poster {i}"))).await
            } else {
                c.submit_with(
                    Seedance20I2v::new(format!("clip {i}"))
                        .image_urls(["https://example.com/a.png"]),
                    SubmitOptions::idempotency_key(format!("job-{i}")),
                )
                .await
            }
            .unwrap();
            stored.push(serde_json::to_string(&submitted.handle).unwrap());
        }
        stored
    };
    server.set_faults(FaultConfig::new());
    assert!(
        server.log().entries().iter().any(|e| e.status != 200),
        "faults were injected"
    );
    assert_eq!(server.tasks_created(), 12, "one task per logical submit");

    // Process 2: only the stored JSON and a fresh client.
    let c = client(&server.base_url());
    let mut ids = std::collections::HashSet::new();
    for json in stored {
        let handle: TaskHandle = serde_json::from_str(&json).unwrap();
        assert!(ids.insert(handle.task_id.clone()), "task ids are distinct");
        let done = c.task(handle).wait().await.unwrap();
        let files = done
            .save_all(&c, out.path(), &DownloadOptions::default())
            .await
            .unwrap();
        assert!(!files.is_empty());
        for f in &files {
            assert!(std::fs::metadata(&f.path).unwrap().len() > 0);
        }
    }
    assert_eq!(server.tasks_created(), 12);

    // A re-submit of a recovered job with its key replays instead of creating a task.
    let replay = c
        .submit_with(
            Seedance20I2v::new("clip 1").image_urls(["https://example.com/a.png"]),
            SubmitOptions::idempotency_key("job-1"),
        )
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(server.tasks_created(), 12);

    // The key went over the wire but never into anything we can print.
    let debug = format!("{c:?}");
    assert!(!debug.contains(KEY));
}
