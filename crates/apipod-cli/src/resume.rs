//! The commands printed for resuming: `apipod wait ...` after an interrupted or timed-out
//! wait, with shell-safe quoting.

use std::path::Path;

use apipod::TaskKind;

use crate::context::Context;

/// The command that resumes waiting on a task, or `None` with `--mock` (its server stops
/// with this process, so there is nothing to resume).
pub fn resume_command(
    ctx: &Context,
    kind: TaskKind,
    task_id: &str,
    out: Option<&Path>,
) -> Option<String> {
    if ctx.is_mock() {
        return None;
    }
    let out = out
        .map(|dir| format!(" --out {}", shell_word(&dir.display().to_string())))
        .unwrap_or_default();
    Some(format!(
        "apipod{} wait {} --kind {kind}{out}",
        ctx.resume_flags(),
        shell_word(task_id)
    ))
}

/// `s` quoted for a POSIX shell when it needs quoting.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("out/a-1"), "out/a-1");
        assert_eq!(shell_word("my dir"), "'my dir'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("img_1;rm -rf ~"), "'img_1;rm -rf ~'");
    }
}
