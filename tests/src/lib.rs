//! Shared helpers for the workspace integration tests.
//!
//! The tests in `tests/tests/` check that the generated client (`apipod-raw`) speaks the
//! documented wire format, that `openapi/apipod.yaml` is a sound OpenAPI 3.0 document whose
//! examples validate, and that the generated types and the contract table agree. This
//! library holds what several of them need:
//!
//! * [`spec`], [`schema`], [`example_of`], [`model_example`]: the spec loaded once, the way
//!   `apipod-raw`'s `build.rs` loads it ([`apipod_codegen::load_spec`], YAML 1.2).
//! * [`GeneratedRequest`]: a JSON body decoded into the generated per-kind request enum, so a
//!   test can see which generated type took it and what it serialises back to.
//! * [`docs_openapi_dir`], [`docs_pages`], [`docs_request_examples`]: the upstream per-page
//!   OpenAPI files, when a docs checkout is present.
//! * [`struct_fields`]: the JSON field names a generated struct knows, read from serde.
//! * [`schema_check`]: a small OpenAPI-schema checker for examples.
//! * [`redis_server`]: a throwaway `redis-server` on a free loopback port, for the
//!   coordination tests.

#![warn(missing_docs)]

pub mod redis_server;
pub mod schema_check;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use apipod_raw::contract::{ModelContract, TaskKind};
use apipod_raw::types;
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::Value;

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits one level below the workspace root")
}

/// Path of `openapi/apipod.yaml`.
pub fn spec_path() -> PathBuf {
    workspace_root().join("openapi").join("apipod.yaml")
}

/// The text of `openapi/apipod.yaml`, read once.
pub fn spec_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let path = spec_path();
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

/// The spec as JSON, loaded once with [`apipod_codegen::load_spec`] (the loader the code
/// generator uses).
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        apipod_codegen::load_spec(spec_text())
            .unwrap_or_else(|e| panic!("{}: {e}", spec_path().display()))
    })
}

/// The component schema `components.schemas.<name>`. Panics when it does not exist.
pub fn schema(name: &str) -> &'static Value {
    spec()
        .pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("the spec has no components.schemas.{name}"))
}

/// The `example` of component schema `name`, if it has one.
pub fn example_of(name: &str) -> Option<&'static Value> {
    schema(name).get("example")
}

/// The spec's request example for `model` (`components.schemas.<Model>Request.example`).
/// Panics when the model's schema has none: every model must carry one.
pub fn model_example(model: &ModelContract) -> &'static Value {
    example_of(model.schema)
        .unwrap_or_else(|| panic!("{}: schema {} has no example", model.id, model.schema))
}

/// The create route of a task kind, e.g. `/v1/images/generations`.
pub fn create_path(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Image => "/v1/images/generations",
        TaskKind::Video => "/v1/videos/generations",
    }
}

/// The status route of a task, e.g. `/v1/videos/status/<id>` (no escaping: pass plain ids).
pub fn status_path(kind: TaskKind, task_id: &str) -> String {
    format!("/v1/{}s/status/{task_id}", kind.as_str())
}

/// A create body decoded into the generated request enum of its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum GeneratedRequest {
    /// Decoded as [`types::ImageGenerationRequest`].
    Image(types::ImageGenerationRequest),
    /// Decoded as [`types::VideoGenerationRequest`].
    Video(types::VideoGenerationRequest),
}

