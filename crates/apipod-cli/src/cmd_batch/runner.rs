//! Running one job: record its key, submit under the shared rate limit, wait with progress,
//! download, and record how it ended, each step in the manifest before the next relies on
//! it.

use std::path::PathBuf;
use std::time::Duration;

use apipod::{CancellationToken, Client, SubmitOptions, TaskHandle, WaitOptions};

use crate::cmd_batch::jobs::Job;
use crate::cmd_batch::plan::Plan;
use crate::exit::Code;
use crate::manifest::{Manifest, Record};
use crate::progress::{Reporter, wait_with_progress};
use crate::rate::RateLimiter;
use crate::save::save_outputs;

/// How one job ended on this run.
#[derive(Debug, Clone)]
pub enum Outcome {
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
pub struct Runner {
    pub client: Client,
    pub manifest: Manifest,
    pub limiter: Option<RateLimiter>,
    pub reporter: Reporter,
    pub cancel: CancellationToken,
    pub out: PathBuf,
    pub timeout: Option<Duration>,
}

impl Runner {
    /// Carries out `plan` for `job`.
    pub async fn run(&self, job: &Job, plan: Plan) -> Outcome {
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
            timeout: self.timeout,
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
            Err(err) => Err(self
                .record_failure(job, None, &err, Code::of_sdk(&err))
                .await),
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
            Err(err) => {
                let code = Code::of_sdk_after_submit(&err);
                return self.record_failure(job, task_id, &err, code).await;
            }
        };
        let outputs = completed.outputs();
        let saved = match save_outputs(
            &self.client,
            &outputs,
            &self.out,
            Some(&self.cancel),
            self.timeout,
        )
        .await
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
        code: Code,
    ) -> Outcome {
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
