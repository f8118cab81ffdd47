//! Reads an upstream docs folder (a checkout of the APIPod docs repository, or any folder in
//! its layout) into model and status facts.
//!
//! The docs keep one OpenAPI 3.1 file per page under `api-reference/openapi/`; many pages
//! share a path (every image model posts to `/v1/images/generations`), each with its own
//! inline request schema. [`read_dir`] reads every page, takes the models each defines with
//! [`crate::schema`], the same reader the contract table uses, and merges them by
//! model id.
//!
//! Pages that cannot matter are skipped and listed in [`DocsSet::skipped`]: translations
//! (`*.zh.yaml`), pages without `paths`, pages for other endpoints, and pages about models
//! outside the caller's scope that cannot be read as a contract. A page that cannot be read
//! and may concern an in-scope model or a status endpoint is an error, as is a folder that is
//! missing or not in the docs layout, or a YAML document that is not OpenAPI.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::facts::{self, ModelFacts, STATUS_ENDPOINTS, StatusFacts};

/// Where the per-page OpenAPI files live inside a docs checkout.
pub const OPENAPI_DIR: &str = "api-reference/openapi";

/// A model read from one docs page.
#[derive(Debug, Clone, PartialEq)]
pub struct DocsModel {
    /// The page file name (relative to [`OPENAPI_DIR`]).
    pub file: String,
    /// The model's family: the page name before `--` (`seedance--2-0-text-to-video.yaml`
    /// is in family `seedance`), or the whole stem for a page without one.
    pub family: String,
    /// The page's request example for this model, when it has one.
    pub example: Option<Value>,
    /// The model's facts.
    pub facts: ModelFacts,
}

/// A status endpoint read from one docs page.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPage {
    /// The page file name.
    pub file: String,
    /// The endpoint's response facts.
    pub facts: StatusFacts,
}

/// A page that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The page file name.
    pub file: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Everything read from a docs folder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocsSet {
    /// Number of page files read (translations excluded).
    pub pages: usize,
    /// Models, in file-name order; each id once.
    pub models: Vec<DocsModel>,
    /// Status endpoints found, in [`STATUS_ENDPOINTS`] order.
    pub status: Vec<StatusPage>,
    /// Pages that were not used.
    pub skipped: Vec<Skipped>,
    /// Pages read with a correction of an obvious upstream typo (see [`CREATE_PATHS`]).
    pub corrections: Vec<Skipped>,
}

/// The two create paths. A page that posts a model to a near miss of one of them
/// (`/v1/videos/genertions`) is read as posting to the real path, and the correction is
/// listed in [`DocsSet::corrections`].
pub const CREATE_PATHS: [&str; 2] = ["/v1/images/generations", "/v1/videos/generations"];

/// The family of a docs page: its file name before `--`, or its stem.
pub fn family_of_page(file: &str) -> String {
    let stem = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))
        .or_else(|| file.strip_suffix(".json"))
        .unwrap_or(file);
    stem.split_once("--").map_or(stem, |(f, _)| f).to_string()
}

/// The request example a page gives for model `id` at create path `path`: the media
/// type's `example`, or the schema's, when its `model` is `id`.
fn request_example(doc: &Value, path: &str, id: &str) -> Option<Value> {
    let media = doc
        .get("paths")?
        .get(path)?
        .get("post")?
        .pointer("/requestBody/content/application~1json")?;
    let candidates = [
        media.get("example"),
        media.pointer("/schema/example"),
        media
            .get("examples")
            .and_then(Value::as_object)
            .and_then(|e| e.values().next())
            .and_then(|e| e.get("value")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|e| e.get("model").and_then(Value::as_str) == Some(id))
        .cloned()
}

/// Levenshtein distance, for telling a typo from another endpoint.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Renames create paths that are a typo of a [`CREATE_PATHS`] entry (same prefix, last
/// segment within two edits) to the real path. Returns the corrections made.
fn correct_create_paths(doc: &mut Value) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return notes;
    };
    let keys: Vec<String> = paths.keys().cloned().collect();
    for key in keys {
        if CREATE_PATHS.contains(&key.as_str()) || key.contains('{') {
            continue;
        }
        let Some(real) = CREATE_PATHS.iter().find(|real| {
            let (prefix, last) = real.rsplit_once('/').unwrap_or(("", real));
            key.rsplit_once('/')
                .is_some_and(|(p, l)| p == prefix && l != last && edit_distance(l, last) <= 2)
        }) else {
            continue;
        };
        if paths.contains_key(*real) {
            continue;
        }
        if let Some(item) = paths.remove(&key) {
            paths.insert((*real).to_string(), item);
            notes.push(format!(
                "create path {key} read as {real} (an upstream typo)"
            ));
        }
    }
    notes
}

impl DocsSet {
    /// The model with id `id`.
    pub fn model(&self, id: &str) -> Option<&DocsModel> {
        self.models.iter().find(|m| m.facts.id == id)
    }

