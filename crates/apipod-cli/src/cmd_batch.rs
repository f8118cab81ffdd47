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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use apipod::{
    CancellationToken, Client, GenerationRequest, SubmitOptions, TaskHandle, WaitOptions,
};
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::cmd_download::save_outputs;
use crate::context::Context;
use crate::exit::{CliError, Code};
use crate::manifest::*;
use crate::println_nopipe;
use crate::progress::{Reporter, wait_with_progress};
use crate::rate::RateLimiter;

/// File name of the manifest inside `--out`.
pub const MANIFEST_FILE: &str = "manifest.jsonl";

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
}

/// One line of the jobs file.
#[derive(Debug, Clone)]
struct Job {
    name: String,
    line: usize,
    request: GenerationRequest,
    hash: String,
}

/// Reads and validates every job; all problems are reported together.
fn parse_jobs(text: &str) -> Result<Vec<Job>, Vec<String>> {
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    let mut names = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let mut body = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                problems.push(format!("line {line}: not a JSON object"));
                continue;
            }
            Err(e) => {
                problems.push(format!("line {line}: not JSON: {e}"));
                continue;
            }
        };
        let name = match body.remove("id") {
            None => format!("line-{line}"),
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                problems.push(format!(
                    "line {line}: \"id\" must be a non-empty string, not {other}"
                ));
                continue;
            }
        };
        if let Some(first) = names.insert(name.clone(), line) {
            problems.push(format!(
                "line {line}: job id {name:?} is already used on line {first}"
            ));
            continue;
        }
        let hash = request_hash(&body);
        match GenerationRequest::from_json(Value::Object(body)) {
            Ok(request) => jobs.push(Job {
                name,
                line,
                request,
                hash,
            }),
            Err(e) => problems.push(format!("line {line}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(problems)
    }
}

/// What to do with a job on this run.
#[derive(Debug, Clone)]
enum Plan {
    /// Already completed on an earlier run.
    Done {
        task_id: String,
        files: Vec<String>,
        urls: Vec<String>,
    },
    /// Its task failed on an earlier run (and `--retry-failed` was not given).
    Failed {
        task_id: Option<String>,
        error: String,
    },
    /// Submitted earlier: wait for it.
    Wait(TaskHandle),
    /// Submit with this key; `record` when the key is new and must be written first.
    Submit {
        key: String,
        attempt: u32,
        record: bool,
    },
}

fn plan_for(job: &Job, state: Option<&JobState>, nonce: &str, retry_failed: bool) -> Plan {
    let fresh = |attempt| Plan::Submit {
        key: derive_key(nonce, &job.name, &job.hash, attempt),
        attempt,
        record: true,
    };
    let Some(state) = state else {
        return fresh(0);
    };
    if let Some((task_id, files, urls)) = &state.completed {
        return Plan::Done {
            task_id: task_id.clone(),
            files: files.clone(),
            urls: urls.clone(),
        };
    }
    if let Some((task_id, error)) = &state.task_failed {
        return if retry_failed {
            fresh(state.attempt + 1)
        } else {
            Plan::Failed {
                task_id: task_id.clone(),
                error: error.clone(),
            }
        };
    }
    if let Some(task) = &state.task {
        return Plan::Wait(task.clone());
    }
    match &state.key {
        Some(key) => Plan::Submit {
            key: key.clone(),
            attempt: state.attempt,
            record: false,
        },
        None => fresh(0),
    }
}

/// How one job ended on this run.
#[derive(Debug, Clone)]
enum Outcome {
    Completed {
        task_id: String,
        files: Vec<String>,
        urls: Vec<String>,
        earlier: bool,
    },
    Failed {
        task_id: Option<String>,
        code: Code,
        error: String,
    },
    Interrupted {
        task_id: Option<String>,
    },
}

/// Everything the jobs share.
struct Runner {
    client: Client,
    manifest: Manifest,
    limiter: Option<RateLimiter>,
    reporter: Reporter,
    cancel: CancellationToken,
    out: PathBuf,
    timeout: Option<Duration>,
}

impl Runner {
    async fn run(&self, job: &Job, plan: Plan) -> Outcome {
        let failed = |task_id: Option<String>, code: Code, error: String| Outcome::Failed {
            task_id,
            code,
            error,
        };
        let handle = match plan {
            Plan::Done {
                task_id,
                files,
                urls,
            } => {
                return Outcome::Completed {
                    task_id,
                    files,
                    urls,
                    earlier: true,
                };
            }
            Plan::Failed { task_id, error } => return failed(task_id, Code::TaskFailed, error),
            _ if self.cancel.is_cancelled() => return Outcome::Interrupted { task_id: None },
            Plan::Wait(handle) => handle,
            Plan::Submit {
                key,
                attempt,
                record,
            } => match self.submit(job, key, attempt, record).await {
                Ok(handle) => handle,
                Err(outcome) => return outcome,
            },
        };
        self.finish(job, handle).await
    }

    /// Records the key (when new), then submits.
    async fn submit(
        &self,
        job: &Job,
        key: String,
        attempt: u32,
        record: bool,
    ) -> Result<TaskHandle, Outcome> {
        if record {
            let prepared = Record::Prepared {
                job: job.name.clone(),
                line: job.line,
                model: job.request.model().to_string(),
                request_sha256: job.hash.clone(),
                idempotency_key: key.clone(),
                attempt,
            };
            if let Err(e) = self.manifest.append(&prepared).await {
                return Err(Outcome::Failed {
                    task_id: None,
                    code: Code::Failure,
                    error: format!("{e:#}"),
                });
            }
        }
        if let Some(limiter) = &self.limiter
            && !limiter.acquire(&self.cancel).await
        {
            return Err(Outcome::Interrupted { task_id: None });
        }
        let options = SubmitOptions {
            idempotency_key: Some(key),
            cancel: Some(self.cancel.clone()),
            ..SubmitOptions::default()
        };
        match self.client.submit_with(job.request.clone(), options).await {
            Ok(submitted) => {
                let record = Record::Submitted {
                    job: job.name.clone(),
                    task: submitted.handle.clone(),
                    request_id: submitted.request_id.clone(),
                    cost: submitted.cost.clone(),
                    replayed: submitted.replayed,
                };
                if let Err(e) = self.manifest.append(&record).await {
                    return Err(Outcome::Failed {
                        task_id: Some(submitted.handle.task_id),
                        code: Code::Failure,
                        error: format!("{e:#}"),
                    });
                }
                Ok(submitted.handle)
            }
            Err(apipod::Error::Cancelled { .. }) => Err(Outcome::Interrupted { task_id: None }),
            Err(err) => Err(self.record_failure(job, None, &err).await),
        }
    }

    /// Waits for the task, downloads its results and records the end.
    async fn finish(&self, job: &Job, handle: TaskHandle) -> Outcome {
        let mut options = WaitOptions::default().with_cancel(self.cancel.clone());
        options.timeout = self.timeout;
        let mut progress = self.reporter.task(job.name.clone());
        let waited = wait_with_progress(&self.client, &handle, options, &mut progress).await;
        progress.finish();
        let task_id = Some(handle.task_id.clone());
        let completed = match waited {
            Ok(c) => c,
            Err(apipod::Error::Cancelled { .. }) => return Outcome::Interrupted { task_id },
            Err(err) => return self.record_failure(job, task_id, &err).await,
        };
        let outputs = completed.outputs();
        let saved = match save_outputs(&self.client, &outputs, &self.out, Some(&self.cancel)).await
        {
            Ok(saved) => saved,
            Err(err) => {
                let code = Code::of(&err);
                if code == Code::Interrupted {
                    return Outcome::Interrupted { task_id };
                }
                let error = format!("download failed: {err:#}");
                let _ = self
                    .manifest
                    .append(&Record::Failed {
                        job: job.name.clone(),
                        task_id: task_id.clone(),
                        exit_code: code.as_u8(),
                        task_failed: false,
                        error: error.clone(),
                    })
                    .await;
                return Outcome::Failed {
                    task_id,
                    code,
                    error,
                };
            }
        };
        let files: Vec<String> = saved.iter().map(|s| s.path.display().to_string()).collect();
        let urls: Vec<String> = outputs.iter().map(|o| o.url.clone()).collect();
        let record = Record::Completed {
            job: job.name.clone(),
            task_id: handle.task_id.clone(),
            files: files.clone(),
            urls: urls.clone(),
        };
        if let Err(e) = self.manifest.append(&record).await {
            return Outcome::Failed {
                task_id,
                code: Code::Failure,
                error: format!("{e:#}"),
            };
        }
        Outcome::Completed {
            task_id: handle.task_id,
            files,
            urls,
            earlier: false,
        }
    }

    async fn record_failure(
        &self,
        job: &Job,
        task_id: Option<String>,
        err: &apipod::Error,
    ) -> Outcome {
        let code = Code::of_sdk(err);
        let error = err.to_string();
        self.reporter
            .note(format!("{} (line {}): {error}", job.name, job.line));
        let record = Record::Failed {
            job: job.name.clone(),
            task_id: task_id.clone(),
            exit_code: code.as_u8(),
            task_failed: matches!(err, apipod::Error::TaskFailed { .. }),
            error: error.clone(),
        };
        if let Err(e) = self.manifest.append(&record).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot record a failure in the manifest");
        }
        Outcome::Failed {
            task_id,
            code,
            error,
        }
    }
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
        let text = std::fs::read_to_string(&self.file)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", self.file.display())))?;
        let jobs = parse_jobs(&text).map_err(|problems| {
            CliError::usage(format!(
                "{} has {} invalid line(s); nothing was submitted:\n  {}",
                self.file.display(),
                problems.len(),
                problems.join("\n  ")
            ))
        })?;
        if jobs.is_empty() {
            return Err(CliError::usage(format!("{} has no jobs", self.file.display())).into());
        }
        let manifest = Manifest::open(&self.out)?;
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
                self.file.display(),
                manifest.path.display(),
                changed.join(", ")
            ))
            .with_hint(
                "restore those lines, give changed jobs a new \"id\", or use another --out directory",
            )
            .into());
        }
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
        let resumed = plans
            .iter()
            .filter(|p| {
                matches!(
                    p,
                    Plan::Wait(_) | Plan::Submit { record: false, .. } | Plan::Done { .. }
                )
            })
            .count();
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
        self.report(ctx, &runner.manifest.path, &jobs, &outcomes)
    }

    fn report(
        &self,
        ctx: &Context,
        manifest: &Path,
        jobs: &[Job],
        outcomes: &[(usize, Outcome)],
    ) -> Result<()> {
        let (mut done, mut earlier, mut failed, mut interrupted) = (0, 0, 0, 0);
        let mut first_failure: Option<Code> = None;
        let mut rows = Vec::new();
        for (i, outcome) in outcomes {
            let job = &jobs[*i];
            let row = match outcome {
                Outcome::Completed {
                    task_id,
                    files,
                    urls,
                    earlier: was_earlier,
                } => {
                    done += 1;
                    if *was_earlier {
                        earlier += 1;
                    }
                    if !self.json {
                        for file in files {
                            println_nopipe!("{file}");
                        }
                    }
                    json!({"job": job.name, "line": job.line, "status": "completed", "task_id": task_id,
                           "files": files, "urls": urls, "earlier_run": was_earlier})
                }
                Outcome::Failed {
                    task_id,
                    code,
                    error,
                } => {
                    failed += 1;
                    first_failure.get_or_insert(*code);
                    crate::eprintln_nopipe!("failed: {} (line {}): {error}", job.name, job.line);
                    json!({"job": job.name, "line": job.line, "status": "failed", "task_id": task_id,
                           "exit_code": code.as_u8(), "error": error})
                }
                Outcome::Interrupted { task_id } => {
                    interrupted += 1;
                    json!({"job": job.name, "line": job.line, "status": "interrupted", "task_id": task_id})
                }
            };
            rows.push(row);
        }
        let total = jobs.len();
        let already = if earlier > 0 {
            format!(" ({earlier} in an earlier run)")
        } else {
            String::new()
        };
        crate::eprintln_nopipe!(
            "batch: {total} job(s): {done} completed{already}, {failed} failed, {interrupted} unfinished; manifest {}",
            manifest.display()
        );
        if self.json {
            let summary = json!({
                "manifest": manifest.display().to_string(),
                "total": total,
                "completed": done,
                "completed_earlier": earlier,
                "failed": failed,
                "unfinished": interrupted,
                "jobs": rows,
            });
            println_nopipe!("{}", serde_json::to_string_pretty(&summary)?);
        }
        if interrupted > 0 {
            let running = if ctx.is_mock() {
                ""
            } else {
                "; submitted tasks keep running"
            };
            let mut err = CliError::new(
                Code::Interrupted,
                format!("interrupted with {interrupted} job(s) unfinished{running}"),
            );
            if !ctx.is_mock() {
                err = err.with_hint(format!(
                    "resume with the same command: apipod batch {} --out {}",
                    self.file.display(),
                    self.out.display()
                ));
            }
            return Err(err.into());
        }
        if let Some(code) = first_failure {
            return Err(CliError::new(code, format!("{failed} of {total} job(s) failed"))
                .with_hint(if self.retry_failed {
                    "see the messages above".to_string()
                } else {
                    "re-run to retry jobs that hit API errors or timeouts; add --retry-failed to resubmit failed tasks".to_string()
                })
                .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;
    use tokio::time::Instant;

    #[test]
    fn parses_and_validates_every_line() {
        let text = r#"{"id": "a", "model": "seedream-v4.5", "prompt": "one"}

{"model": "seedream-v4.5", "prompt": "two", "quality": "4K"}
"#;
        let jobs = parse_jobs(text).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].name, "a");
        assert_eq!(jobs[1].name, "line-3");
        assert_eq!(jobs[1].line, 3);

        let bad = r#"{"model": "seedream-v4.5", "prompt": "p", "quality": "8K"}
[1]
{"id": "x", "model": "seedream-v4.5", "prompt": "p"}
{"id": "x", "model": "seedream-v4.5", "prompt": "q"}"#;
        let problems = parse_jobs(bad).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 1: invalid request: seedream-v4.5: `quality`"));
        assert!(problems[1].starts_with("line 2: not a JSON object"));
        assert!(problems[2].contains("already used on line 3"));
    }

    #[test]
    fn hash_ignores_key_order_and_keys_are_stable() {
        let a: Map<String, Value> =
            serde_json::from_str(r#"{"model": "m", "prompt": "p", "n": 2}"#).unwrap();
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"n": 2, "prompt": "p", "model": "m"}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        let k = derive_key("nonce", "job", &request_hash(&a), 0);
        assert_eq!(k, derive_key("nonce", "job", &request_hash(&a), 0));
        assert_ne!(k, derive_key("nonce", "job", &request_hash(&a), 1));
        assert_ne!(k, derive_key("other", "job", &request_hash(&a), 0));
        assert!(k.len() <= apipod::MAX_IDEMPOTENCY_KEY_LEN);
    }

    fn job() -> Job {
        parse_jobs(r#"{"id": "j", "model": "seedream-v4.5", "prompt": "p"}"#)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn plans_follow_the_manifest() {
        let job = job();
        assert!(matches!(
            plan_for(&job, None, "n", false),
            Plan::Submit {
                record: true,
                attempt: 0,
                ..
            }
        ));
        let mut state = JobState::default();
        state.apply(&Record::Prepared {
            job: "j".into(),
            line: 1,
            model: "seedream-v4.5".into(),
            request_sha256: job.hash.clone(),
            idempotency_key: "k1".into(),
            attempt: 0,
        });
        match plan_for(&job, Some(&state), "n", false) {
            Plan::Submit {
                key, record: false, ..
            } => assert_eq!(key, "k1"),
            other => panic!("{other:?}"),
        }
        let handle = TaskHandle::from_id(apipod::TaskKind::Image, "img_1");
        state.apply(&Record::Submitted {
            job: "j".into(),
            task: handle.clone(),
            request_id: None,
            cost: None,
            replayed: false,
        });
        assert!(matches!(plan_for(&job, Some(&state), "n", false), Plan::Wait(h) if h == handle));
        // A timeout does not end the job: the next run waits again.
        state.apply(&Record::Failed {
            job: "j".into(),
            task_id: Some("img_1".into()),
            exit_code: 5,
            task_failed: false,
            error: "timed out".into(),
        });
        assert!(matches!(
            plan_for(&job, Some(&state), "n", false),
            Plan::Wait(_)
        ));
        let mut failed = state.clone();
        failed.apply(&Record::Failed {
            job: "j".into(),
            task_id: Some("img_1".into()),
            exit_code: 4,
            task_failed: true,
            error: "task img_1 failed".into(),
        });
        assert!(matches!(
            plan_for(&job, Some(&failed), "n", false),
            Plan::Failed { .. }
        ));
        assert!(matches!(
            plan_for(&job, Some(&failed), "n", true),
            Plan::Submit {
                record: true,
                attempt: 1,
                ..
            }
        ));
        state.apply(&Record::Completed {
            job: "j".into(),
            task_id: "img_1".into(),
            files: vec!["out/a.png".into()],
            urls: vec![],
        });
        assert!(matches!(
            plan_for(&job, Some(&state), "n", false),
            Plan::Done { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_submits() {
        let limiter = RateLimiter::new(2.0);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        for expected_ms in [0, 500, 1000, 1500] {
            assert!(limiter.acquire(&cancel).await);
            assert_eq!(start.elapsed(), Duration::from_millis(expected_ms));
        }
        cancel.cancel();
        assert!(!limiter.acquire(&cancel).await);
    }

    #[test]
    fn manifest_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let nonce = {
            let m = Manifest::open(dir.path()).unwrap();
            m.nonce.clone()
        };
        let path = dir.path().join(MANIFEST_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"event":"prepared","job":"j","line":1,"model":"seedream-v4.5","request_sha256":"h","idempotency_key":"k","attempt":0}"#);
        text.push('\n');
        text.push_str(r#"{"event":"submitted","job":"j","ta"#);
        std::fs::write(&path, text).unwrap();
        let m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.nonce, nonce);
        assert_eq!(m.jobs["j"].key.as_deref(), Some("k"));
        assert!(m.jobs["j"].task.is_none());
        let repaired = std::fs::read_to_string(&path).unwrap();
        assert!(repaired.ends_with("\"attempt\":0}\n"), "{repaired}");
    }
}
