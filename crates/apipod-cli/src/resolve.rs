//! Which task an id names: `--kind`, the id's prefix, or asking both status endpoints.
//! Shared by `status`, `wait` and `download`.

use std::time::Duration;

use anyhow::Result;
use apipod::{Client, TaskKind, TaskSnapshot};
use clap::ValueEnum;

use crate::exit::{CliError, Code};

/// `--kind`: which API the task belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// An image task.
    Image,
    /// A video task.
    Video,
}

impl From<KindArg> for TaskKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Image => TaskKind::Image,
            KindArg::Video => TaskKind::Video,
        }
    }
}

/// The kind a task id's prefix shows (`img_...`, `vid_...`), if any.
pub fn kind_from_id(id: &str) -> Option<TaskKind> {
    if id.starts_with("img_") {
        Some(TaskKind::Image)
    } else if id.starts_with("vid_") {
        Some(TaskKind::Video)
    } else {
        None
    }
}

/// Reads a task once: as `kind` when given, else as the id's prefix says, else as an image
/// task and, when APIPod answers 404, as a video task.
pub async fn locate(client: &Client, id: &str, kind: Option<KindArg>) -> Result<TaskSnapshot> {
    if let Some(kind) = kind.map(TaskKind::from).or_else(|| kind_from_id(id)) {
        return Ok(client.status(kind, id).await?);
    }
    match client.status(TaskKind::Image, id).await {
        Err(e) if e.status() == Some(404) => {
            tracing::debug!(task_id = id, "not an image task; trying video");
        }
        other => return Ok(other?),
    }
    match client.status(TaskKind::Video, id).await {
        Err(e) if e.status() == Some(404) => Err(anyhow::Error::new(e).context(format!(
            "task {id} was found neither as an image nor as a video task"
        ))),
        other => Ok(other?),
    }
}

/// [`locate`] within `timeout` (`--timeout`), else exit 5: a server that answers slowly,
/// or not at all, cannot hold the command longer than asked.
pub async fn locate_within(
    client: &Client,
    id: &str,
    kind: Option<KindArg>,
    timeout: Option<Duration>,
) -> Result<TaskSnapshot> {
    let Some(limit) = timeout else {
        return locate(client, id, kind).await;
    };
    match tokio::time::timeout(limit, locate(client, id, kind)).await {
        Ok(result) => result,
        Err(_) => Err(CliError::new(
            Code::Timeout,
            format!("timed out after {limit:.0?} reading task {id}; APIPod did not answer in time"),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_prefix() {
        assert_eq!(kind_from_id("img_abc"), Some(TaskKind::Image));
        assert_eq!(kind_from_id("vid_abc"), Some(TaskKind::Video));
        assert_eq!(kind_from_id("2f0392df-7da1"), None);
    }
}
