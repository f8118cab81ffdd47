//! `apipod batch FILE --out DIR --redis URL`: one batch, many workers on many machines.
//!
//! Every worker runs the same command on the same file (its contents name the batch, see
//! [`batch_id`]). The first worker loads one stream entry per job; then each worker claims
//! entries through a consumer group, runs them with the ordinary [`Runner`] (its own
//! manifest and files in its own `--out`), records how each ended and acknowledges it. A
//! worker that dies leaves its entries unacknowledged; once nobody has refreshed them for
//! `--reclaim-after` another worker takes them over. Idempotency keys are derived from the
//! batch and the job, not from the worker, so a reclaimed job, or one run again after Redis
//! lost everything, replays its original APIPod task instead of creating a second one.
//! See [`queue`] for the keys.

mod queue;
mod status;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};

use super::jobs::{Job, read_jobs};
use super::plan::plan_for;
use super::report::{ReportOptions, report};
use super::runner::{Outcome, Runner};
use super::{CmdBatch, check_unchanged};
use crate::context::Context;
use crate::exit::CliError;
use crate::manifest::Manifest;
use crate::progress::Reporter;
use crate::rate::RateLimiter;
use queue::{Claim, Queue};

/// How often a worker looks for work and reports in.
const TICK: Duration = Duration::from_millis(200);

/// The batch id: `--batch-id`, or the first 16 bytes of the file's SHA-256 in hex, so every
/// worker given the same file joins the same batch.
pub fn batch_id(given: Option<&str>, file_bytes: &[u8]) -> String {
    match given {
        Some(id) => id.to_string(),
        None => crate::manifest::hex(&Sha256::digest(file_bytes)[..16]),
    }
}

fn printable(what: &str, value: &str) -> Result<(), CliError> {
    if value.is_empty() || value.len() > 128 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CliError::usage(format!(
            "{what} {value:?} must be 1-128 printable characters without spaces"
        )));
    }
    Ok(())
}

/// Opens the connection manager (lazily: nothing is sent yet). Fails, without echoing the
/// URL (it may hold a password), when `url` is not a Redis URL.
fn connect(url: &str) -> Result<ConnectionManager, CliError> {
    let bad = |e: redis::RedisError| {
        CliError::usage(format!(
            "--redis is not a usable Redis URL ({})",
            e.category()
        ))
        .with_hint("expected redis://HOST:PORT/ (or redis://:PASSWORD@HOST:PORT/DB)")
    };
    let client = redis::Client::open(url).map_err(bad)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    client.get_connection_manager_lazy(config).map_err(bad)
}

fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "worker".into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &tag[..8])
}

/// Logs Redis trouble once per outage, and its end.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
}

impl Outage {
    fn failed(&mut self, what: &str, err: &redis::RedisError) {
        if self.since.is_none() {
            tracing::warn!(error = %err.category(), "{what}: Redis unavailable; retrying (running jobs carry on)");
            crate::eprintln_nopipe!("warning: Redis unavailable ({}); retrying", err.category());
            self.since = Some(Instant::now());
        }
    }

    fn ok(&mut self) {
        if let Some(since) = self.since.take() {
            crate::eprintln_nopipe!("Redis is back after {:.1} s", since.elapsed().as_secs_f64());
        }
    }
}

/// Runs this worker's share of the batch, or prints `--status`.
pub async fn run(cmd: &CmdBatch, ctx: &mut Context, url: &str) -> Result<()> {
    if ctx.is_mock() {
        return Err(CliError::usage(
            "--redis cannot be used with --mock: the workers must share one APIPod",
        )
        .with_hint("run `apipod mock` and point every worker at it with --base-url")
        .into());
    }
    if cmd.retry_failed {
        return Err(CliError::usage("--retry-failed is not supported with --redis").into());
    }
    printable("--redis-prefix", &cmd.redis_prefix)?;
    let bytes = std::fs::read(&cmd.file)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", cmd.file.display())))?;
    let batch = batch_id(cmd.batch_id.as_deref(), &bytes);
    printable("--batch-id", &batch)?;
    let conn = connect(url)?;
    let mut queue = Queue::new(conn, &cmd.redis_prefix, &batch, worker_name());
    if cmd.status {
        return status::print(&mut queue, &batch, cmd.json).await;
    }
    let jobs = read_jobs(&cmd.file)?;
    let manifest = Manifest::open(&cmd.out)?;
    check_unchanged(&cmd.file, &jobs, &manifest)?;
    let coordinator = apipod::coord::redis::RedisCoordinator::connect(
        url,
        apipod::coord::redis::RedisOptions::default().prefix(format!("{}:coord", cmd.redis_prefix)),
    )?;
    ctx.set_coordinator(std::sync::Arc::new(coordinator));
    let client = ctx.client().await?;
    let reporter = Reporter::new();
    reporter.note(format!(
        "batch {batch}: worker {} joined ({} jobs in the file)",
        queue.worker,
        jobs.len()
    ));
    let runner = Runner {
        client,
        manifest,
        limiter: cmd.rate.map(RateLimiter::new),
        reporter: reporter.clone(),
        cancel: ctx.interrupt(),
        out: cmd.out.clone(),
        timeout: cmd.timeout.map(Duration::from_secs),
    };
    let reclaim_after = Duration::from_secs_f64(cmd.reclaim_after.max(0.1));
    let outcomes = work(
        &mut queue,
        &runner,
        &jobs,
        &batch,
        cmd.concurrency as usize,
        reclaim_after,
    )
    .await;
    let options = ReportOptions {
        file: &cmd.file,
        out: &cmd.out,
        json: cmd.json,
        retry_failed: false,
        mock: false,
    };
    report(&options, &runner.manifest.path, &jobs, &outcomes)
}

