//! The Seedance asset library through the SDK: upload, read, wait; typed endings; the wait's
//! deadline under slow and refusing servers; id checks. Paused tokio time throughout, with
//! the mock (or the scripted server) in the test's own runtime.

mod support;

use std::time::Duration;

use apipod::{
    Asset, AssetStatus, AssetType, AssetUpload, CancellationToken, Client, Error, PollPolicy,
    WaitOptions,
};
use apipod_mock::{ASSET_FAILURE_MESSAGE, FaultConfig, FaultScope, MockServer, asset_markers};
use serde_json::json;
use support::{Reply, Scripted, client};
use tokio::time::Instant;

async fn mock() -> (MockServer, Client) {
    let server = MockServer::start().await;
    let client = client(&server.base_url());
    (server, client)
}

fn image(url: &str) -> AssetUpload {
    AssetUpload::new(url, AssetType::Image)
}

fn asset_reads(server: &MockServer) -> usize {
    server
        .log()
        .entries()
        .iter()
        .filter(|e| e.method == "GET" && e.path.starts_with("/v1/assets/"))
        .count()
}

#[tokio::test(start_paused = true)]
async fn upload_then_wait_until_active() {
    let (server, client) = mock().await;
    let uploaded = client
        .upload_asset(
            AssetUpload::new("https://cdn.example.com/person.png", AssetType::Image)
                .with_name("Person reference"),
        )
        .await
        .unwrap();
    assert!(uploaded.status().is_pending(), "{}", uploaded.status());
    assert!(uploaded.id().starts_with("asset-"));
    assert!(uploaded.request_id().is_some_and(|r| r.starts_with("req_")));

    let started = Instant::now();
    let ready = client
        .wait_for_asset(uploaded.id(), WaitOptions::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ready.status(), &AssetStatus::Active);
    assert!(ready.is_active());
    assert_eq!(ready.id(), uploaded.id());
    assert_eq!(ready.reference(), format!("assetId://{}", uploaded.id()));
    assert_eq!(ready.asset_type(), Some(AssetType::Image));
    assert_eq!(ready.asset_type_str(), Some("Image"));
    assert_eq!(ready.url(), Some("https://cdn.example.com/person.png"));
    assert_eq!(ready.name(), Some("Person reference"));
    assert_eq!(ready.error_message(), None);
    assert_eq!(server.assets_created(), 1);
    assert_eq!(server.tasks_created(), 0);
}

#[tokio::test(start_paused = true)]
async fn failed_expired_and_deleted_end_the_wait_with_a_typed_error() {
    let (_server, client) = mock().await;
    let cases = [
        (asset_markers::FAIL, AssetStatus::Failed),
        (asset_markers::EXPIRE, AssetStatus::Expired),
        (asset_markers::DELETE, AssetStatus::Deleted),
    ];
    for (marker, expected) in cases {
        let url = format!("https://cdn.example.com/{marker}/clip.mp4");
        let uploaded = client
            .upload_asset(AssetUpload::new(url, AssetType::Video))
            .await
            .unwrap();
        let err = client
            .wait_for_asset(&uploaded.reference(), WaitOptions::default())
            .await
            .unwrap_err();
        let Error::AssetUnusable {
            asset_id,
            status,
            message,
        } = &err
        else {
            panic!("{marker}: {err:?}");
        };
        assert_eq!(asset_id, uploaded.id());
        assert_eq!(status, &expected);
        assert_eq!(err.asset_id(), Some(uploaded.id()));
        assert!(!err.is_retryable());
        assert!(err.to_string().contains(expected.as_str()), "{err}");
        if expected == AssetStatus::Failed {
            assert_eq!(message.as_deref(), Some(ASSET_FAILURE_MESSAGE));
            assert!(err.to_string().contains(ASSET_FAILURE_MESSAGE));
        } else {
            assert_eq!(message, &None);
        }
    }
}

/// A stuck asset, then faults on every read from now on.
async fn stuck_with(faults: FaultConfig) -> (MockServer, Client, Asset) {
    let (server, client) = mock().await;
    let asset = client
        .upload_asset(image("https://cdn.example.com/mock-stuck/a.png"))
        .await
        .unwrap();
    server.set_faults(faults.scope(FaultScope::StatusReads));
    (server, client, asset)
}

