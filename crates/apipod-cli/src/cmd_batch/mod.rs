//! `apipod batch`: many jobs from a JSON Lines file, with bounded concurrency, a shared
//! rate limit and a crash-safe, resumable manifest.
//!
//! # The manifest
//!
//! `DIR/manifest.jsonl` is an append-only log, one JSON record per line, each written and
//! fsynced before the step it records is relied on:
//!
//! 1. `batch`: the header, with a random nonce that makes this run's keys unique.
//! 2. `prepared`: a job's request hash and idempotency key, written **before** its submit is
//!    sent.
//! 3. `submitted`: the task handle, once APIPod accepted the job.
//! 4. `completed` (files, URLs) or `failed` (exit code, message).
//!
//! Re-running the same command folds the log per job: completed jobs are skipped, jobs with
//! a task are waited on (never re-submitted), and jobs with only a key are submitted again
//! with the same key, so APIPod replays the task the lost submit created instead of creating
//! a second one. Jobs whose task failed stay failed unless `--retry-failed` is given (they
//! are then submitted as a new attempt, with a new key).

mod jobs;
mod plan;
#[cfg(feature = "redis")]
mod redis;
mod report;
mod runner;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use futures::StreamExt;

use crate::context::Context;
use crate::exit::CliError;
use crate::manifest::Manifest;
use crate::progress::Reporter;
use crate::rate::RateLimiter;
use jobs::read_jobs;
use plan::{Plan, plan_for};
use report::{ReportOptions, report};
use runner::{Outcome, Runner};

/// Run many jobs from a JSON Lines file; re-run the same command to resume.
///
/// Each line is a full request body (`{"model": "...", "prompt": "...", ...}`) with an
/// optional `"id"` naming the job (default `line-N`). Every line is validated before
/// anything is submitted. Progress is recorded in DIR/manifest.jsonl; after a crash or
/// Ctrl-C, running the same command again finishes the batch without creating duplicate
/// tasks.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  apipod batch jobs.jsonl --concurrency 8 --rate 2 --out renders/\n\njobs.jsonl:\n  {\"id\": \"cover\", \"model\": \"seedream-v4.5\", \"prompt\": \"a lighthouse at dawn\", \"quality\": \"4K\"}\n  {\"model\": \"seedance-2.0-t2v\", \"prompt\": \"waves at night\", \"duration\": 5}\n\nExit status: 0 when every job completed; 2 when a line is invalid (nothing submitted);\n130 when interrupted; otherwise the code of the first failed job (3, 4 or 5)."
)]
pub struct CmdBatch {
    /// The jobs: one JSON request body per line.
    #[arg(value_name = "FILE.jsonl")]
    pub file: PathBuf,

    /// Jobs running at once.
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    /// Directory for the results and manifest.jsonl.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// At most this many submits per second, across all jobs.
    #[arg(long, value_name = "PER_SEC")]
    pub rate: Option<f64>,

    /// Give up waiting on one job after this many seconds (default 600 for images, 1800 for
    /// videos); a re-run waits again.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Submit jobs whose task failed again, as a new task (with a new idempotency key).
    #[arg(long)]
    pub retry_failed: bool,

    /// Print a JSON summary instead of file paths.
    #[arg(long)]
    pub json: bool,

    /// Share the batch with the workers on other machines through this Redis
    /// (redis://HOST:PORT/): each job runs once across all workers that run this command on
    /// the same file; each writes the results it finished into its own --out.
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "URL", help_heading = "Across machines (Redis)")]
    pub redis: Option<String>,

    /// Prefix of the batch's Redis keys.
    #[cfg(feature = "redis")]
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "apipod",
        requires = "redis",
        help_heading = "Across machines (Redis)"
    )]
    pub redis_prefix: String,

    /// Name of the shared batch (default: derived from the file's contents, so every worker
    /// given the same file joins the same batch).
    #[cfg(feature = "redis")]
    #[arg(
        long,
        value_name = "ID",
        requires = "redis",
        help_heading = "Across machines (Redis)"
    )]
    pub batch_id: Option<String>,

    /// Take over a job whose worker has not reported for this many seconds (it died).
    #[cfg(feature = "redis")]
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60.0,
        requires = "redis",
        help_heading = "Across machines (Redis)"
    )]
    pub reclaim_after: f64,

    /// Print the shared batch's progress across all workers, and exit.
    #[cfg(feature = "redis")]
    #[arg(long, requires = "redis", help_heading = "Across machines (Redis)")]
    pub status: bool,
}

