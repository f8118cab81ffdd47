//! B1's instruction counts: the eight calls of the layer breakdown (status read and create,
//! through reqwest with a string URL, reqwest with a prebuilt `Url`, the generated client and
//! the SDK, against the minimal server), counted
//! by callgrind instead of timed. CPU time per call on a shared virtual machine moves by
//! several microseconds between runs; the client's user-space instructions per call repeat
//! to within a few dozen from run to run, so they show what a change to the client did.
//!
//! Each layer runs twice in a `run b1l` child under `valgrind --tool=callgrind` (with
//! `APIPOD_BENCH_LAYER` and `APIPOD_BENCH_CALLS`), once for `FEW` and once for `MANY` calls;
//! the difference divided by `MANY - FEW` is the cost of one call, without the process's
//! start-up. The kernel's share (syscalls, the TCP stack) is not counted: `strace -c` shows
//! the same syscalls per call on every layer.

use std::process::Command;

use anyhow::{Context, bail};
use apipod_bench::report::{BenchResult, Figure, Unit};
use serde_json::json;

use super::b1_breakdown::LAYERS;

const FEW: u64 = 1_000;
const MANY: u64 = 3_000;

/// True when `valgrind` can be started.
fn valgrind_found() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Instructions the whole `run b1l` child executes for `calls` calls of `layer`.
fn collected(layer: usize, calls: u64) -> anyhow::Result<u64> {
    let exe = std::env::current_exe()?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["run", "b1l", "--round", "0", "--quick"])
        .env("APIPOD_BENCH_LAYER", layer.to_string())
        .env("APIPOD_BENCH_CALLS", calls.to_string())
        .output()
        .context("starting valgrind")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("layer {layer} under callgrind failed: {}", stderr.trim());
    }
    // "==1234== Collected : 242468079"
    stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().to_string())
        })
        .and_then(|n| n.replace(',', "").parse().ok())
        .with_context(|| format!("no instruction count in callgrind's output: {stderr}"))
}

/// Instructions per call of each layer, in [`LAYERS`] order.
fn per_call() -> anyhow::Result<Vec<f64>> {
    (0..LAYERS.len())
        .map(|layer| {
            eprintln!("B1: counting instructions, {}", LAYERS[layer]);
            let few = collected(layer, FEW)?;
            let many = collected(layer, MANY)?;
            Ok(many.saturating_sub(few) as f64 / (MANY - FEW) as f64)
        })
        .collect()
}

/// B1's instruction counts, or a note that valgrind is missing.
pub fn run() -> anyhow::Result<BenchResult> {
    let mut result = BenchResult {
        bench: "B1".into(),
        ..BenchResult::default()
    };
    if !valgrind_found() {
        result.figures.push(Figure::info(
            "B1",
            "client instructions per call by layer",
            "not measured: valgrind is not installed",
        ));
        return Ok(result);
    }
    let n = per_call()?;
    let k = |x: f64| format!("{:.1}k", x / 1e3);
    // n: [status: reqwest, generated, SDK, create: reqwest, generated, SDK, status: reqwest
    // with the URL prebuilt, create: the same].
    for (what, i, prebuilt) in [("status read", 0, 6), ("create", 3, 7)] {
        result.figures.push(
            Figure::info(
                "B1",
                format!(
                    "client instructions per {what}: reqwest / reqwest, URL prebuilt / generated client / SDK (callgrind)"
                ),
                format!(
                    "{} / {} / {} / {}",
                    k(n[i]),
                    k(n[prebuilt]),
                    k(n[i + 1]),
                    k(n[i + 2])
                ),
            )
            .with_value(n[i + 2] - n[i], Unit::Number),
        );
    }
    let raw = n[0] + n[3];
    let prebuilt = n[6] + n[7];
    let sdk_minus_raw = (n[2] + n[5]) - raw;
    let sdk_minus_prebuilt = (n[2] + n[5]) - prebuilt;
    let generated_minus_raw = (n[1] + n[4]) - raw;
    result.figures.push(
        Figure::info(
            "B1",
            "client instructions per create+status, SDK minus reqwest (of which the generated client)",
            format!(
                "{:+.0} ({:+.1}%; generated client {:+.0})",
                sdk_minus_raw,
                100.0 * sdk_minus_raw / raw,
                generated_minus_raw
            ),
        )
        .with_value(sdk_minus_raw, Unit::Number),
    );
    result.figures.push(
        Figure::info(
            "B1",
            "client instructions per create+status, SDK minus reqwest with the URL prebuilt (the SDK's own work)",
            format!(
                "{:+.0} ({:+.1}%)",
                sdk_minus_prebuilt,
                100.0 * sdk_minus_prebuilt / prebuilt
            ),
        )
        .with_value(sdk_minus_prebuilt, Unit::Number),
    );
    result.details = json!({
        "calls": [FEW, MANY],
        "instructions_per_call": LAYERS.iter().zip(&n).map(|(l, v)| (l.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    result.notes.push(
        "user-space instructions per call counted by callgrind (they repeat to within a few \
         dozen; the kernel's share is the same on every layer)"
            .into(),
    );
    Ok(result)
}
