//! R2: hostile input. Random and mutated bodies for everything the SDK parses: status
//! reads, creates, error answers, callbacks and stored task handles. Nothing may panic,
//! unknown status values must survive untouched, and undecodable answers must become
//! `Error::Decode` with an excerpt of the body.
//!
//! Most properties call the parsing entry points directly (the generated types through
//! `serde_json`, `CallbackEvent::parse`, `TaskHandle` deserialisation) and then use every
//! accessor of the result. One property sends hostile answers through a real loopback server
//! to `Client::status`, which covers the SDK's own error normalisation (not public as a pure
//! function); it runs a tenth of the cases because each one is an HTTP exchange.
//!
//! Cases: `PROPTEST_CASES` (default 2,000; the long run uses 100,000).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use apipod::raw::types::{ErrorResponse, SubmitTaskResponse, TaskStatusResponse};
use apipod::{
    CallbackError, CallbackEvent, Client, Error, RetryPolicy, TaskHandle, TaskKind, TaskSnapshot,
    TaskStatus,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use serde_json::{Map, Value, json};

const API_KEY: &str = "sk-proptest-secret-key";

fn cases(divisor: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(2_000);
    Config {
        cases: (cases / divisor).max(50),
        // Keep the source tree clean: failures print their minimal input instead.
        failure_persistence: None,
        ..Config::default()
    }
}

// ------------------------------------------------------------------ generators

/// Field names the API uses, so random objects often hit real fields with wrong shapes.
const KEYS: &[&str] = &[
    "code",
    "message",
    "data",
    "task_id",
    "status",
    "progress",
    "result",
    "completed_at",
    "created_at",
    "error",
    "error_code",
    "error_message",
    "type",
    "url",
    "width",
    "height",
    "duration",
    "request_id",
    "kind",
    "model",
    "idempotency_key",
    "submitted_at",
    "callback_url",
];

fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1e300)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(100)),
        Just(json!(101)),
        Just(json!(1_786_358_400)),
        Just(json!(1_786_358_400_000u64)),
    ]
}

/// Numbers at the edges of what the fields' types (and `SystemTime`, `Duration`) can hold.
fn extreme_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..200_000).prop_map(|k| json!(i64::MAX - k)),
        (0i64..200_000).prop_map(|k| json!(i64::MIN + k)),
        Just(json!(u64::MAX)),
        Just(json!(f64::MAX)),
        Just(json!(-f64::MAX)),
        Just(json!(1e300)),
        Just(json!(f64::MIN_POSITIVE)),
        Just(json!(-0.0)),
        Just(json!(4_102_444_800u64)),
        Just(json!(253_402_300_800u64)),
    ]
}