impl GeneratedRequest {
    /// Decodes `body` into the generated request enum for `kind`.
    pub fn from_json(kind: TaskKind, body: &Value) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            TaskKind::Image => Self::Image(serde_json::from_value(body.clone())?),
            TaskKind::Video => Self::Video(serde_json::from_value(body.clone())?),
        })
    }

    /// The JSON the generated type serialises to (what the client puts on the wire).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Image(r) => serde_json::to_value(r),
            Self::Video(r) => serde_json::to_value(r),
        }
        .expect("generated request types always serialise")
    }

    /// Name of the generated struct that took the body; equal to the spec's component
    /// schema name, and to [`ModelContract::schema`]. Read from the generated enum's `Debug`
    /// (its variants are named after the schemas), so no list of models is kept here.
    pub fn schema_name(&self) -> String {
        let debug = match self {
            Self::Image(r) => format!("{r:?}"),
            Self::Video(r) => format!("{r:?}"),
        };
        debug
            .split(['(', ' '])
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// The field names of the generated struct that took the body, read from its `Debug`
    /// output (which lists every field, set or not).
    pub fn struct_field_names(&self) -> Vec<String> {
        let debug = match self {
            Self::Image(r) => format!("{r:?}"),
            Self::Video(r) => format!("{r:?}"),
        };
        debug_field_names(&debug)
    }
}

/// The top-level field names of a `Debug` rendering `Variant(Struct { a: .., b: .. })`.
pub fn debug_field_names(debug: &str) -> Vec<String> {
    let Some(open) = debug.find('{') else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut depth = 0i32;
    let mut in_str = false;
    let mut escaped = false;
    let mut token = String::new();
    let mut expecting_name = true;
    for c in debug[open + 1..].chars() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                expecting_name = true;
                token.clear();
            }
            ':' if depth == 0 && expecting_name => {
                let name = token.trim().trim_start_matches("r#").to_string();
                if !name.is_empty() {
                    names.push(name);
                }
                expecting_name = false;
            }
            c if depth == 0 && expecting_name => token.push(c),
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    names
}

/// The field names of every model's generated request struct, keyed by schema name, in
/// spec order. Each model's spec example is decoded into the generated request enum of its
/// kind and the struct that took it is read (see [`GeneratedRequest::struct_field_names`]),
/// so no list of models or types is kept here.
pub fn generated_request_fields() -> Vec<(String, Vec<String>)> {
    apipod_raw::contract::MODELS
        .iter()
        .map(|m| {
            let example = model_example(m);
            let generated = GeneratedRequest::from_json(m.kind, example)
                .unwrap_or_else(|e| panic!("{}: example does not decode: {e}", m.id));
            (generated.schema_name(), generated.struct_field_names())
        })
        .collect()
}

/// The JSON field names (after `rename`) that serde's derived `Deserialize` of struct `T`
/// knows.
///
/// Derived struct deserialisers pass their field list to
/// [`serde::Deserializer::deserialize_struct`]; this runs `T::deserialize` against a
/// deserializer that records that list and stops. Panics when `T` is not a plain derived
/// struct (for example an enum, a newtype or a struct with `#[serde(flatten)]`).
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Probe {
///     #[serde(rename = "type")]
///     _kind: String,
///     _size: u32,
/// }
/// assert_eq!(apipod_tests::struct_fields::<Probe>(), ["type", "_size"]);
/// ```
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut found = None;
    let _ = T::deserialize(FieldRecorder(&mut found));
    found.unwrap_or_else(|| {
        panic!(
            "{} did not deserialise as a struct",
            std::any::type_name::<T>()
        )
    })
}

struct FieldRecorder<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Recorded;

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Recorded {}

impl de::Error for Recorded {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Recorded
    }
}

impl<'de> de::Deserializer<'de> for FieldRecorder<'_> {
    type Error = Recorded;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Recorded> {
        Err(Recorded)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Recorded> {
        *self.0 = Some(fields);
        Err(Recorded)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The upstream docs' per-page OpenAPI folder (`apipod-docs/api-reference/openapi`), when
/// present.
///
/// `APIPOD_DOCS_DIR` (the root of a docs checkout) wins; otherwise the folder is looked for
/// at `../shared/apipod-docs` relative to the workspace root, where CI puts it.
pub fn docs_openapi_dir() -> Option<PathBuf> {
    let root = match std::env::var_os("APIPOD_DOCS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("../shared/apipod-docs"),
    };
    let dir = root.join("api-reference").join("openapi");
    if dir.is_dir() {
        return Some(dir);
    }
    // CI always has the docs snapshot: a test that needs it must fail there, not pass.
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but the APIPod docs snapshot is missing at {}; tests that need it cannot run",
            dir.display()
        );
    }
    None
}

