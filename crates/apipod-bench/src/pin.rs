//! Pinning: the measuring client and the servers on different cores, so that neither
//! steals the other's CPU and figures that compare two clients hold when re-run.
//!
//! With two or more CPUs and `taskset` (util-linux) present, the benchmarks that measure a
//! client against a server run the client (the benchmark child process, and curl in B4) on
//! CPU 0 and the servers on CPU 1. `APIPOD_BENCH_NO_PIN=1` turns pinning off. Benchmarks
//! that measure a whole system (B2's simulation, B6's builds, B7's replicas and workers)
//! run unpinned.

use std::ffi::OsStr;
use std::process::Command;

/// Who a process is in a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The measuring client: CPU 0.
    Client,
    /// A server being measured against: CPU 1.
    Server,
}

/// The CPUs used for (client, server), or `None` when pinning is off or impossible.
pub fn cores() -> Option<(usize, usize)> {
    if std::env::var_os("APIPOD_BENCH_NO_PIN").is_some_and(|v| v == "1") {
        return None;
    }
    // The machine's CPUs, not this process's affinity: a pinned benchmark child sees one
    // CPU through `available_parallelism` but must still place its servers on the other.
    let cpus = online_cpus()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let taskset = Command::new("taskset")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (cpus >= 2 && taskset).then_some((0, 1))
}

/// The number of online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-1` or `0,2-3`).
fn online_cpus() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    let mut n = 0;
    for part in text.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => {
                b.parse::<usize>()
                    .ok()?
                    .checked_sub(a.parse::<usize>().ok()?)?
                    + 1
            }
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// A command running `program` pinned to the core of `role` (unpinned when [`cores`] is
/// `None`).
pub fn command(program: impl AsRef<OsStr>, role: Role) -> Command {
    match cores() {
        Some((client, server)) => {
            let core = match role {
                Role::Client => client,
                Role::Server => server,
            };
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", &core.to_string()]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// A description for the report.
pub fn describe() -> String {
    match cores() {
        Some((c, s)) => format!(
            "client on CPU {c}, servers on CPU {s} (taskset) for B1, B3, B4 and B5; B2, B6 and B7 unpinned"
        ),
        None => "unpinned (one CPU, no taskset, or APIPOD_BENCH_NO_PIN=1)".into(),
    }
}
