//! Exit codes and how errors map to them.
//!
//! | code | meaning |
//! | ---: | --- |
//! | 0 | success |
//! | 1 | any other failure (local file I/O, a task that has not finished for `download`) |
//! | 2 | usage or validation error: nothing was submitted |
//! | 3 | APIPod answered with an error, or could not be reached |
//! | 4 | the task failed or was cancelled, or an asset ended FAILED, EXPIRED or DELETED |
//! | 5 | timed out waiting (the task may still be running: resume with `apipod wait`) |
//! | 130 | interrupted by Ctrl-C (the task keeps running: resume with `apipod wait`) |

use std::fmt;
use std::process::ExitCode;

use crate::eprintln_nopipe;

/// Exit-code table shown at the end of `apipod --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
    0    success
    1    other failure (local file I/O; `download` of a task that has not finished)
    2    usage or validation error; nothing was submitted
    3    APIPod answered with an error or could not be reached
    4    the task failed or was cancelled; an asset ended FAILED, EXPIRED or DELETED
    5    timed out waiting; the task may still be running (resume with `apipod wait`)
  130    interrupted (Ctrl-C); the task keeps running (resume with `apipod wait`)";

/// A documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// 1: anything not covered below.
    Failure,
    /// 2: bad arguments or an invalid request; nothing was submitted.
    Usage,
    /// 3: an API or transport error.
    Api,
    /// 4: the task ended `failed` or `cancelled`, or an asset became unusable.
    TaskFailed,
    /// 5: the wait's deadline passed.
    Timeout,
    /// 130: Ctrl-C.
    Interrupted,
}

impl Code {
    /// The process exit status.
    pub fn as_u8(self) -> u8 {
        match self {
            Code::Failure => 1,
            Code::Usage => 2,
            Code::Api => 3,
            Code::TaskFailed => 4,
            Code::Timeout => 5,
            Code::Interrupted => 130,
        }
    }

    /// The code for an SDK error.
    pub fn of_sdk(err: &apipod::Error) -> Code {
        use apipod::Error as E;
        match err {
            E::Config { .. }
            | E::InvalidArgument { .. }
            | E::InvalidRequest { .. }
            | E::UnknownModel { .. } => Code::Usage,
            E::Api { .. }
            | E::RateLimited { .. }
            | E::InsufficientQuota { .. }
            | E::IdempotencyConflict { .. }
            | E::Transport { .. }
            | E::SyncOutcomeUnknown { .. }
            | E::Decode { .. }
            | E::Download { .. } => Code::Api,
            E::TaskFailed { .. } | E::AssetUnusable { .. } => Code::TaskFailed,
            E::Timeout { .. } | E::UnknownStatus { .. } => Code::Timeout,
            E::Cancelled { .. } => Code::Interrupted,
            E::Io { .. } => Code::Failure,
            _ => Code::Failure,
        }
    }

    /// The code for an SDK error raised about a task APIPod named (waiting on it after a
    /// submit): nothing the user typed is checked there, so an argument the SDK refuses,
    /// such as an unusable task id in APIPod's answer, is an API error (3), not a usage
    /// error (2).
    pub fn of_sdk_after_submit(err: &apipod::Error) -> Code {
        match Code::of_sdk(err) {
            Code::Usage => Code::Api,
            code => code,
        }
    }

    /// The code for any error a command returned: a [`CliError`]'s own code, else the code
    /// of the first SDK error in the chain, else 1.
    pub fn of(err: &anyhow::Error) -> Code {
        if let Some(cli) = err.downcast_ref::<CliError>() {
            return cli.code;
        }
        err.chain()
            .find_map(|e| e.downcast_ref::<apipod::Error>())
            .map(Code::of_sdk)
            .unwrap_or(Code::Failure)
    }
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code.as_u8())
    }
}

/// An error the CLI raises itself, with its exit code and an optional hint line.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: Code,
    /// What went wrong.
    pub message: String,
    /// What to do next (printed on its own line), when there is something to do.
    pub hint: Option<String>,
}