/// One upstream per-page OpenAPI file.
#[derive(Debug, Clone)]
pub struct DocsPage {
    /// File name, e.g. `seedream--4-5-text-to-image.yaml`.
    pub file: String,
    /// The document as JSON (loaded with YAML 1.2 rules, so `16:9` stays a string).
    pub doc: Value,
}

/// Every `*.yaml` page in `dir` that parses (the English pages; translated `*.zh.yaml`
/// copies are skipped), sorted by file name. A page that is not valid YAML upstream (today
/// `seedance--asset-upload.yaml`) is left out with a note on stderr: `cargo xtask drift`
/// is the check that fails when such a page concerns a model or a status endpoint.
pub fn docs_pages(dir: &Path) -> Vec<DocsPage> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut pages: Vec<DocsPage> = entries
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".yaml") && !name.ends_with(".zh.yaml")
        })
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let file = path.file_name()?.to_string_lossy().into_owned();
            match apipod_codegen::load_spec(&text) {
                Ok(doc) => Some(DocsPage { file, doc }),
                Err(e) => {
                    eprintln!("note: skipping {file}: {e}");
                    None
                }
            }
        })
        .collect();
    pages.sort_by(|a, b| a.file.cmp(&b.file));
    pages
}

/// The request example of one upstream create page.
#[derive(Debug, Clone)]
pub struct DocsRequestExample {
    /// Page file name.
    pub file: String,
    /// Model id (the request schema's `model` `const`, or its one-value `enum`).
    pub model_id: String,
    /// Image or video, from the create path.
    pub kind: TaskKind,
    /// The request body `example`.
    pub example: Value,
}

/// The request example of every create operation in `pages`. Panics on a create operation
/// without an example or without a single-valued `model`, naming the page.
pub fn docs_request_examples(pages: &[DocsPage]) -> Vec<DocsRequestExample> {
    let mut out = Vec::new();
    for page in pages {
        let Some(paths) = page.doc.get("paths").and_then(Value::as_object) else {
            continue;
        };
        for (path, item) in paths {
            // Any create path of a kind: one upstream page misspells `generations`.
            let kind = if path.starts_with("/v1/images/") && !path.contains('{') {
                TaskKind::Image
            } else if path.starts_with("/v1/videos/") && !path.contains('{') {
                TaskKind::Video
            } else {
                continue;
            };
            let Some(media) = item
                .get("post")
                .and_then(|op| op.pointer("/requestBody/content/application~1json"))
            else {
                continue;
            };
            let model = media.pointer("/schema/properties/model");
            let model_id = model
                .and_then(|m| m.get("const"))
                .or_else(|| {
                    model
                        .and_then(|m| m.get("enum"))
                        .and_then(Value::as_array)
                        .filter(|values| values.len() == 1)
                        .and_then(|values| values.first())
                })
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{}: {path}: no single-valued `model`", page.file));
            let example = media
                .get("example")
                .unwrap_or_else(|| panic!("{}: {path}: request has no example", page.file));
            out.push(DocsRequestExample {
                file: page.file.clone(),
                model_id: model_id.to_string(),
                kind,
                example: example.clone(),
            });
        }
    }
    out
}

/// Every `(JSON pointer, value)` in `value` whose key is `key`, depth first. Contents of
/// the found values are not searched again.
pub fn find_key<'a>(value: &'a Value, key: &str) -> Vec<(String, &'a Value)> {
    fn walk<'a>(value: &'a Value, key: &str, at: &str, out: &mut Vec<(String, &'a Value)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let child = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    if k == key {
                        out.push((child, v));
                    } else {
                        walk(v, key, &child, out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, key, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, key, "", &mut out);
    out
}
