//! The SDK sends its creates and status reads without the generated methods (see
//! `client/wire.rs`). These tests hold it to them: for the same call, the request the SDK
//! sends and the one the generated client sends must have the same method, path, headers
//! and JSON body, under a bare base URL and under one with a path prefix.

mod support;

use apipod::models::{SeedreamV45, Veo31Fast};
use apipod::{GenerationRequest, IntoRequest, SubmitOptions, TaskKind};
use apipod_raw::types;
use support::{Reply, Scripted, Seen};

/// Ids a status URL must carry faithfully: plain, spaces, URL syntax, percent signs,
/// non-ASCII.
const IDS: [&str; 6] = [
    "task_01JABC",
    "a b",
    "x?y#z",
    "100%25",
    "任务-7",
    "q\"<>`{}|^[]",
];

fn same_request(generated: &Seen, sdk: &Seen) {
    assert_eq!(generated.method, sdk.method);
    assert_eq!(generated.path, sdk.path);
    assert_eq!(generated.headers, sdk.headers, "headers differ");
    let json = |s: &Seen| -> Option<serde_json::Value> {
        (!s.body.is_empty()).then(|| serde_json::from_slice(&s.body).unwrap())
    };
    assert_eq!(json(generated), json(sdk), "bodies differ");
}

async fn creates_match(prefix: &str) {
    let server = Scripted::start().await;
    let base = format!("{}{prefix}", server.base_url);
    let client = support::client(&base);
    server.push("create", [Reply::created("task_1")]);

    for request in [
        SeedreamV45::new("a lighthouse at dawn")
            .into_request()
            .unwrap(),
        Veo31Fast::new("waves on rocks").into_request().unwrap(),
    ] {
        let key = format!("key-{}", request.model());
        match request.kind() {
            TaskKind::Image => {
                let body: types::ImageGenerationRequest =
                    serde_json::from_value(request.to_json()).unwrap();
                client
                    .raw()
                    .create_image_generation(Some(&key.parse().unwrap()), &body)
                    .await
                    .unwrap();
            }
            TaskKind::Video => {
                let body: types::VideoGenerationRequest =
                    serde_json::from_value(request.to_json()).unwrap();
                client
                    .raw()
                    .create_video_generation(Some(&key.parse().unwrap()), &body)
                    .await
                    .unwrap();
            }
        }
        let submitted = client
            .submit_with(request.clone(), SubmitOptions::idempotency_key(&key))
            .await
            .unwrap();
        assert_eq!(submitted.handle.task_id, "task_1");
        let seen = server.seen();
        let (generated, sdk) = (&seen[seen.len() - 2], &seen[seen.len() - 1]);
        same_request(generated, sdk);
        assert_eq!(
            sdk.path,
            format!("{prefix}/v1/{}s/generations", request.kind().as_str())
        );
        assert_eq!(sdk.header("idempotency-key").as_deref(), Some(key.as_str()));
        assert_eq!(
            sdk.header("authorization").as_deref(),
            Some("Bearer sk-test-secret-key")
        );
    }

    // The escape hatch (any JSON) goes to the same route with the same headers.
    let raw = GenerationRequest::raw(
        TaskKind::Video,
        serde_json::json!({"model": "veo3-1-fast", "prompt": "p", "future_field": 1}),
    )
    .unwrap();
    client
        .submit_with(raw, SubmitOptions::idempotency_key("key-raw"))
        .await
        .unwrap();
    let seen = server.seen();
    let (typed, raw) = (&seen[seen.len() - 2], &seen[seen.len() - 1]);
    assert_eq!(raw.path, typed.path);
    assert_eq!(raw.header("idempotency-key").as_deref(), Some("key-raw"));
    let mut headers = raw.headers.clone();
    for name in ["content-length", "idempotency-key"] {
        headers.insert(name, typed.headers[name].clone());
    }
    assert_eq!(headers, typed.headers);
    let body: serde_json::Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(body["future_field"], 1);
}

async fn status_reads_match(prefix: &str) {
    let server = Scripted::start().await;
    let base = format!("{}{prefix}", server.base_url);
    let client = support::client(&base);
    for kind in [TaskKind::Image, TaskKind::Video] {
        for id in IDS {
            server.push("status", [Reply::status(id, "processing")]);
            let generated = match kind {
                TaskKind::Image => client.raw().get_image_task(id).await,
                TaskKind::Video => client.raw().get_video_task(id).await,
            };
            assert_eq!(generated.unwrap().into_inner().data.task_id, id);
            let snapshot = client.status(kind, id).await.unwrap();
            assert_eq!(snapshot.task_id(), id);
            let seen = server.seen();
            let (generated, sdk) = (&seen[seen.len() - 2], &seen[seen.len() - 1]);
            same_request(generated, sdk);
            assert!(
                sdk.path
                    .starts_with(&format!("{prefix}/v1/{}s/status/", kind.as_str())),
                "{}",
                sdk.path
            );
        }
    }
}

#[tokio::test]
async fn creates_are_the_generated_clients_requests() {
    creates_match("").await;
    creates_match("/gateway/apipod").await;
}

#[tokio::test]
async fn status_reads_are_the_generated_clients_requests() {
    status_reads_match("").await;
    status_reads_match("/gateway/apipod").await;
}