impl CliError {
    /// An error with this code.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// A usage or validation error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }

    /// Adds a hint line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Converts an SDK error raised while waiting on a task into a [`CliError`] with a resume
/// hint, when it is one a user can resume from; other errors pass through, except that a
/// usage error becomes an API error (see [`Code::of_sdk_after_submit`]).
///
/// `resume` is the command that resumes the wait; `None` means there is nothing to resume
/// (`--mock`: the in-process server stops with this command).
pub fn with_resume_hint(err: apipod::Error, resume: Option<&str>) -> anyhow::Error {
    let hint = Some(match resume {
        Some(r) => format!("resume with: {r}"),
        None => "nothing to resume: the --mock server stops with this command".to_string(),
    });
    match &err {
        apipod::Error::Cancelled { task_id: Some(id) } => {
            let mut e = CliError::new(
                Code::Interrupted,
                format!("interrupted while waiting for task {id}; it keeps running on APIPod"),
            );
            e.hint = hint;
            e.into()
        }
        apipod::Error::Timeout {
            task_id: Some(id),
            elapsed,
            last,
            ..
        } => {
            let state = last
                .as_ref()
                .map(|s| {
                    let progress = s.progress().map(|p| format!(" {p}%")).unwrap_or_default();
                    format!(" (last status: {}{progress})", s.status())
                })
                .unwrap_or_default();
            let mut e = CliError::new(
                Code::Timeout,
                format!(
                    "timed out after {:.0?} waiting for task {id}{state}; it may still be running",
                    elapsed
                ),
            );
            e.hint = hint;
            e.into()
        }
        _ if Code::of_sdk(&err) == Code::Usage => CliError::new(
            Code::Api,
            format!("APIPod's answer about the task cannot be used: {err}"),
        )
        .into(),
        _ => err.into(),
    }
}

/// Prints `err` to stderr: `error: <message, causes joined by ": ">`, then its hint.
pub fn report(err: &anyhow::Error) {
    if let Some(cli) = err.downcast_ref::<CliError>() {
        eprintln_nopipe!("error: {}", cli.message);
        if let Some(hint) = &cli.hint {
            eprintln_nopipe!("{hint}");
        }
    } else {
        eprintln_nopipe!("error: {err:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_errors_map_to_documented_codes() {
        let api = apipod::Error::Api {
            status: 400,
            body_code: Some(400),
            code: Some("invalid_request".into()),
            message: "bad".into(),
            request_id: None,
            retry_after: None,
        };
        assert_eq!(Code::of_sdk(&api), Code::Api);
        assert_eq!(Code::of(&anyhow::Error::new(api)), Code::Api);
        let config = apipod::Error::Config {
            setting: "api_key",
            message: "x".into(),
        };
        assert_eq!(Code::of(&anyhow::Error::new(config)), Code::Usage);
        let cancelled = apipod::Error::Cancelled {
            task_id: Some("img_1".into()),
        };
        let err = with_resume_hint(cancelled, Some("apipod wait img_1 --kind image"));
        assert_eq!(Code::of(&err), Code::Interrupted);
        let cli = err.downcast_ref::<CliError>().unwrap();
        assert_eq!(
            cli.hint.as_deref(),
            Some("resume with: apipod wait img_1 --kind image")
        );
        let timeout = apipod::Error::Timeout {
            task_id: Some("vid_1".into()),
            elapsed: std::time::Duration::from_secs(3),
            last: None,
            idempotency_key: None,
        };
        assert_eq!(Code::of(&with_resume_hint(timeout, None)), Code::Timeout);
        let plain = anyhow::anyhow!("something else");
        assert_eq!(Code::of(&plain), Code::Failure);
        let wrapped = anyhow::Error::new(apipod::Error::Timeout {
            task_id: None,
            elapsed: std::time::Duration::ZERO,
            last: None,
            idempotency_key: None,
        })
        .context("while doing something");
        assert_eq!(Code::of(&wrapped), Code::Timeout);
        assert_eq!(Code::Interrupted.as_u8(), 130);
    }
}
