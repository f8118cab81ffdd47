//! Callback delivery to a receiver on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use apipod_mock::{CallbackOutcome, MockConfig, MockServer, markers};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::Api;

/// One request the receiver got.
struct Delivery {
    user_agent: String,
    body: Value,
}

struct Receiver {
    /// Answer 500 to this many requests first, then `ok`.
    fail_first: usize,
    ok: StatusCode,
    seen: AtomicUsize,
    tx: mpsc::UnboundedSender<Delivery>,
}

/// Starts a callback receiver; returns its URL and the stream of deliveries.
async fn receiver(
    fail_first: usize,
    ok: StatusCode,
) -> (String, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(Receiver {
        fail_first,
        ok,
        seen: AtomicUsize::new(0),
        tx,
    });
    async fn hook(
        State(r): State<Arc<Receiver>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let n = r.seen.fetch_add(1, Ordering::SeqCst);
        let _ = r.tx.send(Delivery {
            user_agent: headers["user-agent"].to_str().unwrap().to_string(),
            body: serde_json::from_slice(&body).unwrap(),
        });
        if n < r.fail_first {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            r.ok
        }
    }
    let app = Router::new()
        .route("/hooks/apipod/secret-token", post(hook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/apipod/secret-token",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(600), rx.recv())
        .await
        .expect("a callback arrives")
        .expect("receiver open")
}

fn iso_time(value: &Value) -> SystemTime {
    humantime::parse_rfc3339(value.as_str().expect("an ISO-8601 string")).unwrap()
}

#[tokio::test(start_paused = true)]
async fn completion_is_delivered_with_retries_and_a_duplicate() {
    let (url, mut rx) = receiver(2, StatusCode::NO_CONTENT).await;
    let server = MockServer::start_with(MockConfig::fast().duplicate_callbacks(true)).await;
    let api = Api::new(&server);
    let body = json!({"model": "seedream-v4.5", "prompt": "p", "callback_url": url});
    let response = api.create("images", &body).await;
    let create_request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let task_id = response.json::<Value>().await.unwrap()["data"]["task_id"]
        .as_str()
        .unwrap()
        .to_string();

    let deliveries = [
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
    for d in &deliveries {
        assert_eq!(d.user_agent, "APIPod-Callback/1.0");
        assert_eq!(
            d.body, deliveries[0].body,
            "every attempt sends the same body"
        );
    }
    let body = &deliveries[0].body;
    assert_eq!(body["task_id"], task_id.as_str());
    assert_eq!(body["request_id"], create_request_id.as_str());
    assert_eq!(body["status"], "completed");
    assert_eq!(
        body["result"][0],
        format!("{}/files/{task_id}/0.png", server.base_url())
    );
    let (created, completed) = (
        iso_time(&body["created_at"]),
        iso_time(&body["completed_at"]),
    );
    assert!(created <= completed);
    // The task reads the same as the callback said.
    let data = api.data("images", &task_id).await;
    assert_eq!(data["result"], body["result"]);

    let attempts = server.log().callback_attempts();
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.duplicate, a.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, false, CallbackOutcome::Rejected(500)),
            (2, false, CallbackOutcome::Rejected(500)),
            (3, false, CallbackOutcome::Delivered(204)),
            (4, true, CallbackOutcome::Delivered(204)),
        ]
    );
    // Nothing else is sent.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn failures_are_delivered_and_retries_stop_after_five() {
    let (url, mut rx) = receiver(usize::MAX, StatusCode::OK).await;
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let body = json!({"model": "veo3-1-fast", "prompt": format!("p {}", markers::FAIL), "callback_url": url});
    let task_id = api.create_ok("videos", &body).await;
    for _ in 0..5 {
        let d = next(&mut rx).await;
        assert_eq!(d.body["task_id"], task_id.as_str());
        assert_eq!(d.body["status"], "failed");
        assert!(d.body["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(d.body["completed_at"].is_string());
    }
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(rx.try_recv().is_err(), "no sixth attempt");
    let attempts = server.log().callback_attempts();
    assert_eq!(attempts.len(), 5);
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == CallbackOutcome::Rejected(500))
    );
}

#[tokio::test(start_paused = true)]
async fn unreachable_receivers_are_retried() {
    // Bind and close a port so nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let url = format!("http://localhost:{port}/hook");
    api.create_ok(
        "images",
        &json!({"model": "nano-banana-pro", "prompt": "p", "callback_url": url}),
    )
    .await;
    for _ in 0..200 {
        if server.log().callback_attempts().len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts = server.log().callback_attempts();
    assert_eq!(attempts.len(), 5);
    assert!(
        attempts
            .iter()
            .all(|a| matches!(a.outcome, CallbackOutcome::Failed(_)))
    );
}

#[tokio::test(start_paused = true)]
async fn only_loopback_receivers_are_called() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api
        .create_ok("images", &json!({"model": "seedream-v4.5", "prompt": "p", "callback_url": "http://example.com/hook"}))
        .await;
    api.wait("images", &id).await;
    for _ in 0..100 {
        if !server.log().callback_attempts().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let attempts = server.log().callback_attempts();
    assert_eq!(attempts.len(), 1);
    assert!(
        matches!(&attempts[0].outcome, CallbackOutcome::Refused(reason) if reason.contains("loopback"))
    );
}

#[tokio::test(start_paused = true)]
async fn cancelled_tasks_and_empty_urls_send_nothing() {
    let (url, mut rx) = receiver(0, StatusCode::OK).await;
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let cancelled = api
        .create_ok(
            "images",
            &json!({"model": "seedream-v4.5", "prompt": markers::CANCEL, "callback_url": url}),
        )
        .await;
    let empty = api
        .create_ok(
            "images",
            &json!({"model": "seedream-v4.5", "prompt": "p", "callback_url": ""}),
        )
        .await;
    assert_eq!(api.wait("images", &cancelled).await["status"], "cancelled");
    assert_eq!(api.wait("images", &empty).await["status"], "completed");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(rx.try_recv().is_err());
    assert!(server.log().callback_attempts().is_empty());
}
