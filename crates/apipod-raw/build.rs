//! Generates the APIPod client from `openapi/apipod.yaml` into `OUT_DIR`.
//!
//! All settings and spec preprocessing live in `apipod-codegen`, which `cargo xtask codegen`
//! also uses, so the compiled code and the reviewed snapshot cannot differ.

use std::{env, fs, path::PathBuf};

const SPEC: &str = "../../openapi/apipod.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    let text = fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let generated = apipod_codegen::generate(&text).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    for (name, code) in [
        ("client.rs", &generated.client),
        ("mock.rs", &generated.mock),
        ("contract.rs", &generated.contract),
        ("routes.rs", &generated.routes),
    ] {
        fs::write(out.join(name), code).unwrap_or_else(|e| panic!("writing {name}: {e}"));
    }
    println!(
        "cargo:rustc-env=APIPOD_SPEC_SHA256={}",
        generated.spec_sha256
    );
}