/// Fields that hold numbers (or timestamps) somewhere in the API.
const NUMERIC_KEYS: &[&str] = &[
    "code",
    "progress",
    "completed_at",
    "created_at",
    "submitted_at",
    "width",
    "height",
    "duration",
];

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[a-z_]{0,12}",
        Just(String::new()),
        Just(" ".into()),
        Just("completed".into()),
        Just("succeeded".into()),
        Just("processing".into()),
        Just("failed".into()),
        Just("FINALIZING".into()),
        Just("2026-08-10T09:00:00Z".into()),
        Just("2026-08-10T09:00:00+99:99".into()),
        Just("9999999999999999999999".into()),
        Just("1e308".into()),
        Just("-0".into()),
        Just("NaN".into()),
        Just("insufficient_quota".into()),
        Just("rate_limit_exceeded".into()),
        Just("idempotency_in_progress".into()),
        Just("\u{0}\u{feff}\u{10ffff}".into()),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(String::from),
                        arb_text()
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Well-formed bodies of every kind the SDK reads.
fn fixtures() -> Vec<Value> {
    vec![
        json!({"code": 200, "message": "success", "data": {"task_id": "img_1", "status": "pending"}}),
        json!({"code": 200, "message": "success", "data": {"task_id": "img_1", "status": "processing", "progress": 42}}),
        json!({"code": 200, "message": "success", "data": {"task_id": "img_1", "status": "completed", "progress": 100,
            "result": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"], "completed_at": 1_786_358_400}}),
        json!({"code": 200, "message": "success", "data": {"task_id": "vid_1", "status": "completed",
            "result": {"url": "https://cdn.example.com/v.mp4", "width": 1280, "height": 720, "duration": 8.0}, "completed_at": 1_786_358_400}}),
        json!({"code": 200, "message": "success", "data": {"task_id": "img_1", "status": "failed",
            "error_code": "UPSTREAM_CAPACITY_EXHAUSTED", "error_message": "no capacity"}}),
        json!({"code": 200, "message": "success", "data": {"task_id": "vid_1", "status": "failed", "error": "content policy"}}),
        json!({"code": 200, "message": "success", "data": {"task_id": "img_1", "status": "finalizing"}}),
        json!({"code": 200, "message": "success", "data": {"task_id": "img_0123456789abcdef0123456789abcdef"}}),
        json!({"code": 402, "message": "Insufficient quota", "data": {"type": "insufficient_quota", "error_code": "insufficient_quota"}}),
        json!({"code": 429, "message": "Rate limit exceeded", "data": {"type": "rate_limit_error", "error_code": "rate_limit_exceeded"}}),
        json!({"error": {"message": "Authentication required.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
        json!({"task_id": "img_1", "status": "completed", "result": ["https://cdn.example.com/a.png"],
            "request_id": "req_1", "created_at": "2026-08-10T09:00:00Z", "completed_at": "2026-08-10T09:01:30Z"}),
        json!({"kind": "image", "model": "seedream-v4.5", "task_id": "img_1", "idempotency_key": "k",
            "submitted_at": 1_786_358_400.5, "callback_url": "https://example.com/hook"}),
    ]
}

/// Replaces, removes or adds one value somewhere inside `v` (a path picked by `choices`).
fn mutate(v: &mut Value, choices: &[usize], replacement: Value, op: u8) {
    let Some((first, rest)) = choices.split_first() else {
        *v = replacement;
        return;
    };
    match v {
        Value::Object(map) if !map.is_empty() => {
            let key = map
                .keys()
                .nth(first % map.len())
                .cloned()
                .expect("in range");
            if rest.is_empty() || op.is_multiple_of(4) {
                match op % 3 {
                    0 => {
                        map.remove(&key);
                    }
                    1 => {
                        map.insert(format!("{key}_x"), replacement);
                    }
                    _ => {
                        map.insert(key, replacement);
                    }
                }
            } else {
                mutate(map.get_mut(&key).expect("present"), rest, replacement, op);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = first % items.len();
            mutate(&mut items[i], rest, replacement, op);
        }
        other => *other = replacement,
    }
}

/// Bodies: well-formed, structurally mutated, byte-mutated, random JSON, random bytes.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fixture = prop::sample::select(fixtures());
    let structural = (
        fixture.clone(),
        prop::collection::vec(any::<usize>(), 0..4),
        arb_json(),
        any::<u8>(),
    )
        .prop_map(|(mut v, path, replacement, op)| {
            mutate(&mut v, &path, replacement, op);
            serde_json::to_vec(&v).expect("serialises")
        });
    let bytewise = (
        fixture.clone(),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 1..4),
    )
        .prop_map(|(v, edits)| {
            let mut b = serde_json::to_vec(&v).expect("serialises");
            for (at, byte, kind) in edits {
                let i = at % (b.len() + 1);
                match kind {
                    0 => b.truncate(i),
                    1 if i < b.len() => b[i] = byte,
                    2 => b.insert(i, byte),
                    _ => {
                        let tail = b[i..].to_vec();
                        b.extend_from_slice(&tail);
                    }
                }
            }
            b
        });
    // A known field set to an extreme or mistyped value, at the top level and in `data`.
    let field = (
        fixture.clone(),
        prop_oneof![
            prop::sample::select(KEYS),
            prop::sample::select(NUMERIC_KEYS)
        ],
        prop_oneof![2 => extreme_number(), 2 => arb_number(), 1 => arb_json()],
    )
        .prop_map(|(mut v, key, value)| {
            if let Some(Value::Object(data)) = v.get_mut("data") {
                data.insert(key.to_string(), value.clone());
            }
            if let Value::Object(top) = &mut v {
                top.insert(key.to_string(), value);
            }
            serde_json::to_vec(&v).expect("serialises")
        });
    prop_oneof![
        2 => fixture.prop_map(|v| serde_json::to_vec(&v).expect("serialises")),
        4 => field,
        6 => structural,
        4 => bytewise,
        2 => arb_json().prop_map(|v| serde_json::to_vec(&v).expect("serialises")),
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => (1usize..20_000).prop_map(|depth| {
            let mut b = vec![b'['; depth];
            b.extend(std::iter::repeat_n(b']', depth));
            b
        }),
    ]
}

// ------------------------------------------------------------------ checks

/// Uses everything a caller can reach from a decoded status.
fn exercise_snapshot(snap: &TaskSnapshot) -> Result<(), TestCaseError> {
    let _ = snap.task_id();
    let _ = snap.status().to_string();
    let _ = snap.status().is_terminal();
    prop_assert!(snap.progress().is_none_or(|p| p <= 100));
    let _ = snap.error_code();
    let _ = snap.error_message();
    let _ = snap.completed_at();
    for output in snap.outputs() {
        let _ = output.is_expired();
        let _ = output.expires_in();
        let _ = format!("{output:?}");
    }
    let _ = format!("{snap:?}");
    Ok(())
}

/// An unknown value comes back exactly; a known one (or alias) maps to its variant.
fn check_status(text: &str, status: &TaskStatus) -> Result<(), TestCaseError> {
    let expected = TaskStatus::from_wire(text);
    prop_assert_eq!(status, &expected);
    match status {
        TaskStatus::Unknown(s) => {
            prop_assert_eq!(s, text);
            prop_assert_eq!(status.as_str(), text);
            prop_assert_eq!(serde_json::to_value(status).unwrap(), json!(text));
            prop_assert!(!status.is_terminal());
        }
        known => prop_assert!(TaskStatus::KNOWN.contains(known)),
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(1))]

    #[test]
    fn status_bodies_never_panic(body in hostile_bytes()) {
        if let Ok(resp) = serde_json::from_slice::<TaskStatusResponse>(&body) {
            for kind in [TaskKind::Image, TaskKind::Video] {
                exercise_snapshot(&TaskSnapshot::from_raw(kind, resp.data.clone()))?;
            }
            // What was decoded can be written back and read again.
            let again = serde_json::to_vec(&resp).unwrap();
            let back: TaskStatusResponse = serde_json::from_slice(&again).unwrap();
            prop_assert_eq!(back.data.status, resp.data.status);
            prop_assert_eq!(back.data.task_id, resp.data.task_id);
        }
    }

    #[test]
    fn unknown_statuses_are_preserved(text in arb_text(), kind in 0u8..3) {
        let data = match kind {
            0 => json!({"task_id": "img_1", "status": text}),
            1 => json!({"task_id": "vid_1", "status": text, "progress": 5, "error": null}),
            _ => json!({"task_id": "img_1", "status": text, "result": ["https://cdn.example.com/a.png"]}),
        };
        let body = serde_json::to_vec(&json!({"code": 200, "message": "success", "data": data})).unwrap();
        let resp: TaskStatusResponse = serde_json::from_slice(&body).unwrap();
        check_status(&text, &resp.data.status)?;
        // Round trip through the wire format keeps the value.
        let back: TaskStatusResponse = serde_json::from_slice(&serde_json::to_vec(&resp).unwrap()).unwrap();
        prop_assert_eq!(&back.data.status, &resp.data.status);
        // The same value in a callback.
        let callback = serde_json::to_vec(&data).unwrap();
        match CallbackEvent::parse(&callback) {
            Ok(event) => check_status(text.trim(), &event.status)?,
            Err(CallbackError::Malformed { reason, .. }) => {
                prop_assert!(text.trim().is_empty(), "{text:?} refused: {reason}");
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn create_and_error_bodies_never_panic(body in hostile_bytes()) {
        if let Ok(created) = serde_json::from_slice::<SubmitTaskResponse>(&body) {
            let _ = format!("{created:?}");
            let _ = serde_json::to_vec(&created).unwrap();
        }
        if let Ok(error) = serde_json::from_slice::<ErrorResponse>(&body) {
            let _ = format!("{error:?}");
            let _ = serde_json::to_vec(&error).unwrap();
        }
    }

    #[test]
    fn callbacks_never_panic_and_refusals_quote_the_body(body in hostile_bytes()) {
        match CallbackEvent::parse(&body) {
            Ok(event) => {
                prop_assert!(!event.task_id.trim().is_empty());
                prop_assert!(event.progress.is_none_or(|p| p <= 100));
                let _ = event.failure_message();
                let _ = format!("{event:?}");
            }
            Err(err) => {
                let _ = err.http_status();
                if let CallbackError::Malformed { excerpt, .. } = &err {
                    prop_assert!(body.is_empty() || !excerpt.is_empty());
                }
                let converted: Error = err.into();
                let is_decode = matches!(converted, Error::Decode { .. });
                prop_assert!(is_decode, "{converted:?}");
                let _ = converted.to_string();
            }
        }
    }

    #[test]
    fn timestamps_at_the_edges_never_panic(ts in prop_oneof![extreme_number(), arb_number()]) {
        // Every place a timestamp is read: a completed status, a callback, a stored handle.
        let status = json!({"code": 200, "message": "success", "data": {"task_id": "img_1",
            "status": "completed", "result": ["https://cdn.example.com/a.png"], "completed_at": ts}});
        if let Ok(resp) = serde_json::from_value::<TaskStatusResponse>(status) {
            exercise_snapshot(&TaskSnapshot::from_raw(TaskKind::Image, resp.data))?;
        }
        let callback = json!({"task_id": "img_1", "status": "completed", "created_at": ts,
            "completed_at": ts, "result": ["https://cdn.example.com/a.png"]});
        let _ = CallbackEvent::parse(&serde_json::to_vec(&callback).unwrap());
        let handle = json!({"kind": "image", "task_id": "img_1", "submitted_at": ts});
        if let Ok(h) = serde_json::from_value::<TaskHandle>(handle) {
            let _ = serde_json::to_vec(&h).unwrap();
        }
    }

    #[test]
    fn stored_handles_never_panic(body in hostile_bytes()) {
        if let Ok(handle) = serde_json::from_slice::<TaskHandle>(&body) {
            let back: TaskHandle = serde_json::from_slice(&serde_json::to_vec(&handle).unwrap()).unwrap();
            prop_assert_eq!(back.task_id, handle.task_id);
        }
    }
}

// ------------------------------------------------------------------ through the client

/// What the loopback server answers next.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    client: Client,
    next: Arc<Mutex<Option<Answer>>>,
}

/// One server and client for all cases (each case is one HTTP exchange).
fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let next: Arc<Mutex<Option<Answer>>> = Arc::default();
        let base = runtime.block_on({
            let next = next.clone();
            async move {
                let app = axum::Router::new().fallback(move || {
                    let answer = next.lock().unwrap().take();
                    async move { respond(answer) }
                });
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
                format!("http://{addr}")
            }
        });
        let client = Client::builder()
            .api_key(API_KEY)
            .base_url(base)
            .retry_policy(RetryPolicy::none())
            .request_timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Harness {
            runtime,
            client,
            next,
        }
    })
}

fn respond(answer: Option<Answer>) -> Response {
    let Some(answer) = answer else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = answer.body.into_response();
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn arb_status_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        4 => prop::sample::select(vec![
            201u16, 204, 400, 401, 402, 403, 404, 408, 409, 410, 413, 422, 429, 500, 502, 503, 504,
        ]),
        1 => 200u16..600,
    ]
}

fn arb_headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let value = prop_oneof![
        arb_text(),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        Just("1e308".to_string()),
        Just("18446744073709551616".to_string()),
    ];
    prop::collection::vec(
        (
            prop::sample::select(vec!["retry-after", "retry-after-ms", "x-request-id"]),
            value,
        ),
        0..3,
    )
}

proptest! {
    #![proptest_config(cases(10))]

    #[test]
    fn client_turns_any_answer_into_a_value_or_a_clear_error(
        status in arb_status_code(),
        headers in arb_headers(),
        body in hostile_bytes(),
    ) {
        let h = harness();
        *h.next.lock().unwrap() = Some(Answer { status, headers, body: body.clone() });
        let result = h.runtime.block_on(h.client.status(TaskKind::Image, "img_1"));
        match result {
            Ok(snap) => {
                prop_assert_eq!(status, 200);
                exercise_snapshot(&snap)?;
            }
            Err(err) => {
                let text = err.to_string();
                prop_assert!(!text.contains(API_KEY), "the key leaked: {text}");
                let _ = (err.is_retryable(), err.code(), err.request_id(), err.retry_after());
                match &err {
                    // A well-formed answer about another task quotes that task's id.
                    Error::Decode { reason, .. } if reason.contains("another task") => {
                        prop_assert_eq!(status, 200);
                    }
                    Error::Decode { status: s, excerpt, .. } => {
                        prop_assert_eq!(*s, Some(status));
                        // An undecodable answer quotes its beginning.
                        let lossy = String::from_utf8_lossy(&body);
                        let start: String = lossy.chars().take(20).collect();
                        prop_assert!(excerpt.starts_with(&start), "{excerpt:?} vs {start:?}");
                    }
                    Error::Api { status: s, .. } if status != 200 => prop_assert_eq!(*s, status),
                    Error::Api { .. }
                    | Error::RateLimited { .. }
                    | Error::InsufficientQuota { .. }
                    | Error::IdempotencyConflict { .. } => {}
                    other => prop_assert!(false, "HTTP {status} became {other:?}"),
                }
                // A 200 that is not JSON at all is a decode error, never anything else.
                // (Syntax only: like serde, the SDK ignores unknown fields without checking
                // their text, so a stray invalid UTF-8 byte there is not an error.)
                let syntactic_json =
                    serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
                if status == 200 && !syntactic_json {
                    let is_decode = matches!(err, Error::Decode { .. });
                    prop_assert!(is_decode, "{err:?}");
                }
            }
        }
    }
}
