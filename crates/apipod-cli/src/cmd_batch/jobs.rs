//! Reading the jobs file: one JSON request body per line, every line validated before
//! anything is submitted, every problem reported together.
//!
//! The file is untrusted input, so everything it can make the CLI hold is bounded: the
//! file's size ([`MAX_FILE_BYTES`]), a line's length ([`MAX_LINE_BYTES`]), a job id
//! ([`MAX_ID_CHARS`], no control characters) and the problems listed in the error
//! ([`MAX_PROBLEMS_SHOWN`]). JSON nesting is bounded by `serde_json`'s recursion limit.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use apipod::GenerationRequest;
use serde_json::Value;

use crate::exit::CliError;
use crate::manifest::request_hash;

/// Largest jobs file read (64 MiB); a larger one is refused before it is parsed.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Longest line (1 MiB): far more than any model's request body.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Longest job id, in characters (ids are shown in progress lines and kept in the manifest).
pub const MAX_ID_CHARS: usize = 200;
/// Problems listed in the error; the rest are counted.
pub const MAX_PROBLEMS_SHOWN: usize = 20;

/// One line of the jobs file.
#[derive(Debug, Clone)]
pub struct Job {
    /// `"id"`, or `line-N`.
    pub name: String,
    /// 1-based line number.
    pub line: usize,
    /// The validated request.
    pub request: GenerationRequest,
    /// SHA-256 of the body (without `"id"`) as canonical JSON.
    pub hash: String,
}

/// Reads and validates the jobs file at `path`: a usage error (exit 2) listing the problems
/// when it cannot be read, is too large, has no jobs or has any invalid line.
pub fn read_jobs(path: &Path) -> Result<Vec<Job>, CliError> {
    let cannot_read =
        |e: std::io::Error| CliError::usage(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CliError::usage(format!(
            "{} is larger than {} MiB; nothing was submitted",
            path.display(),
            MAX_FILE_BYTES >> 20
        ))
        .with_hint("split it into several batch files, each with its own --out directory"));
    }
    let jobs = parse_jobs(&bytes).map_err(|problems| {
        let shown = problems.len().min(MAX_PROBLEMS_SHOWN);
        let more = match problems.len() - shown {
            0 => String::new(),
            n => format!("\n  ... and {n} more"),
        };
        CliError::usage(format!(
            "{} has {} invalid line(s); nothing was submitted:\n  {}{more}",
            path.display(),
            problems.len(),
            problems[..shown].join("\n  ")
        ))
    })?;
    if jobs.is_empty() {
        return Err(CliError::usage(format!("{} has no jobs", path.display())));
    }
    Ok(jobs)
}

/// Parses and validates every job; all problems are returned together.
pub fn parse_jobs(bytes: &[u8]) -> Result<Vec<Job>, Vec<String>> {
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    let mut names = HashMap::new();
    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        match parse_line(raw, line, &mut names) {
            Ok(Some(job)) => jobs.push(job),
            Ok(None) => {}
            Err(problem) => problems.push(format!("line {line}: {problem}")),
        }
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(problems)
    }
}

/// One line: `None` when blank.
fn parse_line(
    raw: &[u8],
    line: usize,
    names: &mut HashMap<String, usize>,
) -> Result<Option<Job>, String> {
    if raw.len() > MAX_LINE_BYTES {
        return Err(format!(
            "{} bytes long; a line may have at most {} KiB",
            raw.len(),
            MAX_LINE_BYTES >> 10
        ));
    }
    let text = std::str::from_utf8(raw)
        .map_err(|e| {
            format!(
                "not UTF-8 text (invalid byte at column {})",
                e.valid_up_to() + 1
            )
        })?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut body = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(format!("not JSON: {e}")),
    };
    let name = match body.remove("id") {
        None => format!("line-{line}"),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            let shown: String = other.to_string().chars().take(40).collect();
            return Err(format!("\"id\" must be a non-empty string, not {shown}"));
        }
    };
    if name.chars().count() > MAX_ID_CHARS {
        return Err(format!("\"id\" has more than {MAX_ID_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("\"id\" contains control characters".into());
    }
    if let Some(first) = names.get(&name) {
        return Err(format!("job id {name:?} is already used on line {first}"));
    }
    names.insert(name.clone(), line);
    let hash = request_hash(&body);
    let request = GenerationRequest::from_json(Value::Object(body)).map_err(|e| e.to_string())?;
    Ok(Some(Job {
        name,
        line,
        request,
        hash,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_every_line() {
        let text = r#"{"id": "a", "model": "seedream-v4.5", "prompt": "one"}

{"model": "seedream-v4.5", "prompt": "two", "quality": "4K"}
"#;
        let jobs = parse_jobs(text.as_bytes()).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].name, "a");
        assert_eq!(jobs[1].name, "line-3");
        assert_eq!(jobs[1].line, 3);

        let bad = r#"{"model": "seedream-v4.5", "prompt": "p", "quality": "8K"}
[1]
{"id": "x", "model": "seedream-v4.5", "prompt": "p"}
{"id": "x", "model": "seedream-v4.5", "prompt": "q"}"#;
        let problems = parse_jobs(bad.as_bytes()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 1: invalid request: seedream-v4.5: `quality`"));
        assert!(problems[1].starts_with("line 2: not a JSON object"));
        assert!(problems[2].contains("already used on line 3"));
    }

    #[test]
    fn hostile_lines_are_problems_not_panics() {
        let mut bytes = b"{\"model\": \"seedream-v4.5\", \"prompt\": \"\xff\xfe\"}\n".to_vec();
        bytes.extend_from_slice(&vec![b' '; MAX_LINE_BYTES + 1]);
        bytes.push(b'\n');
        bytes.extend_from_slice("[".repeat(100_000).as_bytes());
        bytes.push(b'\n');
        let long_id = "i".repeat(MAX_ID_CHARS + 1);
        bytes.extend_from_slice(
            format!("{{\"id\": \"{long_id}\", \"model\": \"seedream-v4.5\", \"prompt\": \"p\"}}\n")
                .as_bytes(),
        );
        bytes.extend_from_slice(
            b"{\"id\": \"a\\u001b[2J\", \"model\": \"seedream-v4.5\", \"prompt\": \"p\"}\n",
        );
        let problems = parse_jobs(&bytes).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems[0].starts_with("line 1: not UTF-8 text"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].starts_with("line 2: 1048577 bytes long"),
            "{}",
            problems[1]
        );
        assert!(problems[2].contains("recursion limit"), "{}", problems[2]);
        assert!(
            problems[3].contains("more than 200 characters"),
            "{}",
            problems[3]
        );
        assert!(
            problems[4].contains("control characters"),
            "{}",
            problems[4]
        );
    }
}
