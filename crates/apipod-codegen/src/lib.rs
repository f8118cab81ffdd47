//! Code generation for apipod-rs, shared by `apipod-raw`'s `build.rs` and `cargo xtask`.
//!
//! Both callers go through [`generate`], so the code compiled into the raw client and the
//! reviewable snapshot written by `cargo xtask codegen` are byte-identical by construction.
//!
//! The pipeline is:
//!
//! 1. [`load_spec`] reads `openapi/apipod.yaml` into JSON (YAML 1.2 rules: `16:9` stays a string).
//! 2. [`preprocess`] adapts the contract to what progenitor needs (see its docs for each step).
//! 3. progenitor generates the client ([`settings`] holds every generator option) and its
//!    typed httpmock helpers.
//! 4. [`schema::read`], the one reader of model schemas, reads the per-model request
//!    contracts (fields, enums, limits, defaults); [`hints::resolve`] adds the facts the docs
//!    do not state; [`contract::render`] turns both into the static table that the SDK, the
//!    mock server and the CLI validate against.
//! 5. [`generate_models`] renders the typed per-model requests of the `apipod` crate from the
//!    same facts ([`typed`]).
//!
//! The upstream-docs readers used only by `cargo xtask drift` and `sync` (`docs`, `facts`)
//! sit behind the `docs` feature, so they are not compiled into any build script.

#![warn(missing_docs)]

pub mod contract;
#[cfg(feature = "docs")]
pub mod docs;
#[cfg(feature = "docs")]
pub mod facts;
pub mod hints;
pub mod openai;
pub mod routes;
pub mod schema;
pub mod typed;

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Everything generated from one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The progenitor client and types, formatted with prettyplease.
    pub client: String,
    /// progenitor's typed httpmock helpers (`MockServerExt`), formatted.
    pub mock: String,
    /// The static model-contract table, formatted.
    pub contract: String,
    /// The route constants (method and path template per operation), formatted.
    pub routes: String,
    /// The typed per-model requests of the `apipod` crate, formatted.
    pub models: String,
    /// Hex SHA-256 of the spec text the code was generated from.
    pub spec_sha256: String,
}

/// A failure to read the spec or to generate code from it.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Error {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Parses OpenAPI YAML (or JSON) text into a JSON value.
pub fn load_spec(text: &str) -> Result<Value, Error> {
    serde_norway::from_str::<Value>(text).map_err(|e| Error::new(format!("invalid YAML: {e}")))
}

/// The generator settings used for every generation.
///
/// * Positional interface: three times less code than the builder style and faster to
///   compile; the ergonomic `apipod` crate provides the builders users see.
/// * `TaskStatus` is replaced by the hand-written tolerant enum `crate::TaskStatus`, so a
///   status value APIPod adds later decodes as `Unknown(..)` instead of failing the response.
/// * Auth, user agent and the removal of progenitor's `api-version` header live in a
///   `ClientHooks` impl that the crate must provide (`HooksMode::Expected` checks it).
pub fn settings() -> progenitor::GenerationSettings {
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_tag(progenitor::TagStyle::Merged)
        .with_derive("PartialEq")
        .with_inner_type(quote::quote!(crate::ClientState))
        .with_hooks(progenitor::HooksMode::Expected)
        .with_replacement(
            "TaskStatus",
            "crate::TaskStatus",
            [progenitor::TypeImpl::FromStr, progenitor::TypeImpl::Display].into_iter(),
        );
    settings
}

