//! Writing to stdout and stderr without panicking on a closed pipe.
//!
//! `apipod models | head -3` closes stdout early; `println!` would panic on the resulting
//! `EPIPE`. Every line the CLI prints goes through [`println_nopipe!`] or
//! [`eprintln_nopipe!`] instead (the crate denies `clippy::print_stdout` and
//! `clippy::print_stderr`), which stop writing quietly once the reader has gone.

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
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        // A closed pipe means nobody reads any more; anything else is as final.
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            write_stderr(format_args!("warning: cannot write to stdout: {e}\n"));
        }
    }
}

/// Writes to stderr, ignoring errors. Use [`eprintln_nopipe!`].
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}
