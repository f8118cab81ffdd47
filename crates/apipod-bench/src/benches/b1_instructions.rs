//! B1's instruction and cache-line counts: the eight calls of the layer breakdown (status
//! read and create, through reqwest with a string URL, reqwest with a prebuilt `Url`, the
//! generated client and the SDK, against the minimal server), counted by cachegrind instead
//! of timed. CPU time per call on a shared virtual machine moves by several microseconds
//! between runs; the counts repeat to within about 1%, so they show what a change to the
//! client did.
//!
//! Two counts, because instructions alone did not explain the timings: after the SDK came
//! to execute fewer instructions than plain reqwest, it still used more CPU per call. Most
//! of a call's time here is kernel work (TCP over loopback, waking threads), which evicts
//! the client's cache lines between calls, so each call fetches the code and data it needs
//! again. The second count simulates exactly that, with caches smaller than one call's
//! working set: the lines a call fetches.
//!
//! Each layer runs twice in a `run b1l` child under `valgrind --tool=cachegrind` (with
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

/// The cache simulated for the line counts: 4 KiB first-level caches and a 16 KiB last
/// level, all smaller than one call's working set, so a line is counted each time a call
/// needs it again. On this machine most of a call's CPU time is kernel work that evicts the
/// client's lines between calls, so what a call costs follows the lines it touches more
/// closely than its instructions.
const CACHES: [&str; 3] = ["--I1=4096,2,64", "--D1=4096,2,64", "--LL=16384,4,64"];

/// Instructions and last-level misses (lines fetched) of the whole `run b1l` child for
/// `calls` calls of `layer`.
fn collected(layer: usize, calls: u64) -> anyhow::Result<(u64, u64)> {
    let exe = std::env::current_exe()?;
    let out = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=yes",
            "--cachegrind-out-file=/dev/null",
        ])
        .args(CACHES)
        .arg(exe)
        .args(["run", "b1l", "--round", "0", "--quick"])
        .env("APIPOD_BENCH_LAYER", layer.to_string())
        .env("APIPOD_BENCH_CALLS", calls.to_string())
        .output()
        .context("starting valgrind")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("layer {layer} under cachegrind failed: {}", stderr.trim());
    }
    // "==1234== I   refs:      242,468,079" and "==1234== LL misses:   3,590,064 ( ... )"
    let count = |label: [&str; 2]| {
        stderr
            .lines()
            .find_map(|l| {
                let mut words = l.split_whitespace().skip(1);
                (words.next()? == label[0] && words.next()? == label[1])
                    .then(|| words.next())
                    .flatten()
            })
            .and_then(|n| n.replace(',', "").parse().ok())
            .with_context(|| format!("no `{}` in cachegrind's output: {stderr}", label.join(" ")))
    };
    Ok((count(["I", "refs:"])?, count(["LL", "misses:"])?))
}

/// Instructions and lines fetched per call of each layer, in [`LAYERS`] order.
fn per_call() -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut instructions = Vec::new();
    let mut lines = Vec::new();
    for (layer, name) in LAYERS.iter().enumerate() {
        eprintln!("B1: counting instructions and cache lines, {name}");
        let few = collected(layer, FEW)?;
        let many = collected(layer, MANY)?;
        let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / (MANY - FEW) as f64;
        instructions.push(per(few.0, many.0));
        lines.push(per(few.1, many.1));
    }
    Ok((instructions, lines))
}

/// B1's instruction and cache-line counts, or a note that valgrind is missing.
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
    let (n, lines) = per_call()?;
    // Both: [status: reqwest, generated, SDK, create: reqwest, generated, SDK, status:
    // reqwest with the URL prebuilt, create: the same].
    for (counted, per, tool) in [
        (&n, "instructions", "cachegrind"),
        (
            &lines,
            "cache lines fetched",
            "cachegrind, 16 KiB last level",
        ),
    ] {
        layer_figures(&mut result, counted, per, tool);
    }
    result.details = json!({
        "calls": [FEW, MANY],
        "caches": CACHES,
        "instructions_per_call": per_layer(&n),
        "cache_lines_per_call": per_layer(&lines),
    });
    result.notes.push(
        "user-space instructions per call, and cache lines fetched per call with caches too \
         small to keep anything between calls, counted by cachegrind (both repeat to within \
         about 1%; the kernel's share is the same on every layer)"
            .into(),
    );
    Ok(result)
}

/// `{layer: count}` for a report's details.
fn per_layer(counts: &[f64]) -> serde_json::Map<String, serde_json::Value> {
    LAYERS
        .iter()
        .zip(counts)
        .map(|(l, v)| (l.to_string(), json!(v)))
        .collect()
}

/// The figures of one count (`per`: "instructions" or "cache lines fetched"): per status
/// read and per create by layer, then the SDK against reqwest and against reqwest with the
/// URL prebuilt, per create + status.
fn layer_figures(result: &mut BenchResult, n: &[f64], per: &str, tool: &str) {
    // Instructions in thousands; lines, fewer and each dearer, whole.
    let k = |x: f64| {
        if per == "instructions" {
            format!("{:.1}k", x / 1e3)
        } else {
            format!("{x:.0}")
        }
    };
    for (what, i, prebuilt) in [("status read", 0, 6), ("create", 3, 7)] {
        result.figures.push(
            Figure::info(
                "B1",
                format!(
                    "client {per} per {what}: reqwest / reqwest, URL prebuilt / generated client / SDK ({tool})"
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
            format!(
                "client {per} per create+status, SDK minus reqwest (of which the generated client)"
            ),
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
            format!("client {per} per create+status, SDK minus reqwest with the URL prebuilt (the SDK's own work)"),
            format!(
                "{:+.0} ({:+.1}%)",
                sdk_minus_prebuilt,
                100.0 * sdk_minus_prebuilt / prebuilt
            ),
        )
        .with_value(sdk_minus_prebuilt, Unit::Number),
    );
}
