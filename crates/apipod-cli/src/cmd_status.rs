//! `apipod status` and `apipod wait`: read or wait on a task by id.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use apipod::{TaskHandle, TaskSnapshot, WaitOptions};
use clap::Args;
use serde_json::{Value, json};

use crate::context::Context;
use crate::exit::with_resume_hint;
use crate::println_nopipe;
use crate::progress::{Reporter, wait_with_progress};
use crate::resolve::{KindArg, locate_within};
use crate::resume::resume_command;
use crate::save::{download_error, save_outputs};

/// A snapshot as the JSON `status`/`wait` print.
fn snapshot_json(snap: &TaskSnapshot) -> Value {
    json!({
        "task_id": snap.task_id(),
        "kind": snap.kind.as_str(),
        "status": snap.status().as_str(),
        "progress": snap.progress(),
        "urls": snap.outputs().iter().map(|o| o.url.clone()).collect::<Vec<_>>(),
        "completed_at": snap
            .completed_at()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs()),
        "error_code": snap.error_code(),
        "error_message": snap.error_message(),
        "request_id": snap.request_id,
    })
}

/// Show a task's current state.
#[derive(Debug, Args)]
pub struct CmdStatus {
    /// Task id (`img_...`/`vid_...` ids need no `--kind`).
    #[arg(value_name = "TASK_ID")]
    pub task_id: String,

    /// Image or video task (default: from the id's prefix, else tried in that order).
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,

    /// Give up after this many seconds (default: each request is bounded by the client's
    /// 60 s timeout and retried a few times).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl CmdStatus {
    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let client = ctx.client().await?;
        let timeout = self.timeout.map(Duration::from_secs);
        let snap = locate_within(&client, &self.task_id, self.kind, timeout).await?;
        if self.json {
            println_nopipe!("{}", serde_json::to_string_pretty(&snapshot_json(&snap))?);
            return Ok(());
        }
        println_nopipe!("task:     {}", snap.task_id());
        println_nopipe!("kind:     {}", snap.kind);
        let progress = snap
            .progress()
            .map(|p| format!(" ({p}%)"))
            .unwrap_or_default();
        println_nopipe!("status:   {}{progress}", snap.status());
        if let Some(code) = snap.error_code() {
            println_nopipe!("error:    {code}");
        }
        if let Some(message) = snap.error_message() {
            println_nopipe!("message:  {message}");
        }
        for output in snap.outputs() {
            println_nopipe!("result:   {}", output.url);
        }
        Ok(())
    }
}

/// Wait for a task to finish, then print its result URLs or download them.
#[derive(Debug, Args)]
pub struct CmdWait {
    /// Task id.
    #[arg(value_name = "TASK_ID")]
    pub task_id: String,

    /// Image or video task (default: from the id's prefix, else tried in that order).
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,

    /// Give up after this many seconds (default 600 for images, 1800 for videos); with
    /// `--out`, also bounds each result's download.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Download the results into this directory and print the file paths (default: print
    /// the result URLs).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl CmdWait {
    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let client = ctx.client().await?;
        let interrupt = ctx.interrupt();
        let timeout = self.timeout.map(Duration::from_secs);
        let started = Instant::now();
        let first = locate_within(&client, &self.task_id, self.kind, timeout).await?;
        let handle = TaskHandle::from_id(first.kind, &self.task_id);
        let resume = resume_command(ctx, handle.kind, &handle.task_id, self.out.as_deref());
        let mut options = WaitOptions::default().with_cancel(interrupt.clone());
        // One budget for the first read and the wait.
        options.timeout = timeout.map(|t| t.saturating_sub(started.elapsed()));
        let reporter = Reporter::new();
        let mut progress = reporter.task(handle.task_id.clone());
        progress.update(&first);
        let completed = wait_with_progress(&client, &handle, options, &mut progress)
            .await
            .map_err(|e| with_resume_hint(e, resume.as_deref()))?;
        progress.finish();
        let outputs = completed.outputs();
        let files = match &self.out {
            Some(dir) => save_outputs(&client, &outputs, dir, Some(&interrupt), timeout)
                .await
                .map_err(|e| download_error(e, ctx, handle.kind, &handle.task_id, dir))?,
            None => Vec::new(),
        };
        if self.json {
            let mut value = snapshot_json(&completed.snapshot);
            value["files"] = json!(
                files
                    .iter()
                    .map(|f| f.path.display().to_string())
                    .collect::<Vec<_>>()
            );
            println_nopipe!("{}", serde_json::to_string_pretty(&value)?);
        } else if self.out.is_some() {
            for file in &files {
                println_nopipe!("{}", file.path.display());
            }
        } else {
            for output in &outputs {
                println_nopipe!("{}", output.url);
            }
        }
        Ok(())
    }
}
