//! Progress on stderr: indicatif bars when stderr is a terminal, plain lines otherwise.

use std::fmt::Display;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use apipod::{Client, Completed, TaskHandle, TaskSnapshot, TaskStatus, WaitOptions};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::eprintln_nopipe;

/// Where progress goes: one terminal area for any number of bars, or plain stderr lines.
#[derive(Clone)]
pub struct Reporter {
    multi: Option<MultiProgress>,
}

impl Reporter {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        Self {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
        }
    }

    /// Progress of one task, labelled (e.g. with the task id or a batch job name).
    pub fn task(&self, label: impl Into<String>) -> TaskProgress {
        let label = label.into();
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(100));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.cyan} {prefix} {msg:<10} {bar:30.cyan/blue} {pos:>3}% {elapsed:>4}",
                )
                .expect("valid progress template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.clone());
            bar.set_message("submitted");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        TaskProgress {
            bar,
            label,
            started: Instant::now(),
            last: None,
        }
    }

    /// An overall counter (`done/total`) above the task bars; `None` without a terminal.
    pub fn counter(&self, total: u64, label: &str) -> Option<ProgressBar> {
        self.multi.as_ref().map(|multi| {
            let bar = multi.insert(0, ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix} {pos}/{len} {wide_msg}")
                    .expect("valid counter template"),
            );
            bar.set_prefix(label.to_string());
            bar
        })
    }

    /// A line of text on stderr that does not disturb the bars.
    pub fn note(&self, line: impl Display) {
        match &self.multi {
            Some(multi) => {
                let line = line.to_string();
                multi.suspend(|| eprintln_nopipe!("{line}"));
            }
            None => eprintln_nopipe!("{line}"),
        }
    }
}

/// One task's progress.
pub struct TaskProgress {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    last: Option<(String, Option<u8>)>,
}

impl TaskProgress {
    /// Shows a new status read (plain mode prints a line per change).
    pub fn update(&mut self, snap: &TaskSnapshot) {
        let status = snap.status().to_string();
        let progress = snap.progress();
        let progress = match snap.status() {
            TaskStatus::Completed => Some(100),
            _ => progress,
        };
        if self.last.as_ref() == Some(&(status.clone(), progress)) {
            return;
        }
        match &self.bar {
            Some(bar) => {
                bar.set_message(status.clone());
                if let Some(p) = progress {
                    bar.set_position(u64::from(p));
                }
            }
            None => {
                let pct = progress.map(|p| format!(" {p}%")).unwrap_or_default();
                eprintln_nopipe!(
                    "{}: {status}{pct} ({:.1}s)",
                    self.label,
                    self.started.elapsed().as_secs_f64()
                );
            }
        }
        self.last = Some((status, progress));
    }

    /// Removes the bar (plain mode prints nothing).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for TaskProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Waits for a task, showing each change of status or progress.
///
/// Errors are the SDK's: [`apipod::Error::TaskFailed`], [`apipod::Error::Timeout`] and
/// [`apipod::Error::Cancelled`] carry the task id.
pub async fn wait_with_progress(
    client: &Client,
    handle: &TaskHandle,
    options: WaitOptions,
    progress: &mut TaskProgress,
) -> apipod::Result<Completed> {
    client
        .task(handle.clone())
        .wait_with_progress(options, |snap| progress.update(snap))
        .await
}