/// Adapts the contract for progenitor. Every step asserts what it expects, so a spec change
/// that invalidates a step fails the build loudly instead of generating something subtly
/// different.
///
/// 1. `default` is removed from request-body properties. progenitor turns a defaulted
///    optional field into a non-optional one that is always serialised; APIPod applies the
///    defaults itself, so unset fields must stay unset on the wire. The defaults stay in the
///    spec and in the contract table.
/// 2. Error responses (`4XX`, `5XX`) are removed from the client's operations. A typed error
///    body that fails to decode (an HTML 502 from a proxy, say) would otherwise lose its HTTP
///    status; untyped, it arrives with status, headers and raw body, and the `apipod` crate
///    decodes it with the generated `ErrorResponse` type. The httpmock helpers are generated
///    from the unmodified spec and keep typed error responses.
/// 3. `x-apipod-*` extensions are left in place; progenitor ignores them.
/// 4. The OpenAI-compatible images operations: the multipart edit is left out (progenitor
///    cannot generate multipart bodies) and request defaults are removed as in step 1; see
///    [`openai`].
pub fn preprocess(mut spec: Value) -> Result<Value, Error> {
    let schemas = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::new("spec has no components.schemas"))?;
    let mut stripped_defaults = 0;
    for schema in schemas.values_mut() {
        if !schema::is_model_schema(schema) {
            continue;
        }
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for prop in props.values_mut() {
                if let Some(obj) = prop.as_object_mut()
                    && obj.remove("default").is_some()
                {
                    stripped_defaults += 1;
                }
            }
        }
    }
    if stripped_defaults == 0 {
        return Err(Error::new(
            "preprocess: no request defaults found; model schemas changed shape",
        ));
    }

    let paths = spec
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::new("spec has no paths"))?;
    let mut stripped_errors = 0;
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let before = responses.len();
            responses.retain(|code, _| code.starts_with('2'));
            stripped_errors += before - responses.len();
        }
    }
    if stripped_errors == 0 {
        return Err(Error::new(
            "preprocess: no error responses found; operations changed shape",
        ));
    }
    openai::strip_request_defaults(openai::without_multipart(spec)?)
}

fn parse_openapi(value: Value, what: &str) -> Result<openapiv3::OpenAPI, Error> {
    serde_json::from_value(value).map_err(|e| Error::new(format!("{what}: not OpenAPI 3.0: {e}")))
}

fn format_tokens(tokens: proc_macro2::TokenStream, what: &str) -> Result<String, Error> {
    let file: syn::File =
        syn::parse2(tokens).map_err(|e| Error::new(format!("{what}: unparsable output: {e}")))?;
    Ok(prettyplease::unparse(&file))
}

/// Hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Generates the client, the httpmock helpers and the contract table from spec text.
///
/// progenitor panics on some unsupported constructs; those panics are caught and returned
/// as errors naming the stage.
pub fn generate(spec_text: &str) -> Result<Generated, Error> {
    let raw = load_spec(spec_text)?;
    let version = raw.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.0.") {
        return Err(Error::new(format!(
            "openapi version {version:?} is not 3.0.x; progenitor reads only 3.0 documents"
        )));
    }
    let (_, models) = schema::read(spec_text).map_err(Error::new)?;
    let hints = models
        .iter()
        .map(|m| hints::resolve(&raw, m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::new)?;
    let contract = format_tokens(contract::render(&models, &hints), "contract")?;
    let typed_models = format_tokens(typed::render(&models), "models")?;
    let routes = format_tokens(routes::render(&raw).map_err(Error::new)?, "routes")?;

    let full = parse_openapi(openai::without_multipart(raw.clone())?, "spec")?;
    let client_spec = parse_openapi(preprocess(raw)?, "preprocessed spec")?;

    let (client, mock) = std::panic::catch_unwind(move || {
        let mut generator = progenitor::Generator::new(&settings());
        let client = generator
            .generate_tokens(&client_spec)
            .map_err(|e| Error::new(format!("progenitor client: {e}")))?;
        let mock = generator
            .httpmock(&full, "crate")
            .map_err(|e| Error::new(format!("progenitor httpmock: {e}")))?;
        Ok::<_, Error>((client, mock))
    })
    .map_err(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Error::new(format!("progenitor panicked: {msg}"))
    })??;

    Ok(Generated {
        client: format_tokens(client, "client")?,
        mock: format_tokens(mock, "httpmock")?,
        contract,
        routes,
        models: typed_models,
        spec_sha256: sha256_hex(spec_text),
    })
}

/// Generates only the typed per-model requests of the `apipod` crate (for its build
/// script; no progenitor run).
pub fn generate_models(spec_text: &str) -> Result<String, Error> {
    let (_, models) = schema::read(spec_text).map_err(Error::new)?;
    format_tokens(typed::render(&models), "models")
}
