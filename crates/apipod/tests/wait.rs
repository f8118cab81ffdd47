//! Waiting: the staged schedule, deadlines, cancellation, terminal failures, unknown
//! statuses, update streams and resuming from a stored handle. All under paused time.

mod support;

use std::time::{Duration, SystemTime};

use apipod::{CancellationToken, Error, PollPolicy, TaskHandle, TaskKind, TaskStatus, WaitOptions};
use futures::StreamExt;
use support::{Reply, Scripted, client};

fn handle(task_id: &str, model: &str, kind: TaskKind) -> TaskHandle {
    TaskHandle {
        kind,
        model: model.into(),
        task_id: task_id.into(),
        idempotency_key: "k".into(),
        submitted_at: Some(SystemTime::now()),
        callback_url: None,
    }
}

fn gaps(server: &Scripted) -> Vec<(Duration, Duration)> {
    let seen = server.seen_on("status");
    let t0 = seen[0].at;
    seen.windows(2)
        .map(|w| (w[0].at - t0, w[1].at - w[0].at))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn polls_on_the_documented_staged_schedule() {
    let server = Scripted::start().await;
    let mut replies: Vec<Reply> = (0..60)
        .map(|_| Reply::status("vid_1", "processing"))
        .collect();
    replies.push(Reply::completed("vid_1", &["http://127.0.0.1:1/v.mp4"]));
    server.push("status", replies);
    let done = client(&server.base_url)
        .task(handle("vid_1", "seedance-2.0-t2v", TaskKind::Video))
        .wait()
        .await
        .unwrap();
    assert_eq!(done.outputs()[0].url, "http://127.0.0.1:1/v.mp4");
    for (age, gap) in gaps(&server) {
        let (lo, hi) = if age < Duration::from_secs(29) {
            (2.0, 3.0)
        } else if (Duration::from_secs(33)..Duration::from_secs(118)).contains(&age) {
            (6.0, 9.0)
        } else if age > Duration::from_secs(125) {
            (16.0, 24.0)
        } else {
            continue; // a gap that straddles a stage boundary
        };
        let g = gap.as_secs_f64();
        assert!(g >= lo - 0.01 && g <= hi + 0.01, "gap {g}s at age {age:?}");
    }
    // 60 reads: ~12 in the first 30 s, ~12 up to 2 min, the rest at ~20 s.
    assert_eq!(server.seen_on("status").len(), 61);
}

#[tokio::test(start_paused = true)]
async fn deadline_gives_a_resumable_timeout() {
    let server = Scripted::start().await;
    server.push("status", [Reply::status("img_1", "processing")]);
    let start = tokio::time::Instant::now();
    let err = client(&server.base_url)
        .task(handle("img_1", "seedream-v4.5", TaskKind::Image))
        .wait_with(WaitOptions::timeout(Duration::from_secs(45)))
        .await
        .unwrap_err();
    match &err {
        Error::Timeout {
            task_id,
            last,
            elapsed,
            ..
        } => {
            assert_eq!(task_id.as_deref(), Some("img_1"));
            assert_eq!(last.as_ref().unwrap().status(), &TaskStatus::Processing);
            assert!(*elapsed >= Duration::from_secs(45));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.task_id(), Some("img_1"));
    assert!(start.elapsed() < Duration::from_secs(46));
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_the_wait_with_the_task_id() {
    let server = Scripted::start().await;
    server.push("status", [Reply::status("img_1", "pending")]);
    let token = CancellationToken::new();
    let task = client(&server.base_url).task(handle("img_1", "seedream-v4.5", TaskKind::Image));
    let waiter = tokio::spawn({
        let token = token.clone();
        async move {
            task.wait_with(WaitOptions::default().with_cancel(token))
                .await
        }
    });
    tokio::time::sleep(Duration::from_secs(7)).await;
    token.cancel();
    let err = waiter.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Cancelled { task_id: Some(ref t) } if t == "img_1"),
        "{err:?}"
    );
    let reads = server.seen_on("status").len();
    assert!((2..=4).contains(&reads), "{reads}");
}

#[tokio::test(start_paused = true)]
async fn failed_and_cancelled_become_typed_errors() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [Reply::json(
            200,
            serde_json::json!({"code": 200, "message": "success", "data": {
            "task_id": "img_1", "status": "failed", "error_code": "UPSTREAM_CAPACITY_EXHAUSTED",
            "error_message": "Upstream request failed. Please retry later."}}),
        )],
    );
    let err = client(&server.base_url)
        .task(handle("img_1", "nano-banana-2", TaskKind::Image))
        .wait()
        .await
        .unwrap_err();
    match err {
        Error::TaskFailed {
            task_id,
            code,
            message,
            snapshot,
        } => {
            assert_eq!(task_id, "img_1");
            assert_eq!(code.as_deref(), Some("UPSTREAM_CAPACITY_EXHAUSTED"));
            assert_eq!(
                message.as_deref(),
                Some("Upstream request failed. Please retry later.")
            );
            assert_eq!(snapshot.status(), &TaskStatus::Failed);
        }
        other => panic!("{other:?}"),
    }
    let server = Scripted::start().await;
    server.push(
        "status",
        [Reply::json(
            200,
            serde_json::json!({"code": 200, "message": "success", "data": {
            "task_id": "vid_1", "status": "failed", "error": "content policy"}}),
        )],
    );
    let err = client(&server.base_url)
        .task(handle("vid_1", "veo3-1-fast", TaskKind::Video))
        .wait()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("content policy"), "{err}");
    let server = Scripted::start().await;
    server.push("status", [Reply::status("vid_2", "cancelled")]);
    let err = client(&server.base_url)
        .task(handle("vid_2", "veo3-1-fast", TaskKind::Video))
        .wait()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TaskFailed { snapshot, .. } if snapshot.status() == &TaskStatus::Cancelled)
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_statuses_are_waited_on_without_a_tight_loop() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [
            Reply::status("img_1", "finalizing"),
            Reply::status("img_1", "finalizing"),
            Reply::status("img_1", "finalizing"),
            Reply::completed("img_1", &["http://127.0.0.1:1/a.png"]),
        ],
    );
    let c = client(&server.base_url);
    let task = c.task(handle("img_1", "seedream-v4.5", TaskKind::Image));
    let fast = WaitOptions::default().with_poll(PollPolicy::Fixed(Duration::ZERO));
    task.wait_with(fast.clone()).await.unwrap();
    for (_, gap) in gaps(&server) {
        assert!(
            gap >= Duration::from_secs(2),
            "unknown status polled after {gap:?}"
        );
    }
    // And the wait is bounded.
    let server = Scripted::start().await;
    server.push("status", [Reply::status("img_2", "mystery")]);
    let task = client(&server.base_url).task(handle("img_2", "seedream-v4.5", TaskKind::Image));
    let err = task
        .wait_with(WaitOptions {
            max_unknown_reads: Some(5),
            ..fast
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("unknown_status"));
    assert!(
        matches!(err, apipod::Error::UnknownStatus { reads: 6, .. }),
        "{err:?}"
    );
    assert_eq!(server.seen_on("status").len(), 6);
}