/// Fails when a job's request changed since `manifest` recorded it: its key would then
/// speak for another request.
fn check_unchanged(file: &std::path::Path, jobs: &[jobs::Job], manifest: &Manifest) -> Result<()> {
    let changed: Vec<String> = jobs
        .iter()
        .filter_map(|job| {
            let known = manifest.jobs.get(&job.name)?.request_sha256.as_deref()?;
            (known != job.hash).then(|| format!("line {} (job {})", job.line, job.name))
        })
        .collect();
    if !changed.is_empty() {
        return Err(CliError::usage(format!(
            "{} changed since {} was written: {}",
            file.display(),
            manifest.path.display(),
            changed.join(", ")
        ))
        .with_hint(
            "restore those lines, give changed jobs a new \"id\", or use another --out directory",
        )
        .into());
    }
    Ok(())
}

impl CmdBatch {
    /// Runs (or resumes) the batch.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(CliError::usage(format!(
                "--rate must be a positive number of submits per second, not {rate}"
            ))
            .into());
        }
        #[cfg(feature = "redis")]
        if let Some(url) = &self.redis {
            return redis::run(self, ctx, url).await;
        }
        let jobs = read_jobs(&self.file)?;
        let manifest = Manifest::open(&self.out)?;
        check_unchanged(&self.file, &jobs, &manifest)?;
        let names: HashSet<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        let unknown = manifest
            .jobs
            .keys()
            .filter(|name| !names.contains(name.as_str()))
            .count();
        let mock = ctx.is_mock();
        let plans: Vec<Plan> = jobs
            .iter()
            .map(|job| {
                let state = manifest.jobs.get(&job.name);
                match plan_for(job, state, &manifest.nonce, self.retry_failed) {
                    // An earlier --mock run's tasks died with its server; a fresh mock
                    // knows neither them nor their keys, so submitting again is the resume.
                    Plan::Wait(handle) if mock => Plan::Submit {
                        key: handle.idempotency_key,
                        attempt: state.map_or(0, |s| s.attempt),
                        record: false,
                    },
                    plan => plan,
                }
            })
            .collect();
        let client = ctx.client().await?;
        let reporter = Reporter::new();
        if unknown > 0 {
            reporter.note(format!(
                "note: {} lists {unknown} job(s) that are not in {}; they are ignored",
                manifest.path.display(),
                self.file.display()
            ));
        }
        let resumed = plans.iter().filter(|p| p.is_resumed()).count();
        if resumed > 0 {
            reporter.note(format!(
                "resuming from {}: {resumed} of {} job(s) already started",
                manifest.path.display(),
                jobs.len()
            ));
        }
        let counter = reporter.counter(jobs.len() as u64, "jobs");
        let runner = Runner {
            client,
            manifest,
            limiter: self.rate.map(RateLimiter::new),
            reporter: reporter.clone(),
            cancel: ctx.interrupt(),
            out: self.out.clone(),
            timeout: self.timeout.map(Duration::from_secs),
        };
        let mut outcomes: Vec<(usize, Outcome)> =
            futures::stream::iter(jobs.iter().zip(plans).enumerate())
                .map(|(i, (job, plan))| {
                    let runner = &runner;
                    let counter = counter.clone();
                    async move {
                        let outcome = runner.run(job, plan).await;
                        if let Some(c) = &counter {
                            c.inc(1);
                        }
                        (i, outcome)
                    }
                })
                .buffer_unordered(self.concurrency as usize)
                .collect()
                .await;
        if let Some(c) = counter {
            c.finish_and_clear();
        }
        outcomes.sort_by_key(|(i, _)| *i);
        let options = ReportOptions {
            file: &self.file,
            out: &self.out,
            json: self.json,
            retry_failed: self.retry_failed,
            mock: ctx.is_mock(),
        };
        report(&options, &runner.manifest.path, &jobs, &outcomes)
    }
}
