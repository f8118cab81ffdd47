//! `apipod`: the APIPod command-line tool.
//!
//! This file only parses the command line and dispatches; each command lives in its own
//! `cmd_<noun>.rs` (or `cmd_<noun>/` when it has several parts) as a clap struct with a
//! `run` method. All output goes through the EPIPE-safe macros in `print.rs`.
//!
//! Layers, each importing only the ones above it (no command imports another command):
//!
//! * `print`, `exit`: output macros, exit codes and the CLI's own error type;
//! * `context`, `progress`, `rate`, `catalog`: the client, progress display, submit-rate
//!   limit, model lookup;
//! * shared helpers of the commands: `resolve` (which task an id names), `resume` (resume
//!   commands), `save` (downloading results into `--out`), `manifest` (the batch log);
//! * the commands: `cmd_*`.

#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod catalog;
mod cmd_assets;
mod cmd_batch;
mod cmd_download;
mod cmd_generate;
mod cmd_mock;
mod cmd_models;
mod cmd_status;
mod cmd_sync;
mod context;
mod exit;
mod manifest;
mod print;
mod progress;
mod rate;
mod resolve;
mod resume;
mod save;

use context::{Context, GlobalArgs};

/// Generate images and videos with APIPod: submit, wait with progress, download.
#[derive(Debug, Parser)]
#[command(name = "apipod", version, after_help = exit::EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Generate(cmd_generate::CmdGenerate),
    Status(cmd_status::CmdStatus),
    Wait(cmd_status::CmdWait),
    Download(cmd_download::CmdDownload),
    Models(cmd_models::CmdModels),
    Batch(cmd_batch::CmdBatch),
    Mock(cmd_mock::CmdMock),
    Assets(cmd_assets::CmdAssets),
    Sync(cmd_sync::CmdSync),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln_nopipe!("error: cannot start the async runtime: {e}");
            return exit::Code::Failure.into();
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            exit::report(&err);
            exit::Code::of(&err).into()
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut ctx = Context::new(cli.global);
    let result = match &cli.command {
        Command::Generate(cmd) => cmd.run(&mut ctx).await,
        Command::Status(cmd) => cmd.run(&mut ctx).await,
        Command::Wait(cmd) => cmd.run(&mut ctx).await,
        Command::Download(cmd) => cmd.run(&mut ctx).await,
        Command::Models(cmd) => cmd.run(),
        Command::Batch(cmd) => cmd.run(&mut ctx).await,
        Command::Mock(cmd) => cmd.run().await,
        Command::Assets(cmd) => cmd.run(&mut ctx).await,
        Command::Sync(cmd) => cmd.run(&mut ctx).await,
    };
    ctx.shutdown().await;
    result
}

/// Logs to stderr: `RUST_LOG` when set, else by `-v` count (nothing but errors without).
fn init_tracing(verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(match verbose {
            0 => "error",
            1 => "warn,apipod=info,apipod_cli=info",
            2 => "info,apipod=debug,apipod_cli=debug,apipod_mock=debug",
            _ => "debug,apipod=trace,apipod_cli=trace,apipod_mock=trace",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose >= 2)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for code in ["0 ", "2 ", "3 ", "4 ", "5 ", "130 "] {
            assert!(help.contains(code), "{code} missing from:\n{help}");
        }
    }
}