#[tokio::test(start_paused = true)]
async fn updates_stream_each_change_once() {
    let server = Scripted::start().await;
    let progress = |p: i64| {
        Reply::json(
            200,
            serde_json::json!({"code": 200, "message": "success", "data": {"task_id": "img_1", "status": "processing", "progress": p}}),
        )
    };
    server.push(
        "status",
        [
            Reply::status("img_1", "pending"),
            Reply::status("img_1", "pending"),
            progress(10),
            progress(10),
            progress(60),
            Reply::completed("img_1", &["http://127.0.0.1:1/a.png"]),
        ],
    );
    let task = client(&server.base_url).task(handle("img_1", "seedream-v4.5", TaskKind::Image));
    let seen: Vec<_> = task
        .updates(WaitOptions::default())
        .map(|s| {
            let s = s.unwrap();
            (s.status().to_string(), s.progress())
        })
        .collect()
        .await;
    assert_eq!(
        seen,
        vec![
            ("pending".to_string(), None),
            ("processing".to_string(), Some(10)),
            ("processing".to_string(), Some(60)),
            ("completed".to_string(), Some(100)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_stored_handle_resumes_in_a_new_client() {
    let server = Scripted::start().await;
    server.push("create", [Reply::created("vid_7")]);
    server.push(
        "status",
        [
            Reply::status("vid_7", "processing"),
            Reply::completed("vid_7", &["http://127.0.0.1:1/v.mp4"]),
        ],
    );
    let stored = {
        let first = client(&server.base_url);
        let submitted = first
            .submit(apipod::models::Veo31Fast::new("boat"))
            .await
            .unwrap();
        serde_json::to_string(&submitted.handle).unwrap()
    };
    // "Another process": a fresh client and only the stored JSON.
    let handle: TaskHandle = serde_json::from_str(&stored).unwrap();
    assert_eq!(handle.model, "veo3-1-fast");
    let done = client(&server.base_url).task(handle).wait().await.unwrap();
    assert_eq!(done.task_id(), "vid_7");
    assert!(
        server
            .seen_on("status")
            .iter()
            .all(|s| s.path == "/v1/videos/status/vid_7")
    );
    assert_eq!(server.seen_on("create").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn status_retry_after_and_transient_errors_are_honoured() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [
            Reply::error(503, "unavailable", "busy").header("retry-after", "4"),
            Reply::status("img_1", "processing").header("retry-after", "9"),
            Reply::completed("img_1", &["http://127.0.0.1:1/a.png"]),
        ],
    );
    client(&server.base_url)
        .task(handle("img_1", "seedream-v4.5", TaskKind::Image))
        .wait()
        .await
        .unwrap();
    let g = gaps(&server);
    assert!(g[0].1 >= Duration::from_secs(4), "{g:?}");
    assert!(g[1].1 >= Duration::from_secs(9), "{g:?}");
}

#[tokio::test(start_paused = true)]
async fn an_error_code_in_a_status_body_is_an_error() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [Reply::json(
            200,
            serde_json::json!({"code": 404, "message": "task not found"}),
        )],
    );
    let err = client(&server.base_url)
        .status(TaskKind::Image, "img_nope")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(200), "{err:?}");
    assert_eq!(err.body_code(), Some(404), "{err:?}");
    assert!(err.to_string().contains("task not found"));
}

#[tokio::test(start_paused = true)]
async fn veo_object_results_are_typed() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [Reply::json(200, serde_json::json!({"code": 200, "message": "success", "data": {
            "task_id": "vid_1", "status": "completed", "completed_at": 1786358400,
            "result": {"url": "http://127.0.0.1:1/v.mp4", "width": 1280, "height": 720, "duration": 8.0}}}))],
    );
    let snap = client(&server.base_url)
        .status(TaskKind::Video, "vid_1")
        .await
        .unwrap();
    let out = &snap.outputs()[0];
    assert_eq!(
        (out.width, out.height, out.duration),
        (Some(1280), Some(720), Some(8.0))
    );
    assert_eq!(
        out.expires_at.unwrap(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1786358400 + 86_400)
    );
}

