//! Repository automation for apipod-rs, run as `cargo xtask <command>`.
//!
//! * [`snapshot`]: `cargo xtask codegen [--check]` writes or checks the reviewable
//!   snapshot of the code build.rs generates.
//! * [`drift`]: `cargo xtask drift --docs DIR` compares `openapi/apipod.yaml` with a checkout
//!   of the upstream APIPod docs, fact by fact.
//! * [`sync`]: `cargo xtask sync --docs DIR` applies the docs' facts to the spec, editing
//!   its text line by line ([`yaml`]) so that comments and descriptions stay.
//!
//! The binary is a thin argument parser over these modules; tests drive them directly.

#![warn(missing_docs)]

pub mod drift;
pub mod semver;
pub mod snapshot;
pub mod sync;
pub mod yaml;

use std::path::PathBuf;

/// The workspace root (the folder holding `openapi/` and `crates/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
