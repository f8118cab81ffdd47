//! `apipod download`: fetch a finished task's results into a directory.

use std::path::{Path, PathBuf};

use anyhow::Result;
use apipod::{
    CancellationToken, Client, DownloadOptions, Downloaded, Output, TaskKind, TaskStatus,
};
use clap::Args;
use serde_json::json;

use crate::cmd_status::{KindArg, locate, resume_command, shell_word};
use crate::context::Context;
use crate::exit::{CliError, Code};
use crate::println_nopipe;

/// Downloads `outputs` into `dir` (created if needed) with the SDK: streamed, retried,
/// atomic, named `{task_id}-{index}.{ext}`. Files are replaced: a name is unique to one
/// result, so an existing file is an earlier download of the same result (a resumed run).
pub async fn save_outputs(
    client: &Client,
    outputs: &[Output],
    dir: &Path,
    cancel: Option<&CancellationToken>,
) -> Result<Vec<Downloaded>> {
    let mut options = DownloadOptions::default().with_overwrite(true);
    options.cancel = cancel.cloned();
    Ok(client.download_all(outputs, dir, &options).await?)
}

/// Turns an interrupted download into exit 130 with the command that fetches the results
/// later; other errors pass through.
pub fn download_error(
    err: anyhow::Error,
    ctx: &Context,
    kind: TaskKind,
    task_id: &str,
    dir: &Path,
) -> anyhow::Error {
    if Code::of(&err) != Code::Interrupted {
        return err;
    }
    let mut e = CliError::new(
        Code::Interrupted,
        format!("interrupted while downloading the results of task {task_id}"),
    );
    if !ctx.is_mock() {
        e = e.with_hint(format!(
            "fetch them within 24 h with: apipod{} download {task_id} --kind {kind} --out {}",
            ctx.resume_flags(),
            shell_word(&dir.display().to_string())
        ));
    }
    e.into()
}

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

    /// Print JSON (`{task_id, files, urls}`) instead of file paths.
    #[arg(long)]
    pub json: bool,
}

impl CmdDownload {
    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let client = ctx.client().await?;
        let interrupt = ctx.interrupt();
        let snap = locate(&client, &self.task_id, self.kind).await?;
        match snap.status() {
            TaskStatus::Completed => {}
            TaskStatus::Failed | TaskStatus::Cancelled => {
                return Err(apipod::Error::TaskFailed {
                    task_id: self.task_id.clone(),
                    code: snap.error_code().map(str::to_string),
                    message: snap.error_message().map(str::to_string),
                    snapshot: Box::new(snap),
                }
                .into());
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
        let saved = save_outputs(&client, &outputs, &self.out, Some(&interrupt))
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