#[tokio::test(start_paused = true)]
async fn the_adaptive_policy_learns_and_skips_the_dead_zone() {
    use std::sync::Arc;
    let learner = Arc::new(apipod::AdaptivePollPolicy::default());
    for _ in 0..20 {
        learner.observe("seedream-v4.5", Duration::from_secs(60));
    }
    let server = Scripted::start().await;
    server.push(
        "status",
        [
            Reply::status("img_1", "processing"),
            Reply::status("img_1", "processing"),
            Reply::completed("img_1", &["http://127.0.0.1:1/a.png"]),
        ],
    );
    let task = client(&server.base_url).task(handle("img_1", "seedream-v4.5", TaskKind::Image));
    task.wait_with(WaitOptions::default().with_poll(apipod::PollPolicy::Adaptive(learner.clone())))
        .await
        .unwrap();
    let g = gaps(&server);
    // The first read happens at once; the next one only near the learned dead zone (54 s).
    assert!(g[0].1 >= Duration::from_secs(50), "{g:?}");
    assert_eq!(server.seen_on("status").len(), 3);
    assert_eq!(
        learner.dead_zone("seedream-v4.5"),
        Some(Duration::from_secs(54))
    );
}

#[test]
fn a_client_for_apipod_learns_from_the_spec_and_one_for_a_mock_follows_the_schedule() {
    use apipod::{Client, PollPolicy};
    let apipod = Client::builder().api_key("sk-test").build().unwrap();
    match apipod.poll_policy() {
        PollPolicy::Adaptive(learner) => {
            // Seeded from the spec: the dead zone of a known model is known before any task.
            assert!(learner.dead_zone("seedream-v4.5").is_some());
        }
        other => panic!("expected the learning policy, got {other:?}"),
    }
    let local = Client::builder()
        .api_key("sk-test")
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(local.poll_policy(), &PollPolicy::default());
    let chosen = Client::builder()
        .api_key("sk-test")
        .poll_policy(PollPolicy::Fixed(std::time::Duration::from_secs(1)))
        .build()
        .unwrap();
    assert_eq!(
        chosen.poll_policy(),
        &PollPolicy::Fixed(std::time::Duration::from_secs(1))
    );
}
