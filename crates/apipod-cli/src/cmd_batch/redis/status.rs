//! `apipod batch FILE --redis URL --status`: the batch's progress across all workers.

use anyhow::Result;
use serde_json::json;

use super::queue::{Queue, unix_ms};
use crate::println_nopipe;

/// Prints the status of batch `batch` (text, or JSON with `--json`).
pub async fn print(queue: &mut Queue, batch: &str, as_json: bool) -> Result<()> {
    let status = queue
        .status()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the batch from Redis ({})", e.category()))?;
    let p = &status.progress;
    let now = unix_ms();
    if as_json {
        let workers: Vec<_> = status
            .consumers
            .iter()
            .map(|(name, held, idle_ms)| {
                json!({
                    "worker": name,
                    "jobs_in_progress": held,
                    "idle_ms": idle_ms,
                    "last_seen_ms_ago": status.last_seen.get(name).map(|t| now.saturating_sub(*t)),
                })
            })
            .collect();
        let value = json!({
            "batch": batch,
            "total": p.total,
            "done": p.done,
            "failed": p.failed,
            "in_progress": status.in_progress,
            "waiting": status.waiting,
            "finished": p.finished(),
            "workers": workers,
            "failures": status.failures,
        });
        println_nopipe!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let Some(total) = p.total else {
        println_nopipe!("batch {batch}: not started (no worker has loaded it)");
        return Ok(());
    };
    println_nopipe!(
        "batch {batch}: {} of {total} done, {} failed, {} in progress, {} waiting{}",
        p.done,
        p.failed,
        status.in_progress,
        status
            .waiting
            .map_or_else(|| "?".to_string(), |w| w.to_string()),
        if p.finished() { " (finished)" } else { "" }
    );
    for (name, held, idle_ms) in &status.consumers {
        let seen = status.last_seen.get(name).map_or_else(String::new, |t| {
            format!(
                ", last seen {:.1} s ago",
                now.saturating_sub(*t) as f64 / 1000.0
            )
        });
        println_nopipe!(
            "  worker {name}: {held} job(s) in progress, idle {:.1} s{seen}",
            *idle_ms as f64 / 1000.0
        );
    }
    let mut failures: Vec<_> = status.failures.iter().collect();
    failures.sort();
    for (job, error) in failures {
        println_nopipe!("  failed {job}: {error}");
    }
    Ok(())
}
