//! `cargo xtask`: see the library docs for the commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
use xtask::{drift, snapshot, sync, workspace_root};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "apipod-rs repository automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the generated-code snapshot into crates/apipod-raw/generated/.
    Codegen {
        /// Only check that the committed snapshot matches the spec (exit 1 when stale).
        #[arg(long)]
        check: bool,
    },
    /// Compare openapi/apipod.yaml with the upstream docs (exit 0 clean, 1 drift, 2 unreadable input).
    Drift {
        /// A checkout of the APIPod docs repository (or a folder in its layout).
        #[arg(long, value_name = "DIR")]
        docs: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The spec to check (default: openapi/apipod.yaml).
        #[arg(long, value_name = "PATH")]
        spec: Option<PathBuf>,
    },
    /// Apply the upstream docs' facts to openapi/apipod.yaml.
    Sync {
        /// A checkout of the APIPod docs repository (or a folder in its layout).
        #[arg(long, value_name = "DIR")]
        docs: PathBuf,
        /// Also add this upstream model, of any family (repeatable).
        #[arg(long = "add-model", value_name = "ID")]
        add_models: Vec<String>,
        /// Add every upstream model the spec does not cover yet.
        #[arg(long)]
        add_all: bool,
        /// Print the changes, review notes and semver verdicts as JSON.
        #[arg(long)]
        json: bool,
        /// The spec to edit (default: openapi/apipod.yaml).
        #[arg(long, value_name = "PATH")]
        spec: Option<PathBuf>,
        /// Print the diff instead of writing the spec.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the benchmarks (release build of crates/apipod-bench); arguments are passed on.
    Bench {
        /// Arguments for apipod-bench, e.g. `--only b1,b3 --build` (see `cargo xtask bench --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Prints to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn read_spec(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn codegen(check: bool) -> ExitCode {
    let root = workspace_root();
    let spec_path = root.join(snapshot::SPEC_PATH);
    let text = match read_spec(&spec_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let generated = match apipod_codegen::generate(&text) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {}: {e}", snapshot::SPEC_PATH);
            return ExitCode::from(2);
        }
    };
    let files = snapshot::files(&generated);
    let dir = root.clone();
    let dirs = snapshot::SNAPSHOT_DIRS.join(" and ");
    if check {
        let stale = snapshot::check(&dir, &files, "");
        if stale.is_empty() {
            println!(
                "{dirs} are up to date with {} (sha256 {}).",
                snapshot::SPEC_PATH,
                generated.spec_sha256
            );
            return ExitCode::SUCCESS;
        }
        for s in &stale {
            let shown = s.path.strip_prefix(&root).unwrap_or(&s.path);
            eprintln!("stale: {}", shown.display());
            eprint!("{}", s.diff);
        }
        eprintln!(
            "error: {} generated file(s) differ from what {} generates; run `cargo xtask codegen` and commit the result",
            stale.len(),
            snapshot::SPEC_PATH
        );
        return ExitCode::from(1);
    }
    match snapshot::write(&dir, &files) {
        Ok(changed) if changed.is_empty() => {
            println!("{dirs} are already up to date.");
            ExitCode::SUCCESS
        }
        Ok(changed) => {
            for c in changed {
                println!("wrote {}", c.strip_prefix(&root).unwrap_or(&c).display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing {dirs}: {e}");
            ExitCode::from(2)
        }
    }
}

fn drift_cmd(docs: &Path, json: bool, spec: Option<PathBuf>) -> ExitCode {
    let spec_path = spec.unwrap_or_else(|| workspace_root().join(snapshot::SPEC_PATH));
    let result = read_spec(&spec_path)
        .map_err(drift::InputError)
        .and_then(|text| drift::run(&text, docs));
    match result {
        Ok(report) => {
            if json {
                emit(&format!("{}\n", report.to_json()));
            } else {
                emit(&report.to_text(&spec_path.display().to_string()));
            }
            if report.drift {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            if json {
                emit(&format!(
                    "{}\n",
                    serde_json::json!({ "error": e.to_string() })
                ));
            }
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

struct SyncArgs {
    add_models: Vec<String>,
    add_all: bool,
    json: bool,
    spec: Option<PathBuf>,
    dry_run: bool,
}

fn sync_cmd(docs: &Path, args: SyncArgs) -> ExitCode {
    let SyncArgs {
        add_models,
        add_all,
        json,
        spec,
        dry_run,
    } = args;
    let spec_path = spec.unwrap_or_else(|| workspace_root().join(snapshot::SPEC_PATH));
    let text = match read_spec(&spec_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let options = sync::Options {
        add_models,
        add_all,
    };
    let outcome = match sync::run(&text, docs, &options) {
        Ok(o) => o,
        Err(e @ sync::SyncError::Input(_)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if outcome.text == text {
        if json {
            emit(&sync_json(&outcome, false));
        } else {
            println!(
                "{} already matches the docs; nothing to do.",
                spec_path.display()
            );
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = apipod_codegen::generate(&outcome.text) {
        let kept = workspace_root().join("target/xtask-sync-rejected.yaml");
        let _ = std::fs::create_dir_all(workspace_root().join("target"));
        let _ = std::fs::write(&kept, &outcome.text);
        eprintln!(
            "error: the synced spec no longer generates a client ({e}); {} was not changed (the rejected text is in {})",
            spec_path.display(),
            kept.display()
        );
        return ExitCode::from(1);
    }
    let mut log = String::new();
    for c in &outcome.changes {
        log.push_str(&format!("changed: {c}\n"));
    }
    for n in &outcome.notes {
        log.push_str(&format!("review:  {n}\n"));
    }
    for v in &outcome.impact {
        log.push_str(&format!("semver:  {v}\n"));
    }
    if let Some(level) = xtask::semver::overall(&outcome.impact) {
        log.push_str(&format!(
            "semver:  overall {level} change to the apipod crate's public API\n"
        ));
    }
    if json {
        log = sync_json(&outcome, !dry_run);
    }
    if dry_run {
        let label = spec_path.display().to_string();
        log.push_str(&snapshot::short_diff(
            &text,
            &outcome.text,
            &format!("{label} (now)"),
            &format!("{label} (synced)"),
            usize::MAX,
        ));
        log.push_str(&format!("(dry run: {label} was not changed)\n"));
        if json {
            log = sync_json(&outcome, false);
        }
        emit(&log);
        return ExitCode::SUCCESS;
    }
    emit(&log);
    if let Err(e) = std::fs::write(&spec_path, &outcome.text) {
        eprintln!("error: writing {}: {e}", spec_path.display());
        return ExitCode::from(2);
    }
    if !json {
        println!(
            "wrote {} ({} changes); run `cargo xtask codegen` to refresh the snapshot.",
            spec_path.display(),
            outcome.changes.len()
        );
    }
    ExitCode::SUCCESS
}

fn sync_json(outcome: &sync::Outcome, written: bool) -> String {
    let value = serde_json::json!({
        "written": written,
        "changes": outcome.changes,
        "review": outcome.notes,
        "semver": outcome.impact,
        "overall": xtask::semver::overall(&outcome.impact),
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Codegen { check } => codegen(check),
        Command::Drift { docs, json, spec } => drift_cmd(&docs, json, spec),
        Command::Sync {
            docs,
            add_models,
            add_all,
            json,
            spec,
            dry_run,
        } => sync_cmd(
            &docs,
            SyncArgs {
                add_models,
                add_all,
                json,
                spec,
                dry_run,
            },
        ),
        Command::Bench { args } => bench::run(&workspace_root(), &args),
    }
}
