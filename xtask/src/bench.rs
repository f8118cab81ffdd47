//! `cargo xtask bench [ARGS...]`: builds the `apipod` CLI (for B7's batch workers) and runs
//! the benchmarks (`crates/apipod-bench`) in release mode. Every argument is passed on, e.g. `cargo xtask bench --only b1,b3 --build`; see
//! `cargo xtask bench --help` and `docs/performance.md`.

use std::path::Path;
use std::process::{Command, ExitCode};

/// Runs `cargo run --release -p apipod-bench -- <args>` from the workspace root and returns
/// its exit status.
pub fn run(root: &Path, args: &[String]) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // B7 runs `apipod batch --redis` worker processes: build that binary beside the bench.
    let cli = Command::new(&cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "apipod-cli",
            "--features",
            "redis",
        ])
        .status();
    if !matches!(cli, Ok(s) if s.success()) {
        eprintln!("error: cannot build the apipod CLI for B7");
        return ExitCode::from(2);
    }
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["run", "--release", "--quiet", "-p", "apipod-bench", "--"])
        .args(args)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1).max(1)),
        Err(e) => {
            eprintln!("error: cannot run cargo: {e}");
            ExitCode::from(2)
        }
    }
}
