//! Generates the typed per-model requests (`apipod::models`) from `openapi/apipod.yaml`
//! into `OUT_DIR`, with the same generator `cargo xtask codegen` uses for the reviewed
//! snapshot in `crates/apipod/generated/models.rs`.

use std::{env, fs, path::PathBuf};

const SPEC: &str = "../../openapi/apipod.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    let text = fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let models = apipod_codegen::generate_models(&text).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(out.join("models.rs"), models).unwrap_or_else(|e| panic!("writing models.rs: {e}"));
}
