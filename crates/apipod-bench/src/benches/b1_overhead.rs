//! B1: client overhead. One operation = a create plus a status read of the new task, made
//! through the SDK (`Client::submit` + `Client::status`) or by hand with `reqwest` (the same
//! client settings, the same JSON body and headers, decoded into the same generated types).
//! Both run against the same server child, in alternating blocks (ABBA) so drift and noise
//! hit both sides alike. Done against the mock and against a minimal canned-answer server,
//! where the client's share of the round trip is largest.

use std::time::Instant;

use anyhow::{Context, ensure};
use apipod::models::SeedreamV45;
use apipod::raw::types::{SubmitTaskResponse, TaskStatusResponse};
use apipod::{Client, TaskKind};
use apipod_bench::report::{BenchResult, Figure, Goal, Unit};
use apipod_bench::servers::{ServeArgs, ServerKind, ServerProc};
use apipod_bench::stats::{Summary, median};
use apipod_bench::sys;
use futures::StreamExt;
use serde_json::json;

use super::{KEY, Opts, http_client, pct, runtime, sdk, us};

const PROMPT: &str = "a lighthouse at dawn, oil painting";

/// Operations each side makes to warm up before anything is measured.
const WARM_UP: usize = 100;
/// Operations each side makes, `concurrency` at a time, to open its connections first.
const WARM_UP_CONCURRENT: usize = 2_000;

/// Seconds spent in the create and in the status read.
type OpTimes = (f64, f64);

#[derive(Clone)]
struct Raw {
    http: reqwest::Client,
    base: String,
    body: serde_json::Value,
}

impl Raw {
    /// The hand-written equivalent of submit + status: what a careful user would write with
    /// reqwest alone (idempotency key included, bodies decoded and checked).
    async fn op(&self) -> anyhow::Result<OpTimes> {
        let t0 = Instant::now();
        let key = format!("raw-{}", uuid::Uuid::now_v7());
        let resp = self
            .http
            .post(format!("{}/v1/images/generations", self.base))
            .bearer_auth(KEY)
            .header("Idempotency-Key", key)
            .json(&self.body)
            .send()
            .await?;
        ensure!(resp.status().is_success(), "create: HTTP {}", resp.status());
        let created: SubmitTaskResponse = resp.json().await?;
        ensure!(created.code == 200, "create: code {}", created.code);
        let task_id = created.data.task_id.context("create: no task id")?;
        let t1 = Instant::now();
        let resp = self
            .http
            .get(format!("{}/v1/images/status/{task_id}", self.base))
            .bearer_auth(KEY)
            .send()
            .await?;
        ensure!(resp.status().is_success(), "status: HTTP {}", resp.status());
        let status: TaskStatusResponse = resp.json().await?;
        ensure!(status.code == 200 && status.data.task_id == task_id);
        Ok((
            t1.duration_since(t0).as_secs_f64(),
            t1.elapsed().as_secs_f64(),
        ))
    }
}

async fn sdk_op(client: &Client) -> anyhow::Result<OpTimes> {
    let t0 = Instant::now();
    let submitted = client.submit(SeedreamV45::new(PROMPT)).await?;
    let t1 = Instant::now();
    let snap = client
        .status(TaskKind::Image, &submitted.handle.task_id)
        .await?;
    ensure!(snap.task_id() == submitted.handle.task_id);
    Ok((
        t1.duration_since(t0).as_secs_f64(),
        t1.elapsed().as_secs_f64(),
    ))
}

/// Who makes the calls: the SDK, or one of two identical hand-written clients (two, so
/// that an A/A run can show the noise floor of the method).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Side {
    Sdk,
    Raw(usize),
}

impl Side {
    fn name(self) -> String {
        match self {
            Side::Sdk => "sdk".into(),
            Side::Raw(i) => format!("raw{}", i + 1),
        }
    }
}

struct Sides {
    sdk: Client,
    raw: [Raw; 2],
}

impl Sides {
    async fn op(&self, side: Side) -> anyhow::Result<OpTimes> {
        match side {
            Side::Sdk => sdk_op(&self.sdk).await,
            Side::Raw(i) => self.raw[i].op().await,
        }
    }