    /// The page for status endpoint `endpoint`.
    pub fn status(&self, endpoint: &str) -> Option<&StatusPage> {
        self.status.iter().find(|s| s.facts.endpoint == endpoint)
    }
}

/// A docs folder that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsError {
    /// The file at fault, when one is.
    pub file: Option<PathBuf>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DocsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {}", file.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DocsError {}

fn error(file: Option<&Path>, message: impl Into<String>) -> DocsError {
    DocsError {
        file: file.map(Path::to_path_buf),
        message: message.into(),
    }
}

/// True for a translated page such as `query-image-task.zh.yaml` or `x.zh-CN.yaml`.
pub fn is_translation(file_name: &str) -> bool {
    let Some(stem) = ["yaml", "yml", "json"]
        .iter()
        .find_map(|ext| file_name.strip_suffix(&format!(".{ext}")))
    else {
        return false;
    };
    let Some((_, lang)) = stem.rsplit_once('.') else {
        return false;
    };
    let (base, region) = match lang.split_once('-') {
        Some((b, r)) => (b, Some(r)),
        None => (lang, None),
    };
    base.len() == 2
        && base.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphabetic())
        })
}

/// The page files of a docs folder, sorted by name, translations left out.
pub fn page_files(dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    if !dir.is_dir() {
        return Err(error(
            None,
            format!("docs folder {} does not exist", dir.display()),
        ));
    }
    let openapi = dir.join(OPENAPI_DIR);
    if !openapi.is_dir() {
        return Err(error(
            None,
            format!(
                "{} has no {OPENAPI_DIR}/ folder; pass a checkout of the APIPod docs repository",
                dir.display()
            ),
        ));
    }
    let entries = std::fs::read_dir(&openapi)
        .map_err(|e| error(Some(&openapi), format!("cannot list: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| error(Some(&openapi), format!("cannot list: {e}")))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_page = [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e));
        if path.is_file() && is_page && !is_translation(&name) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(error(
            Some(&openapi),
            "holds no OpenAPI page files (*.yaml)",
        ));
    }
    Ok(files)
}

/// True when the text of a page that failed to parse may define something `in_scope` (or
/// a status endpoint): it has a path key under `/v1/images/` or `/v1/videos/`, and either it
/// is a status path, or a `const:` in it names an in-scope model, or it names no model at all.
fn broken_page_matters(text: &str, in_scope: &dyn Fn(&str) -> bool) -> bool {
    let mut task_path = false;
    let mut status_path = false;
    let mut consts = Vec::new();
    for line in text.lines() {
        let t = line.trim().trim_start_matches("- ");
        let unquoted = t.trim_matches(|c| c == '"' || c == '\'');
        if (unquoted.starts_with("/v1/images/") || unquoted.starts_with("/v1/videos/"))
            && t.trim_end().ends_with(':')
        {
            task_path = true;
            status_path |= unquoted.contains("/status/");
        }
        if let Some(v) = t.strip_prefix("const:") {
            consts.push(v.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
        }
    }
    if !task_path {
        return false;
    }
    if status_path {
        return true;
    }
    let ids: Vec<&String> = consts
        .iter()
        .filter(|c| c.parse::<f64>().is_err() && !c.is_empty())
        .collect();
    ids.is_empty() || ids.iter().any(|id| in_scope(id))
}

fn openapi_version(doc: &Value) -> Option<String> {
    match doc.get("openapi")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a docs folder. `in_scope(id)` tells which models matter: a page about an in-scope
/// model that cannot be read is an error, other unreadable pages are skipped.
pub fn read_dir(dir: &Path, in_scope: &dyn Fn(&str) -> bool) -> Result<DocsSet, DocsError> {
    let files = page_files(dir)?;
    let mut set = DocsSet::default();
    let mut status: Vec<StatusPage> = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes =
            std::fs::read(path).map_err(|e| error(Some(path), format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| error(Some(path), "is not UTF-8 text"))?;
        set.pages += 1;
        let mut doc = match crate::load_spec(&text) {
            Ok(doc) => doc,
            Err(e) => {
                if broken_page_matters(&text, in_scope) {
                    return Err(error(Some(path), e.to_string()));
                }
                set.skipped.push(Skipped {
                    file: name,
                    reason: format!("{e}; it concerns none of our models and no status endpoint"),
                });
                continue;
            }
        };
        let version = openapi_version(&doc).filter(|_| doc.is_object());
        match version {
            Some(v) if v.starts_with("3.") => {}
            Some(v) => {
                return Err(error(Some(path), format!("OpenAPI version {v} is not 3.x")));
            }
            None => {
                return Err(error(
                    Some(path),
                    "is not an OpenAPI document (no `openapi` version)",
                ));
            }
        }
        for note in correct_create_paths(&mut doc) {
            set.corrections.push(Skipped {
                file: name.clone(),
                reason: note,
            });
        }
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
            set.skipped.push(Skipped {
                file: name,
                reason: "no `paths`".into(),
            });
            continue;
        };
        let mut used = false;

        for (endpoint, _) in STATUS_ENDPOINTS {
            match facts::status_facts(&doc, endpoint) {
                Ok(Some(f)) => {
                    used = true;
                    if let Some(prev) = status.iter().find(|s| s.facts.endpoint == endpoint) {
                        if !prev.facts.same_facts(&f) {
                            return Err(error(
                                Some(path),
                                format!(
                                    "GET {endpoint} is also defined, differently, in {}",
                                    prev.file
                                ),
                            ));
                        }
                    } else {
                        status.push(StatusPage {
                            file: name.clone(),
                            facts: f,
                        });
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(error(Some(path), e)),
            }
        }

        let has_create = paths.iter().any(|(p, item)| {
            (p.starts_with("/v1/images/") || p.starts_with("/v1/videos/"))
                && item.get("post").is_some()
        });
        if has_create {
            match crate::schema::extract(&doc) {
                Ok(mut models) => {
                    crate::schema::order_fields(&text, &mut models);
                    for m in models {
                        used = true;
                        if let Some(prev) = set.models.iter().find(|p| p.facts.id == m.id) {
                            if !prev.facts.same_facts(&m) && in_scope(&m.id) {
                                return Err(error(
                                    Some(path),
                                    format!(
                                        "model {} is also defined, differently, in {}",
                                        m.id, prev.file
                                    ),
                                ));
                            }
                            continue;
                        }
                        set.models.push(DocsModel {
                            example: request_example(&doc, &m.path, &m.id),
                            family: family_of_page(&name),
                            file: name.clone(),
                            facts: m,
                        });
                    }
                }
                Err(e) => {
                    let ids = facts::mentioned_model_ids(&doc);
                    if ids.is_empty() || ids.iter().any(|id| in_scope(id)) {
                        return Err(error(
                            Some(path),
                            format!("cannot read the request schema: {e}"),
                        ));
                    }
                    set.skipped.push(Skipped {
                        file: name,
                        reason: format!("out-of-scope model(s) {}: {e}", ids.join(", ")),
                    });
                    continue;
                }
            }
        }
        if !used {
            let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
            listed.truncate(3);
            set.skipped.push(Skipped {
                file: name,
                reason: format!(
                    "no image/video task operation (paths: {})",
                    listed.join(", ")
                ),
            });
        }
    }
    for (endpoint, _) in STATUS_ENDPOINTS {
        if let Some(pos) = status.iter().position(|s| s.facts.endpoint == endpoint) {
            set.status.push(status.remove(pos));
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_paths_are_corrected_and_other_paths_kept() {
        let mut doc = serde_json::json!({"paths": {
            "/v1/videos/genertions": {"post": {}},
            "/v1/videos/status/{id}": {"get": {}},
            "/v1/assets": {"post": {}},
            "/v1/images/edits": {"post": {}},
        }});
        let notes = correct_create_paths(&mut doc);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/v1/videos/generations"));
        assert!(paths.contains_key("/v1/assets"));
        assert!(paths.contains_key("/v1/images/edits"));
        assert_eq!(
            family_of_page("seedance--2-0-text-to-video.yaml"),
            "seedance"
        );
        assert_eq!(family_of_page("query-image-task.yaml"), "query-image-task");
    }

    #[test]
    fn translations_are_recognised() {
        assert!(is_translation("query-image-task.zh.yaml"));
        assert!(is_translation("x.zh-CN.yaml"));
        assert!(!is_translation("nano-banana--nano-banana-2.1.yaml"));
        assert!(!is_translation("gpt-image-2.5--gpt-image-2.5-flare.yaml"));
        assert!(!is_translation("veo--3-1-fast.yaml"));
    }

    #[test]
    fn broken_pages_matter_only_when_they_may_be_in_scope() {
        let scope = |id: &str| id.starts_with("seedream");
        let assets = "paths:\n  /v1/assets:\n    post:\n      description: a: b\n";
        assert!(!broken_page_matters(assets, &scope));
        let ours = "paths:\n  /v1/images/generations:\n    post:\n      x: a: b\n      const: seedream-v4.5\n";
        assert!(broken_page_matters(ours, &scope));
        let other = "paths:\n  /v1/images/generations:\n    post:\n      x: a: b\n      const: gpt-image-2\n";
        assert!(!broken_page_matters(other, &scope));
        let status = "paths:\n  \"/v1/images/status/{task_id}\":\n    get:\n      x: a: b\n      const: 200\n";
        assert!(broken_page_matters(status, &scope));
        let unnamed = "paths:\n  /v1/videos/generations:\n    post:\n      x: a: b\n";
        assert!(broken_page_matters(unnamed, &scope));
    }
}
