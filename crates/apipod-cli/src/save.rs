//! Saving a completed task's results into `--out`, and what an interrupted download tells
//! the user. Shared by `generate`, `wait`, `download` and `batch`.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use apipod::{CancellationToken, Client, DownloadOptions, Downloaded, Output, TaskKind};

use crate::context::Context;
use crate::exit::{CliError, Code};
use crate::resume::shell_word;

/// Downloads `outputs` into `dir` (created if needed) with the SDK: streamed, retried,
/// atomic, named `{task_id}-{index}.{ext}`. Files are replaced: a name is unique to one
/// result, so an existing file is an earlier download of the same result (a resumed run).
/// `timeout` bounds each result's download, retries included (`--timeout`); without it a
/// download ends only when the server stops sending (or stalls for 60 s).
pub async fn save_outputs(
    client: &Client,
    outputs: &[Output],
    dir: &Path,
    cancel: Option<&CancellationToken>,
    timeout: Option<Duration>,
) -> Result<Vec<Downloaded>> {
    let mut options = DownloadOptions::default().with_overwrite(true);
    options.cancel = cancel.cloned();
    options.timeout = timeout;
    Ok(client.download_all(outputs, dir, &options).await?)
}

/// Turns an interrupted download into exit 130, and one past `--timeout` into exit 5, each
/// with the command that fetches the results later; other errors pass through.
pub fn download_error(
    err: anyhow::Error,
    ctx: &Context,
    kind: TaskKind,
    task_id: &str,
    dir: &Path,
) -> anyhow::Error {
    let code = Code::of(&err);
    let message = match code {
        Code::Interrupted => {
            format!("interrupted while downloading the results of task {task_id}")
        }
        Code::Timeout => {
            let after = err
                .chain()
                .find_map(|e| match e.downcast_ref::<apipod::Error>() {
                    Some(apipod::Error::Timeout { elapsed, .. }) => {
                        Some(format!(" after {elapsed:.0?}"))
                    }
                    _ => None,
                })
                .unwrap_or_default();
            format!(
                "timed out{after} downloading the results of task {task_id}; nothing partial was kept"
            )
        }
        _ => return err,
    };
    let mut e = CliError::new(code, message);
    if !ctx.is_mock() {
        e = e.with_hint(format!(
            "fetch them within 24 h with: apipod{} download {} --kind {kind} --out {}",
            ctx.resume_flags(),
            shell_word(task_id),
            shell_word(&dir.display().to_string())
        ));
    }
    e.into()
}
