//! Writing to stdout and stderr without panicking on a closed pipe.
//!
//! `apipod models | head -3` closes stdout early; `println!` would panic on the resulting
//! `EPIPE`. Every line the CLI prints goes through [`println_nopipe!`] or
//! [`eprintln_nopipe!`] instead (the crate denies `clippy::print_stdout` and
//! `clippy::print_stderr`), which stop writing quietly once the reader has gone.
//!
//! Much of what is printed comes from the server (task ids, statuses, error messages,
//! URLs), so both macros replace control characters other than newline and tab with `�`:
//! a hostile answer cannot send escape sequences to the user's terminal.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints a line to stdout; a closed pipe silently ends stdout output.
#[macro_export]
macro_rules! println_nopipe {
    () => {
        $crate::print::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::print::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a line to stderr; write errors are ignored (there is nowhere left to report them).
#[macro_export]
macro_rules! eprintln_nopipe {
    ($($arg:tt)*) => {
        $crate::print::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to stdout and flushes, tolerating `EPIPE`. Use [`println_nopipe!`].
pub fn write_stdout(args: fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let text = fmt::format(args);
    let mut out = io::stdout().lock();
    if let Err(e) = out
        .write_all(printable(&text).as_bytes())
        .and_then(|()| out.flush())
    {
        // A closed pipe means nobody reads any more; anything else is as final.
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            write_stderr(format_args!("warning: cannot write to stdout: {e}\n"));
        }
    }
}

/// Writes to stderr, ignoring errors. Use [`eprintln_nopipe!`].
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let text = fmt::format(args);
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(printable(&text).as_bytes())
        .and_then(|()| err.flush());
}

/// `text` with every control character except newline and tab replaced by `�`.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if text.chars().any(unsafe_char) {
        Cow::Owned(
            text.chars()
                .map(|c| if unsafe_char(c) { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(
            printable("a\u{1b}[2J\u{1b}]0;title\u{7}b\rc\u{9b}d"),
            "a\u{fffd}[2J\u{fffd}]0;title\u{fffd}b\u{fffd}c\u{fffd}d"
        );
    }
}
