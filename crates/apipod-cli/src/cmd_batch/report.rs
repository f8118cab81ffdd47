//! The end of a batch: file paths (or the JSON summary) on stdout, one line per failed job
//! and a count on stderr, and the exit code.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::json;

use crate::cmd_batch::jobs::Job;
use crate::cmd_batch::runner::Outcome;
use crate::exit::{CliError, Code};
use crate::{eprintln_nopipe, println_nopipe};

/// What the report needs from the command line.
pub struct ReportOptions<'a> {
    /// The jobs file, as given.
    pub file: &'a Path,
    /// `--out`.
    pub out: &'a PathBuf,
    /// `--json`.
    pub json: bool,
    /// `--retry-failed`.
    pub retry_failed: bool,
    /// `--mock`: nothing can be resumed.
    pub mock: bool,
}

/// Prints the outcome of every job (in file order) and returns the batch's exit status:
/// 130 when any job is unfinished, else the code of the first failed job, else success.
pub fn report(
    options: &ReportOptions<'_>,
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
                if !options.json {
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
                eprintln_nopipe!("failed: {} (line {}): {error}", job.name, job.line);
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
    eprintln_nopipe!(
        "batch: {total} job(s): {done} completed{already}, {failed} failed, {interrupted} unfinished; manifest {}",
        manifest.display()
    );
    if options.json {
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
        let running = if options.mock {
            ""
        } else {
            "; submitted tasks keep running"
        };
        let mut err = CliError::new(
            Code::Interrupted,
            format!("interrupted with {interrupted} job(s) unfinished{running}"),
        );
        if !options.mock {
            err = err.with_hint(format!(
                "resume with the same command: apipod batch {} --out {}",
                options.file.display(),
                options.out.display()
            ));
        }
        return Err(err.into());
    }
    if let Some(code) = first_failure {
        return Err(CliError::new(code, format!("{failed} of {total} job(s) failed"))
            .with_hint(if options.retry_failed {
                "see the messages above".to_string()
            } else {
                "re-run to retry jobs that hit API errors or timeouts; add --retry-failed to resubmit failed tasks".to_string()
            })
            .into());
    }
    Ok(())
}
