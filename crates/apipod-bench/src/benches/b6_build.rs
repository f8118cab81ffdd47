//! B6: build times, and proof that the raw client's build script reruns only when the spec
//! changes. Works on a copy of the workspace (without `target/` and `.git/`) in a temporary
//! directory, with fresh target directories, so nothing in the real checkout is touched.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};
use apipod_bench::report::{BenchResult, Figure, Goal, Unit};
use serde_json::json;

use super::{Opts, workspace_root};

struct Build {
    seconds: f64,
    ran_build_script: bool,
    ok: bool,
    tail: String,
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs `cargo <args>` in `dir` with `target` as the target directory.
fn cargo_build(dir: &Path, target: &Path, args: &[&str]) -> anyhow::Result<Build> {
    let start = Instant::now();
    let output = Command::new(cargo())
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .context("running cargo")?;
    let seconds = start.elapsed().as_secs_f64();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // `cargo -v` prints "Running `<target>/debug/build/apipod-raw-<hash>/build-script-build`".
    let ran_build_script = text.lines().any(|l| {
        l.contains("Running") && l.contains("apipod-raw-") && l.contains("build-script-build")
    });
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    Ok(Build {
        seconds,
        ran_build_script,
        ok: output.status.success(),
        tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

fn touch(path: &Path) -> anyhow::Result<()> {
    let status = Command::new("touch").arg(path).status()?;
    ensure!(status.success(), "touch {}", path.display());
    Ok(())
}

pub fn run(_opts: &Opts) -> anyhow::Result<BenchResult> {
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws)?;
    let root = workspace_root();
    let copy = format!(
        "tar -C '{}' --exclude=./target --exclude=./.git -cf - . | tar -C '{}' -xf -",
        root.display(),
        ws.display()
    );
    let status = Command::new("sh").arg("-c").arg(&copy).status()?;
    ensure!(status.success(), "copying the workspace failed");
    let t1 = tmp.path().join("target-raw");
    let t2 = tmp.path().join("target-all");
    let mut result = BenchResult {
        bench: "B6".into(),
        ..BenchResult::default()
    };

    eprintln!("B6: cargo build -p apipod-raw, fresh target directory");
    let fresh = cargo_build(&ws, &t1, &["build", "-p", "apipod-raw"])?;
    ensure!(fresh.ok, "fresh build failed:\n{}", fresh.tail);
    eprintln!("B6: cargo clean -p apipod-raw; cargo build -p apipod-raw");
    let cleaned = cargo_build(&ws, &t1, &["clean", "-p", "apipod-raw"])?;
    ensure!(cleaned.ok, "cargo clean failed:\n{}", cleaned.tail);
    let alone = cargo_build(&ws, &t1, &["build", "-p", "apipod-raw", "-v"])?;
    ensure!(alone.ok, "rebuild failed:\n{}", alone.tail);
    eprintln!("B6: edit a source file of apipod-raw (not the spec)");
    touch(&ws.join("crates/apipod-raw/src/lib.rs"))?;
    let src_edit = cargo_build(&ws, &t1, &["build", "-p", "apipod-raw", "-v"])?;
    ensure!(
        src_edit.ok,
        "build after a source edit failed:\n{}",
        src_edit.tail
    );
    eprintln!("B6: edit the spec");
    touch(&ws.join("openapi/apipod.yaml"))?;
    let spec_edit = cargo_build(&ws, &t1, &["build", "-p", "apipod-raw", "-v"])?;
    ensure!(
        spec_edit.ok,
        "build after a spec edit failed:\n{}",
        spec_edit.tail
    );
    eprintln!("B6: cargo build --workspace, fresh target directory");
    let all = cargo_build(&ws, &t2, &["build", "--workspace"])?;

    result.figures.push(Figure::judged(
        "B6",
        "clean build of apipod-raw, dependencies included (debug, every model of the spec)",
        format!("{:.0} s", fresh.seconds),
        "<= 60 s",
        (fresh.seconds, Unit::Seconds),
        Goal::AtMost(60.0),
    ));
    result.figures.push(Figure::info(
        "B6",
        "build of apipod-raw alone after cargo clean -p (build script + codegen + compile)",
        format!("{:.1} s", alone.seconds),
    ));
    result.figures.push(if all.ok {
        Figure::info(
            "B6",
            "clean build of the whole workspace (debug)",
            format!("{:.0} s", all.seconds),
        )
    } else {
        Figure::new(
            "B6",
            "clean build of the whole workspace (debug)",
            format!("failed after {:.0} s", all.seconds),
            "builds",
            false,
        )
    });
    result.figures.push(Figure::new(
        "B6",
        "build script reruns after editing crates/apipod-raw/src/lib.rs",
        if src_edit.ran_build_script {
            "yes"
        } else {
            "no"
        },
        "no",
        !src_edit.ran_build_script,
    ));
    result.figures.push(Figure::new(
        "B6",
        "build script reruns after editing openapi/apipod.yaml",
        if spec_edit.ran_build_script {
            "yes"
        } else {
            "no"
        },
        "yes",
        spec_edit.ran_build_script,
    ));
    result.details = json!({
        "fresh_raw_seconds": fresh.seconds,
        "raw_alone_seconds": alone.seconds,
        "raw_alone_ran_build_script": alone.ran_build_script,
        "after_source_edit_seconds": src_edit.seconds,
        "after_source_edit_ran_build_script": src_edit.ran_build_script,
        "after_spec_edit_seconds": spec_edit.seconds,
        "after_spec_edit_ran_build_script": spec_edit.ran_build_script,
        "workspace_seconds": all.seconds,
        "workspace_ok": all.ok,
        "workspace_tail": if all.ok { String::new() } else { all.tail },
        "jobs": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    result.notes.push(
        "builds run on a copy of the workspace with fresh target directories; the machine is \
         shared, so times vary by tens of percent between runs"
            .into(),
    );
    Ok(result)
}
