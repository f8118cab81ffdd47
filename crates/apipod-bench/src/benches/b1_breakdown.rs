//! B1's breakdown: where the SDK's extra client CPU goes. The same create and the same
//! status read, made sequentially against the minimal server through four layers:
//! plain reqwest with a string URL, reqwest with a prebuilt `Url` (how the SDK drives it), the
//! generated client (`apipod-raw`, progenitor with the SDK's hooks) and the SDK. The
//! differences show what the SDK's own work costs (contract check, idempotency key, retries,
//! deadline, error mapping, handle) beside what the transport costs.

use std::future::Future;
use std::time::Instant;

use apipod::TaskKind;
use apipod::models::SeedreamV45;
use apipod::raw::types::{self, SubmitTaskResponse, TaskStatusResponse};
use apipod_bench::servers::{ServeArgs, ServerKind, ServerProc};
use apipod_bench::stats::median;
use apipod_bench::sys;
use serde_json::json;

use super::{KEY, http_client, runtime, sdk};

const PROMPT: &str = "a lighthouse at dawn, oil painting";

/// The eight calls, in the order of `APIPOD_BENCH_LAYER`'s numbers (0-7). "URL prebuilt" is
/// reqwest as the SDK now drives it: a `Url` built once (the status read appends the task
/// id), so reqwest skips one of its URL parses; plain "reqwest" passes a string, as its
/// documentation does and as B1's raw side does.
pub const LAYERS: [&str; 8] = [
    "status: reqwest",
    "status: generated client",
    "status: SDK",
    "create: reqwest",
    "create: generated client",
    "create: SDK",
    "status: reqwest, URL prebuilt",
    "create: reqwest, URL prebuilt",
];

/// A status read with reqwest alone, the URL given as a string or prebuilt.
async fn plain_status(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> anyhow::Result<()> {
    let resp = http.get(url).bearer_auth(KEY).send().await?;
    let _: TaskStatusResponse = resp.json().await?;
    Ok(())
}

/// A create with reqwest alone (idempotency key included), the URL given as a string or
/// prebuilt.
async fn plain_create(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let key = format!("raw-{}", uuid::Uuid::now_v7());
    let resp = http
        .post(url)
        .bearer_auth(KEY)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await?;
    let _: SubmitTaskResponse = resp.json().await?;
    Ok(())
}

/// Median over `rounds` blocks of `ops` calls of `op`: client CPU microseconds per call.
async fn cpu_per_call<F, Fut>(rounds: usize, ops: usize, mut op: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut per_round = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = sys::thread_cpu_ns();
        for _ in 0..ops {
            op().await?;
        }
        per_round.push((sys::thread_cpu_ns() - start) as f64 / 1e3 / ops as f64);
    }
    Ok(median(&per_round))
}