    /// `ops` operations one after the other: per-op times, the block's wall time and the
    /// client process's CPU time for the block (seconds).
    async fn sequential(&self, side: Side, ops: usize) -> anyhow::Result<(Vec<OpTimes>, f64, f64)> {
        let cpu = sys::thread_cpu_ns();
        let start = Instant::now();
        let mut times = Vec::with_capacity(ops);
        for _ in 0..ops {
            times.push(self.op(side).await?);
        }
        let wall = start.elapsed().as_secs_f64();
        Ok((times, wall, (sys::thread_cpu_ns() - cpu) as f64 / 1e9))
    }

    /// `ops` operations, `concurrency` at a time: operations per second.
    async fn concurrent(&self, side: Side, ops: usize, concurrency: usize) -> anyhow::Result<f64> {
        let start = Instant::now();
        let results: Vec<anyhow::Result<OpTimes>> = futures::stream::iter(0..ops)
            .map(|_| self.op(side))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(ops as f64 / start.elapsed().as_secs_f64())
    }
}

struct Sizes {
    seq_rounds: usize,
    seq_ops: usize,
    conc_rounds: usize,
    conc_ops: usize,
    concurrency: usize,
}

/// Compares side `a` with side `b` (ratios are a/b): latencies of sequential operations and
/// throughput of concurrent ones, in alternating ABBA blocks.
fn measure(
    kind: ServerKind,
    sizes: &Sizes,
    [a, b]: [Side; 2],
) -> anyhow::Result<serde_json::Value> {
    // Every task this comparison creates (warm-up, sequential and concurrent blocks of both
    // sides) has its room in the mock reserved up front. Growing tables are rehashed at
    // each doubling, and those pauses fell at the same points of every run: in blocks of
    // side `a` (the A/A calibration showed ratios of ×0.53-×0.77 in those blocks alone).
    let creates = 2
        * (WARM_UP
            + WARM_UP_CONCURRENT
            + sizes.seq_rounds * sizes.seq_ops
            + sizes.conc_rounds * sizes.conc_ops);
    let server = ServerProc::spawn(&ServeArgs {
        kind,
        // Long enough that every status read sees a live task.
        pending_ms: 60_000,
        processing_ms: 60_000,
        reserve_tasks: creates + creates / 8,
        // Nothing here reads the log; a small one is full (and stops growing) in the warm-up.
        log_capacity: 256,
        ..ServeArgs::mock()
    })?;
    let rt = runtime(1)?;
    rt.block_on(async {
        let raw = || Raw {
            http: http_client(),
            base: server.url().to_string(),
            body: json!({"model": "seedream-v4.5", "prompt": PROMPT}),
        };
        let sides = Sides {
            sdk: sdk(server.url())?,
            raw: [raw(), raw()],
        };
        // Warm up both sides (connections, lazy statics, allocator).
        // Each side's first concurrent block would otherwise open its pool's connections, and
        // grow the server's buffers, inside a measured block.
        for side in [a, b] {
            sides.sequential(side, WARM_UP).await?;
            sides
                .concurrent(side, WARM_UP_CONCURRENT, sizes.concurrency)
                .await?;
        }
        let mut seq = [Vec::new(), Vec::new()];
        let mut cpu = [0.0; 2];
        let mut seq_ratio = Vec::new();
        for round in 0..sizes.seq_rounds {
            let order = if round % 2 == 0 { [a, b] } else { [b, a] };
            let mut wall = [0.0; 2];
            for side in order {
                let i = usize::from(side == b);
                let (times, secs, cpu_secs) = sides.sequential(side, sizes.seq_ops).await?;
                seq[i].extend(times);
                wall[i] = secs;
                cpu[i] += cpu_secs;
            }
            // Throughput ratio SDK/raw of this round = raw time / SDK time.
            seq_ratio.push(wall[1] / wall[0]);
        }
        let mut conc = [Vec::new(), Vec::new()];
        let mut conc_ratio = Vec::new();
        for round in 0..sizes.conc_rounds {
            let order = if round % 2 == 0 { [a, b] } else { [b, a] };
            let mut rate = [0.0; 2];
            for side in order {
                let i = usize::from(side == b);
                rate[i] = sides
                    .concurrent(side, sizes.conc_ops, sizes.concurrency)
                    .await?;
                conc[i].push(rate[i]);
            }
            conc_ratio.push(rate[0] / rate[1]);
        }
        let total = |t: &[OpTimes]| t.iter().map(|(a, b)| a + b).collect::<Vec<f64>>();
        let creates = |t: &[OpTimes]| t.iter().map(|(a, _)| *a).collect::<Vec<f64>>();
        let statuses = |t: &[OpTimes]| t.iter().map(|(_, b)| *b).collect::<Vec<f64>>();
        let (a_t, b_t) = (Summary::of(&total(&seq[0])), Summary::of(&total(&seq[1])));
        let ops = (sizes.seq_rounds * sizes.seq_ops) as f64;
        anyhow::Ok(json!({
            "server": format!("{kind:?}").to_lowercase(),
            "a": a.name(),
            "b": b.name(),
            "sequential": {
                "rounds": sizes.seq_rounds, "ops_per_round": sizes.seq_ops,
                "a_op_seconds": a_t, "b_op_seconds": b_t,
                "a_create_seconds": Summary::of(&creates(&seq[0])),
                "b_create_seconds": Summary::of(&creates(&seq[1])),
                "a_status_seconds": Summary::of(&statuses(&seq[0])),
                "b_status_seconds": Summary::of(&statuses(&seq[1])),
                "p50_ratio": a_t.p50 / b_t.p50,
                "p95_ratio": a_t.p95 / b_t.p95,
                "a_client_cpu_seconds_per_op": cpu[0] / ops,
                "b_client_cpu_seconds_per_op": cpu[1] / ops,
                "throughput_ratio_per_round": seq_ratio,
                "throughput_ratio_median": median(&seq_ratio),
            },
            "concurrent": {
                "rounds": sizes.conc_rounds, "ops_per_round": sizes.conc_ops,
                "concurrency": sizes.concurrency,
                "a_ops_per_second": Summary::of(&conc[0]),
                "b_ops_per_second": Summary::of(&conc[1]),
                "throughput_ratio_per_round": conc_ratio,
                "throughput_ratio_median": median(&conc_ratio),
            },
        }))
    })
}