#[track_caller]
fn assert_timed_out(err: &Error, started: Instant, timeout: Duration) {
    assert!(
        matches!(err, Error::Timeout { task_id: None, .. }),
        "expected a timeout, got {err:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed <= timeout + Duration::from_secs(1),
        "{elapsed:?} for a {timeout:?} deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_slow_answer_short() {
    let (server, client, asset) =
        stuck_with(FaultConfig::new().latency(Duration::from_secs(300))).await;
    let timeout = Duration::from_secs(20);
    let started = Instant::now();
    let err = client
        .wait_for_asset(asset.id(), WaitOptions::timeout(timeout))
        .await
        .unwrap_err();
    assert_timed_out(&err, started, timeout);
    assert!(started.elapsed() >= timeout);
    assert_eq!(
        asset_reads(&server),
        0,
        "the only read never got its answer"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_sleeps_between_slow_answers_short() {
    let (server, client, asset) =
        stuck_with(FaultConfig::new().latency(Duration::from_secs(4))).await;
    let timeout = Duration::from_secs(13);
    let started = Instant::now();
    let err = client
        .wait_for_asset(asset.id(), WaitOptions::timeout(timeout))
        .await
        .unwrap_err();
    assert_timed_out(&err, started, timeout);
    assert!(asset_reads(&server) >= 2);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_beats_retry_after_60() {
    for status in [503, 429] {
        let faults = FaultConfig::new().error_rate(status, 1.0).retry_after(60);
        let (server, client, asset) = stuck_with(faults).await;
        let timeout = Duration::from_secs(20);
        let started = Instant::now();
        let err = client
            .wait_for_asset(asset.id(), WaitOptions::timeout(timeout))
            .await
            .unwrap_err();
        assert_timed_out(&err, started, timeout);
        assert_eq!(
            asset_reads(&server),
            1,
            "{status}: Retry-After was honoured"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_within_the_wait() {
    let (server, client) = mock().await;
    let asset = client
        .upload_asset(image("https://cdn.example.com/a.png"))
        .await
        .unwrap();
    server.set_faults(
        FaultConfig::new()
            .seed(3)
            .error_rate(503, 0.2)
            .drop_rate(0.1)
            .scope(FaultScope::StatusReads),
    );
    let options = WaitOptions::timeout(Duration::from_secs(120))
        .with_poll(PollPolicy::Fixed(Duration::from_millis(200)));
    let ready = client.wait_for_asset(asset.id(), options).await.unwrap();
    assert!(ready.is_active());
    let faulted = server
        .log()
        .entries()
        .iter()
        .filter(|e| e.path.starts_with("/v1/assets/") && e.fault.is_some())
        .count();
    assert!(faulted > 0, "no fault was drawn");
}

#[tokio::test(start_paused = true)]
async fn cancelling_ends_the_wait() {
    let (_server, client) = mock().await;
    let asset = client
        .upload_asset(image("https://cdn.example.com/mock-stuck/a.png"))
        .await
        .unwrap();
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let err = client
        .wait_for_asset(asset.id(), WaitOptions::default().with_cancel(token))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { task_id: None }), "{err:?}");
    assert!(started.elapsed() <= Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn bad_ids_are_rejected_before_any_request() {
    let (server, client) = mock().await;
    let long = "a".repeat(256);
    for bad in [
        "",
        "assetId://",
        "asset 1",
        " asset-1",
        "asset-1\n",
        "a/b",
        "..",
        "x?y",
        long.as_str(),
    ] {
        let err = client.asset(bad).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{bad:?}: {err:?}"
        );
        assert!(err.to_string().contains("not an asset id"), "{err}");
        let err = client
            .wait_for_asset(bad, WaitOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{bad:?}: {err:?}"
        );
    }
    for bad in [
        "",
        "ftp://cdn.example.com/a.png",
        "data:image/png;base64,AAAA",
    ] {
        let err = client.upload_asset(image(bad)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
        assert!(err.to_string().contains("`url`"), "{err}");
    }
    assert!(server.log().is_empty(), "{:?}", server.log().entries());
}

#[tokio::test(start_paused = true)]
async fn the_reference_form_is_accepted_and_sent_as_the_bare_id() {
    let (server, client) = mock().await;
    let uploaded = client
        .upload_asset(AssetUpload::new(
            "https://cdn.example.com/a.mp3",
            AssetType::Audio,
        ))
        .await
        .unwrap();
    let by_reference = client.asset(&uploaded.reference()).await.unwrap();
    let by_id = client.asset(uploaded.id()).await.unwrap();
    assert_eq!(by_reference.id(), uploaded.id());
    assert_eq!(by_id.id(), uploaded.id());
    assert_eq!(by_reference.asset_type(), Some(AssetType::Audio));
    let paths: Vec<String> = server
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.method == "GET")
        .map(|e| e.path)
        .collect();
    assert_eq!(paths, vec![format!("/v1/assets/{}", uploaded.id()); 2]);
}

#[tokio::test(start_paused = true)]
async fn unknown_ids_are_a_404_api_error() {
    let (_server, client) = mock().await;
    let err = client
        .asset("asset-20260101000000-missing")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
    assert!(err.to_string().contains("asset not found"), "{err}");
}

fn asset_body(data: serde_json::Value) -> Reply {
    Reply::json(
        200,
        json!({"code": 200, "message": "success", "data": data}),
    )
}

#[tokio::test(start_paused = true)]
async fn unknown_fields_values_and_missing_fields_decode() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [asset_body(json!({
            "assetId": "asset-1", "status": "ARCHIVING", "assetType": "Hologram",
            "errorMessage": null, "createdAt": "2026-08-21T10:00:00Z", "extra": {"a": [1]}
        }))],
    );
    let client = client(&server.base_url);
    let asset = client.asset("asset-1").await.unwrap();
    assert_eq!(asset.status(), &AssetStatus::Unknown("ARCHIVING".into()));
    assert_eq!(asset.asset_type(), None);
    assert_eq!(asset.asset_type_str(), Some("Hologram"));
    assert_eq!((asset.url(), asset.name()), (None, None));

    let mut options = WaitOptions::timeout(Duration::from_secs(600));
    options.max_unknown_reads = Some(3);
    let err = client.wait_for_asset("asset-1", options).await.unwrap_err();
    assert_eq!(err.code(), Some("unknown_status"), "{err:?}");
    assert_eq!(server.seen_on("status").len(), 1 + 4);
}

#[tokio::test(start_paused = true)]
async fn an_error_code_inside_http_200_is_an_error() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [Reply::json(
            200,
            json!({"code": 404, "message": "asset not found"}),
        )],
    );
    let err = client(&server.base_url).asset("asset-1").await.unwrap_err();
    // The HTTP status and the body's code are kept apart.
    assert_eq!(err.status(), Some(200), "{err:?}");
    assert_eq!(err.body_code(), Some(404), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn uploads_are_resent_only_when_nothing_was_processed() {
    let created = asset_body(json!({
        "assetId": "asset-9", "assetType": "Image", "url": "https://x.example/a.png",
        "status": "PROCESSING", "name": "", "errorMessage": null
    }));
    // 429 and 503 were refused before processing: resent.
    let server = Scripted::start().await;
    server.push(
        "create",
        [
            Reply::error(429, "rate_limit_exceeded", "slow down").header("retry-after", "2"),
            Reply::error(503, "service_unavailable", "busy"),
            created.clone(),
        ],
    );
    let asset = client(&server.base_url)
        .upload_asset(image("https://x.example/a.png"))
        .await
        .unwrap();
    assert_eq!(asset.id(), "asset-9");
    let seen = server.seen_on("create");
    assert_eq!(seen.len(), 3);
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(2));
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        body,
        json!({"assetType": "Image", "url": "https://x.example/a.png"})
    );
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer sk-test-secret-key")
    );

    // A 500 may have registered the file: not resent.
    let server = Scripted::start().await;
    server.push(
        "create",
        [Reply::error(500, "internal_error", "oops"), created],
    );
    let err = client(&server.base_url)
        .upload_asset(image("https://x.example/a.png"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(server.seen_on("create").len(), 1);
}