/// Client CPU (µs) per create and per status read, by layer.
pub fn run(quick: bool) -> anyhow::Result<serde_json::Value> {
    let (rounds, ops) = if quick { (3, 200) } else { (9, 1_000) };
    // Profiling aid: APIPOD_BENCH_SERVER=mock runs the layers against the mock instead (its
    // tasks stay live for the whole run; its answers carry APIPod's headers).
    let mock = std::env::var("APIPOD_BENCH_SERVER").is_ok_and(|s| s == "mock");
    let server = ServerProc::spawn(&ServeArgs {
        kind: if mock {
            ServerKind::Mock
        } else {
            ServerKind::Minimal
        },
        pending_ms: 3_600_000,
        processing_ms: 3_600_000,
        reserve_tasks: if mock { 200_000 } else { 0 },
        log_capacity: 256,
        ..ServeArgs::mock()
    })?;
    let rt = runtime(1)?;
    rt.block_on(async {
        let base = server.url().to_string();
        let http = http_client();
        let client = sdk(&base)?;
        let raw = client.raw();
        let body_json = json!({"model": "seedream-v4.5", "prompt": PROMPT});
        let body: types::ImageGenerationRequest = serde_json::from_value(body_json.clone())?;
        let id = client
            .submit(SeedreamV45::new(PROMPT))
            .await?
            .handle
            .task_id;
        let status_url = format!("{base}/v1/images/status/{id}");
        let create_url = format!("{base}/v1/images/generations");
        let status_prefix = reqwest::Url::parse(&format!("{base}/v1/images/status"))?;
        let create_parsed = reqwest::Url::parse(&create_url)?;

        let reqwest_status = || plain_status(&http, &status_url);
        let generated_status = || async {
            raw.get_image_task(&id).await?;
            anyhow::Ok(())
        };
        let prebuilt_status = || async {
            let mut url = status_prefix.clone();
            url.path_segments_mut()
                .map_err(|()| anyhow::anyhow!("base URL"))?
                .push(&id);
            plain_status(&http, url).await
        };
        let sdk_status = || async {
            client.status(TaskKind::Image, &id).await?;
            anyhow::Ok(())
        };
        let reqwest_create = || plain_create(&http, &create_url, &body_json);
        let prebuilt_create = || plain_create(&http, create_parsed.clone(), &body_json);
        let generated_create = || async {
            let key = format!("raw-{}", uuid::Uuid::now_v7()).parse()?;
            raw.create_image_generation(Some(&key), &body).await?;
            anyhow::Ok(())
        };
        let sdk_create = || async {
            client.submit(SeedreamV45::new(PROMPT)).await?;
            anyhow::Ok(())
        };
        // Profiling aid: APIPOD_BENCH_LAYER=<0-7> runs one layer's calls alone (8: B1's op,
        // a create and a status read, through reqwest; 9: the same through the SDK), for 10 s or,
        // with APIPOD_BENCH_CALLS=<n>, for n calls and then stops (for instruction counts).
        if let Some(i) = std::env::var("APIPOD_BENCH_LAYER")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
        {
            let calls = std::env::var("APIPOD_BENCH_CALLS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok());
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let cpu = sys::thread_cpu_ns();
            let mut made = 0u64;
            while calls.map_or(std::time::Instant::now() < until, |n| made < n) {
                made += 1;
                match i {
                    0 => reqwest_status().await?,
                    1 => generated_status().await?,
                    2 => sdk_status().await?,
                    3 => reqwest_create().await?,
                    4 => generated_create().await?,
                    5 => sdk_create().await?,
                    6 => prebuilt_status().await?,
                    7 => prebuilt_create().await?,
                    // B1's operation: a create, then a status read.
                    8 => {
                        reqwest_create().await?;
                        reqwest_status().await?;
                    }
                    _ => {
                        sdk_create().await?;
                        sdk_status().await?;
                    }
                }
            }
            let cpu_us = (sys::thread_cpu_ns() - cpu) as f64 / 1e3 / made.max(1) as f64;
            eprintln!("layer {i}: {made} calls, {cpu_us:.2} µs client CPU per call");
            if calls.is_some() {
                return anyhow::Ok(json!({ "layer": i, "calls": made }));
            }
        }
        // Warm up every path.
        cpu_per_call(1, 100, reqwest_status).await?;
        cpu_per_call(1, 100, sdk_create).await?;
        let mut out = serde_json::Map::new();
        // Interleaved, so drift hits every layer alike.
        let mut samples: [Vec<f64>; 8] = Default::default();
        for _ in 0..3 {
            samples[0].push(cpu_per_call(rounds, ops, reqwest_status).await?);
            samples[1].push(cpu_per_call(rounds, ops, generated_status).await?);
            samples[2].push(cpu_per_call(rounds, ops, sdk_status).await?);
            samples[3].push(cpu_per_call(rounds, ops, reqwest_create).await?);
            samples[4].push(cpu_per_call(rounds, ops, generated_create).await?);
            samples[5].push(cpu_per_call(rounds, ops, sdk_create).await?);
            samples[6].push(cpu_per_call(rounds, ops, prebuilt_status).await?);
            samples[7].push(cpu_per_call(rounds, ops, prebuilt_create).await?);
        }
        for (name, s) in LAYERS.iter().zip(&samples) {
            out.insert((*name).into(), json!(median(s)));
        }
        anyhow::Ok(serde_json::Value::Object(out))
    })
}

/// Nanoseconds per call of `f`, over `n` calls.
fn ns_per_call<T>(n: u32, mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// CPU-only costs of the steps around the HTTP exchange, to explain the overhead.
pub fn cpu_only() -> serde_json::Value {
    use apipod::IntoRequest;
    let status_body = serde_json::to_vec(&json!({"code": 200, "message": "success", "data": {
        "task_id": "img_0123456789abcdef0123456789abcdef", "status": "processing", "progress": 40}}))
    .expect("serialises");
    let body = json!({"model": "seedream-v4.5", "prompt": PROMPT});
    let client = sdk("http://127.0.0.1:9").expect("client");
    let n = 20_000;
    let typed = SeedreamV45::new(PROMPT)
        .into_request()
        .expect("valid")
        .to_json();
    let mut out = serde_json::Map::new();
    let mut put = |name: &str, ns: f64| {
        out.insert(name.to_string(), json!(ns));
    };
    put(
        "sdk: SeedreamV45::new + into_request (contract check, typed body)",
        ns_per_call(n, || {
            SeedreamV45::new(PROMPT).into_request().expect("valid")
        }),
    );
    put(
        "sdk: typed body to JSON bytes",
        ns_per_call(n, || serde_json::to_vec(&typed).expect("serialises")),
    );
    put(
        "raw: serde_json::Value body to JSON bytes",
        ns_per_call(n, || serde_json::to_vec(&body).expect("serialises")),
    );
    put(
        "raw: idempotency key (Uuid::now_v7, formatted; one getrandom call each)",
        ns_per_call(n, || format!("k-{}", uuid::Uuid::now_v7())),
    );
    put(
        "sdk: idempotency key (UUIDv7 from pooled OS randomness, as submit makes it)",
        ns_per_call(n, apipod::CallbackTokens::submission_key),
    );
    put(
        "both: decode a status body into TaskStatusResponse",
        ns_per_call(n, || {
            serde_json::from_slice::<TaskStatusResponse>(&status_body).expect("decodes")
        }),
    );
    put(
        "sdk: Client::task_by_id (handle + task)",
        ns_per_call(n, || {
            client.task_by_id(TaskKind::Image, "img_0123456789abcdef0123456789abcdef")
        }),
    );
    serde_json::Value::Object(out)
}
