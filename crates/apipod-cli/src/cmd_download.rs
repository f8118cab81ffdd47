//! `apipod download`: fetch a finished task's results into a directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use apipod::{TaskSnapshot, TaskStatus};
use clap::Args;
use serde_json::json;

use crate::context::Context;
use crate::exit::{CliError, Code};
use crate::println_nopipe;
use crate::resolve::{KindArg, locate_within};
use crate::resume::resume_command;
use crate::save::{download_error, save_outputs};

/// Download the results of a completed task.
#[derive(Debug, Args)]
pub struct CmdDownload {
    /// Task id.
    #[arg(value_name = "TASK_ID")]
    pub task_id: String,

    /// Directory for the files.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,

    /// Image or video task (default: from the id's prefix, else tried in that order).
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,

    /// Give up after this many seconds: bounds reading the task and each result's download
    /// (default: no overall limit; a download that stalls for 60 s fails).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Print JSON (`{task_id, files, urls}`) instead of file paths.
    #[arg(long)]
    pub json: bool,
}

impl CmdDownload {
    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let client = ctx.client().await?;
        let interrupt = ctx.interrupt();
        let timeout = self.timeout.map(Duration::from_secs);
        let snap = locate_within(&client, &self.task_id, self.kind, timeout).await?;
        match snap.status() {
            TaskStatus::Completed => {}
            TaskStatus::Failed | TaskStatus::Cancelled => {
                return Err(ended_error(&self.task_id, &snap).into());
            }
            other => {
                let progress = snap
                    .progress()
                    .map(|p| format!(" ({p}%)"))
                    .unwrap_or_default();
                let mut err = CliError::new(
                    Code::Failure,
                    format!(
                        "task {} has no results yet: it is {other}{progress}",
                        self.task_id
                    ),
                );
                if let Some(cmd) = resume_command(ctx, snap.kind, &self.task_id, Some(&self.out)) {
                    err = err.with_hint(format!("wait for it with: {cmd}"));
                }
                return Err(err.into());
            }
        }
        let outputs = snap.outputs();
        let saved = save_outputs(&client, &outputs, &self.out, Some(&interrupt), timeout)
            .await
            .map_err(|e| download_error(e, ctx, snap.kind, &self.task_id, &self.out))?;
        if self.json {
            let value = json!({
                "task_id": self.task_id,
                "kind": snap.kind.as_str(),
                "files": saved.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>(),
                "urls": outputs.iter().map(|o| o.url.as_str()).collect::<Vec<_>>(),
            });
            println_nopipe!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            for file in &saved {
                println_nopipe!("{}", file.path.display());
            }
        }
        Ok(())
    }
}

/// Exit 4 for a task that ended `failed` or `cancelled`: it has no results to fetch. The
/// message reads like the SDK's `TaskFailed` after a wait.
fn ended_error(task_id: &str, snap: &TaskSnapshot) -> CliError {
    let code = snap
        .error_code()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    CliError::new(
        Code::TaskFailed,
        format!(
            "task {task_id} {}: {}{code}",
            snap.status(),
            snap.error_message().unwrap_or("no message")
        ),
    )
}