/// The worker loop: claim, run, record, until every job of the batch is done or failed
/// (or Ctrl-C). Returns this worker's outcomes, in file order.
async fn work(
    queue: &mut Queue,
    runner: &Runner,
    jobs: &[Job],
    batch: &str,
    concurrency: usize,
    reclaim_after: Duration,
) -> Vec<(usize, Outcome)> {
    let names: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let nonce = format!("redis-batch:{batch}");
    let mut running = FuturesUnordered::new();
    let mut held: HashMap<String, usize> = HashMap::new();
    let mut unrecorded: Vec<(Claim, usize, Option<String>)> = Vec::new();
    let mut outcomes = Vec::new();
    let mut outage = Outage::default();
    let mut last_alive: Option<Instant> = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let cancelled = runner.cancel.is_cancelled();
        let step: redis::RedisResult<bool> = async {
            let progress = queue.progress().await?;
            if progress.total.is_none() {
                // Not loaded yet, or Redis lost everything: (re)load; the job-derived keys
                // make jobs run again replay their tasks.
                queue.ensure_loaded(&names).await?;
                return Ok(false);
            }
            // Record jobs that finished while Redis was away.
            while let Some((claim, index, error)) = unrecorded.last() {
                queue.finish(&claim.entry, &names[*index], error.as_deref()).await?;
                unrecorded.pop();
            }
            if last_alive.is_none_or(|t| t.elapsed() >= reclaim_after / 3) {
                let entries: Vec<String> = held.keys().cloned().collect();
                queue.keep_alive(&entries).await?;
                last_alive = Some(Instant::now());
            }
            if running.is_empty() && (progress.finished() || cancelled) {
                return Ok(true);
            }
            let free = concurrency.saturating_sub(running.len());
            if free > 0 && !cancelled {
                for claim in queue.claim(free, reclaim_after).await? {
                    if held.contains_key(&claim.entry) {
                        continue;
                    }
                    let Some(index) = claim.job.filter(|i| *i < jobs.len()) else {
                        tracing::warn!(entry = %claim.entry, "a job entry this worker cannot read; skipped");
                        queue.skip(&claim.entry).await?;
                        continue;
                    };
                    if queue.is_finished(&names[index]).await? {
                        queue.skip(&claim.entry).await?;
                        continue;
                    }
                    held.insert(claim.entry.clone(), index);
                    let job = &jobs[index];
                    let plan = plan_for(job, runner.manifest.jobs.get(&job.name), &nonce, false);
                    running.push(async move { (claim, index, runner.run(job, plan).await) });
                }
            }
            Ok(false)
        }
        .await;
        match step {
            Ok(true) => break,
            Ok(false) => outage.ok(),
            Err(e) => outage.failed("batch queue", &e),
        }
        tokio::select! {
            Some((claim, index, outcome)) = running.next(), if !running.is_empty() => {
                held.remove(&claim.entry);
                let error = match &outcome {
                    Outcome::Completed { .. } => Some(None),
                    Outcome::Failed { error, .. } => Some(Some(error.clone())),
                    // Left unacknowledged: another worker (or a re-run) takes it over.
                    Outcome::Interrupted { .. } => None,
                };
                if let Some(error) = error
                    && let Err(e) = queue.finish(&claim.entry, &names[index], error.as_deref()).await
                {
                    outage.failed("recording a finished job", &e);
                    unrecorded.push((claim, index, error));
                }
                outcomes.push((index, outcome));
            }
            _ = tick.tick() => {}
        }
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes
}