pub fn run(opts: &Opts) -> anyhow::Result<BenchResult> {
    let sizes = if opts.quick {
        Sizes {
            seq_rounds: 4,
            seq_ops: 100,
            conc_rounds: 2,
            conc_ops: 200,
            concurrency: 16,
        }
    } else {
        // Many short blocks: this shared machine's noise comes in bursts lasting tens to
        // hundreds of milliseconds, that can slow one block by a third (see the A/A
        // calibration). Sequential blocks of 20 operations (about 3 ms per side) alternate
        // faster than the bursts change, so a burst hits both sides; with blocks of 500
        // (about 70 ms) one side took it. Over 20 fresh processes each, at the same levels,
        // blocks of 500 had spreads (standard deviations) of 5.5-7.0 µs in the CPU
        // difference and 2.8-3.6 points in the p50 and p95 ratios; blocks of 20, 1.3-2.7 µs
        // and 0.7-0.9 points. Concurrent blocks last about 0.15 s: throughput is a median
        // of block-pair ratios.
        Sizes {
            seq_rounds: 600,
            seq_ops: 20,
            conc_rounds: 16,
            conc_ops: 4_000,
            concurrency: 16,
        }
    };
    let mut result = BenchResult {
        bench: "B1".into(),
        ..BenchResult::default()
    };
    let mut details = serde_json::Map::new();
    for kind in [ServerKind::Mock, ServerKind::Minimal] {
        eprintln!("B1: SDK vs raw reqwest against the {kind:?} server");
        let d = measure(kind, &sizes, [Side::Sdk, Side::Raw(0)])?;
        let label = match kind {
            ServerKind::Mock => "mock",
            ServerKind::Minimal => "minimal server",
        };
        let f = |path: &str| d.pointer(path).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
        let (p50r, p95r) = (f("/sequential/p50_ratio"), f("/sequential/p95_ratio"));
        result.figures.push(Figure::judged(
            "B1",
            format!("create+status p50, SDK vs raw reqwest ({label})"),
            format!(
                "{} vs {} ({})",
                us(f("/sequential/a_op_seconds/p50")),
                us(f("/sequential/b_op_seconds/p50")),
                pct(p50r - 1.0)
            ),
            "within +5%",
            (p50r, Unit::Change),
            Goal::AtMost(1.05),
        ));
        result.figures.push(Figure::judged(
            "B1",
            format!("create+status p95, SDK vs raw reqwest ({label})"),
            format!(
                "{} vs {} ({})",
                us(f("/sequential/a_op_seconds/p95")),
                us(f("/sequential/b_op_seconds/p95")),
                pct(p95r - 1.0)
            ),
            "within +5%",
            (p95r, Unit::Change),
            Goal::AtMost(1.05),
        ));
        let tr = f("/concurrent/throughput_ratio_median");
        result.figures.push(Figure::judged(
            "B1",
            format!(
                "throughput SDK/raw, {} concurrent ({label})",
                sizes.concurrency
            ),
            format!(
                "{:.0} vs {:.0} ops/s (x{tr:.3})",
                f("/concurrent/a_ops_per_second/p50"),
                f("/concurrent/b_ops_per_second/p50")
            ),
            ">= x0.95",
            (tr, Unit::Factor),
            Goal::AtLeast(0.95),
        ));
        let (sdk_cpu, raw_cpu) = (
            f("/sequential/a_client_cpu_seconds_per_op"),
            f("/sequential/b_client_cpu_seconds_per_op"),
        );
        result.figures.push(Figure::judged(
            "B1",
            format!("client CPU per create+status, SDK minus raw ({label})"),
            format!(
                "{} vs {} ({:+.1} µs)",
                us(sdk_cpu),
                us(raw_cpu),
                (sdk_cpu - raw_cpu) * 1e6
            ),
            "<= raw + 10 µs",
            (sdk_cpu - raw_cpu, Unit::Micros),
            Goal::AtMost(10e-6),
        ));
        details.insert(label.replace(' ', "_"), d);
    }
    eprintln!("B1: A/A calibration, raw reqwest vs an identical raw reqwest client (mock)");
    let aa = measure(ServerKind::Mock, &sizes, [Side::Raw(0), Side::Raw(1)])?;
    let g = |path: &str| {
        aa.pointer(path)
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN)
    };
    result.figures.push(
        Figure::info(
            "B1",
            "noise floor: raw vs identical raw client (A/A, mock; value: p50)",
            format!(
                "p50 {}, p95 {}, throughput x{:.3}",
                pct(g("/sequential/p50_ratio") - 1.0),
                pct(g("/sequential/p95_ratio") - 1.0),
                g("/concurrent/throughput_ratio_median")
            ),
        )
        .with_value(g("/sequential/p50_ratio"), Unit::Change),
    );
    let aa_cpu =
        g("/sequential/a_client_cpu_seconds_per_op") - g("/sequential/b_client_cpu_seconds_per_op");
    result.figures.push(
        Figure::info(
            "B1",
            "noise floor: client CPU per create+status, raw minus identical raw (A/A, mock)",
            format!("{:+.1} µs", aa_cpu * 1e6),
        )
        .with_value(aa_cpu, Unit::Micros),
    );
    details.insert("aa_calibration_mock".into(), aa);
    details.insert(
        "cpu_only_ns_per_call".into(),
        super::b1_breakdown::cpu_only(),
    );
    eprintln!(
        "B1: client CPU by layer (reqwest, reqwest with a prebuilt URL, generated client, SDK), minimal server"
    );
    let layers = super::b1_breakdown::run(opts.quick)?;
    let g = |k: &str| layers.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    result.figures.push(
        Figure::info(
            "B1",
            "client CPU per status read: reqwest / reqwest, URL prebuilt / generated client / SDK (minimal server)",
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} µs",
                g("status: reqwest"),
                g("status: reqwest, URL prebuilt"),
                g("status: generated client"),
                g("status: SDK")
            ),
        )
        .with_value(g("status: SDK") - g("status: reqwest"), Unit::Number),
    );
    result.figures.push(
        Figure::info(
            "B1",
            "client CPU per create: reqwest / reqwest, URL prebuilt / generated client / SDK (minimal server)",
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} µs",
                g("create: reqwest"),
                g("create: reqwest, URL prebuilt"),
                g("create: generated client"),
                g("create: SDK")
            ),
        )
        .with_value(g("create: SDK") - g("create: reqwest"), Unit::Number),
    );
    details.insert("client_cpu_us_by_layer".into(), layers);
    result.details = serde_json::Value::Object(details);
    result.notes.push(
        "one op = create + status read; latencies are per op, sequential; ratios are medians of \
         per-round ratios of alternating (ABBA) blocks"
            .into(),
    );
    Ok(result)
}
