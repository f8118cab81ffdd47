//! Drift and sync against docs folders built from `tests/fixtures/docs` in a tempdir.
//!
//! Drift compares every model of a spec, so the tests use a trimmed copy of our spec that
//! keeps only the four models the fixtures document (built here from `openapi/apipod.yaml`).
//! Each test mutates a copy of the fixtures the way upstream pages change, checks that drift
//! reports exactly that, then syncs and checks that drift is clean and that only the lines
//! carrying the changed facts moved.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tempfile::TempDir;
use xtask::drift::{self, Keyword, Report};
use xtask::sync::{self, Options, SyncError};
use xtask::yaml::YamlText;
use xtask::{snapshot, workspace_root};

const FIXTURE_MODELS: [&str; 4] = [
    "seedream-v4.5",
    "wan2.7-image-edit",
    "veo3-1-fast",
    "seedance-2.0-i2v",
];

fn full_spec() -> String {
    fs::read_to_string(workspace_root().join("openapi/apipod.yaml")).expect("read the spec")
}

/// Our spec without the models the fixtures do not document (removed with the line editor
/// directly, independently of sync).
fn trimmed_spec() -> String {
    let text = full_spec();
    let ours = drift::our_facts(&text).expect("our spec reads");
    let mut y = YamlText::new(&text);
    for m in &ours.models {
        if FIXTURE_MODELS.contains(&m.id.as_str()) {
            continue;
        }
        let schema = m.schema_name.clone().expect("component schema");
        let reference = json!(format!("#/components/schemas/{schema}"));
        for union in ["ImageGenerationRequest", "VideoGenerationRequest"] {
            let node = y
                .find(&["components", "schemas", union, "oneOf"])
                .expect("union");
            if let Some(item) = y
                .items(&node)
                .into_iter()
                .find(|i| i.value.get("$ref") == Some(&reference))
            {
                y.remove_item(&item);
            }
        }
        let node = y.find(&["components", "schemas", &schema]).expect("schema");
        y.remove_block(&node);
    }
    y.text()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A writable copy of the fixture docs folder.
struct Docs {
    tmp: TempDir,
}

impl Docs {
    fn new() -> Self {
        let tmp = TempDir::new().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docs");
        copy_dir(&fixtures, &tmp.path().join("docs"));
        Docs { tmp }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("docs")
    }

    fn page(&self, name: &str) -> PathBuf {
        self.dir().join("api-reference/openapi").join(name)
    }

    /// Replaces the single occurrence of `old` in page `name`.
    fn edit(&self, name: &str, old: &str, new: &str) {
        let path = self.page(name);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(old).count(), 1, "{name}: {old:?}");
        fs::write(&path, text.replacen(old, new, 1)).unwrap();
    }

    fn write(&self, name: &str, text: &str) {
        fs::write(self.page(name), text).unwrap();
    }

    fn remove(&self, name: &str) {
        fs::remove_file(self.page(name)).unwrap();
    }

    fn drift(&self, spec: &str) -> Report {
        drift::run(spec, &self.dir()).expect("docs read")
    }

    fn sync(&self, spec: &str, add: &[&str]) -> Result<sync::Outcome, SyncError> {
        let options = Options {
            add_models: add.iter().map(|s| s.to_string()).collect(),
            add_all: false,
        };
        sync::run(spec, &self.dir(), &options)
    }
}

/// Lines removed from and added to `old` to make `new`.
fn changed_lines(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches('\n').to_string();
        match change.tag() {
            similar::ChangeTag::Delete => removed.push(line),
            similar::ChangeTag::Insert => added.push(line),
            similar::ChangeTag::Equal => {}
        }
    }
    (removed, added)
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// Syncs, checks that drift is then clean, and returns the changed lines.
fn sync_clean(docs: &Docs, spec: &str, add: &[&str]) -> (String, Vec<String>, Vec<String>) {
    let outcome = docs.sync(spec, add).expect("sync applies");
    let after = docs.drift(&outcome.text);
    assert!(
        !after.drift,
        "drift after sync:\n{}",
        after.to_text("synced")
    );
    let (removed, added) = changed_lines(spec, &outcome.text);
    (outcome.text, removed, added)
}

/// The lines of component schema `name`: its key line and every line indented deeper.
fn schema_block(text: &str, name: &str) -> String {
    let header = format!("    {name}:");
    let mut out = Vec::new();
    for line in text.lines().skip_while(|l| *l != header) {
        let indent = line.len() - line.trim_start().len();
        if !out.is_empty() && !line.trim().is_empty() && indent <= 4 {
            break;
        }
        out.push(line);
    }
    assert!(!out.is_empty(), "no schema {name}");
    out.join("\n") + "\n"
}

fn model_diffs<'a>(report: &'a Report, id: &str) -> Vec<&'a drift::Difference> {
    report
        .models
        .iter()
        .filter(|m| m.id == id)
        .flat_map(|m| m.differences.iter())
        .collect()
}

#[test]
fn fixtures_are_clean_against_the_trimmed_spec() {
    let docs = Docs::new();
    let report = docs.drift(&trimmed_spec());
    assert!(!report.drift, "{}", report.to_text("trimmed"));
    assert_eq!(report.models_compared, 4);
    assert_eq!(report.status_compared, 2);
    // The translation is not read.
    assert!(report.uncovered.is_empty());
    assert_eq!(report.pages, 8);
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.file.as_str()).collect();
    assert_eq!(skipped, ["assets--asset-detail.yaml", "overview.yaml"]);
    assert!(
        report
            .to_text("trimmed")
            .contains("No drift: 4 models and 2 status endpoints")
    );
}

#[test]
fn models_the_docs_lack_are_drift() {
    let docs = Docs::new();
    let report = docs.drift(&full_spec());
    assert!(report.drift);
    let ours = drift::our_facts(&full_spec()).unwrap();
    assert_eq!(
        report.missing_upstream.len(),
        ours.models.len() - FIXTURE_MODELS.len()
    );
    assert!(report.models.is_empty() && report.status.is_empty());
    assert!(
        report
            .missing_upstream
            .iter()
            .any(|m| m.id == "nano-banana-2" && m.schema.as_deref() == Some("NanoBanana2Request"))
    );
}

#[test]
fn changed_limit_is_reported_and_synced() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "maxLength: 4000",
        "maxLength: 3000",
    );
    let report = docs.drift(&spec);
    assert!(report.drift);
    let diffs = model_diffs(&report, "seedream-v4.5");
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].fact, "prompt.maxLength");
    assert_eq!(diffs[0].keyword, Keyword::MaxLength);
    assert_eq!(
        (&diffs[0].ours, &diffs[0].docs),
        (&json!(4000), &json!(3000))
    );
    assert!(
        report
            .to_text("spec")
            .contains("seedream-v4.5.prompt.maxLength: ours 4000, docs 3000")
    );

    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert_eq!(removed, ["          maxLength: 4000"]);
    assert_eq!(added, ["          maxLength: 3000"]);
}

#[test]
fn added_and_removed_enum_values_are_reported_and_synced() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    let page = "seedream--4-5-text-to-image.yaml";
    docs.edit(
        page,
        "                    - 4:3\n",
        "                    - 4:3\n                    - 5:4\n",
    );
    docs.edit(page, "                    - 21:9\n", "");
    let report = docs.drift(&spec);
    let diffs = model_diffs(&report, "seedream-v4.5");
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].fact, "aspect_ratio.enum");
    assert_eq!(
        diffs[0].summary,
        r#"only in docs "5:4"; only in ours "21:9""#
    );

    let (text, removed, added) = sync_clean(&docs, &spec, &[]);
    assert_eq!(removed, [r#"            - "21:9""#]);
    assert_eq!(added, [r#"            - "5:4""#]);
    // The new value sits where the docs put it: after 4:3.
    assert!(
        text.contains("            - \"4:3\"\n            - \"5:4\"\n            - \"16:9\"\n")
    );
}

#[test]
fn enum_order_is_not_a_fact() {
    let docs = Docs::new();
    let page = "seedream--4-5-text-to-image.yaml";
    docs.edit(
        page,
        "                    - 2K\n                    - 4K\n",
        "                    - 4K\n                    - 2K\n",
    );
    assert!(!docs.drift(&trimmed_spec()).drift);
}

#[test]
fn added_field_in_31_forms_is_written_in_30_forms() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "veo--3-1-fast.yaml",
        "                image_urls:\n",
        "                seed:\n                  type: [integer, \"null\"]\n                  exclusiveMinimum: 0\n                  maximum: 99999\n                  examples: [7, 8]\n                fps:\n                  type: string\n                  enum: [24, 30]\n                  default: 24\n                image_urls:\n",
    );
    let report = docs.drift(&spec);
    let diffs = model_diffs(&report, "veo3-1-fast");
    let summaries: Vec<(&str, &str)> = diffs
        .iter()
        .map(|d| (d.fact.as_str(), d.summary.as_str()))
        .collect();
    assert_eq!(
        summaries,
        [
            ("seed", "in docs (integer, nullable), missing in ours"),
            ("fps", "in docs (string), missing in ours"),
        ]
    );

    let (text, removed, added) = sync_clean(&docs, &spec, &[]);
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(
        added,
        lines(
            r#"        seed:
          type: integer
          nullable: true
          description: "`seed` (added by xtask sync; review the description)"
          minimum: 0
          exclusiveMinimum: true
          maximum: 99999
          example: 7
        fps:
          type: string
          description: "`fps` (added by xtask sync; review the description)"
          enum:
            - "24"
            - "30"
          default: "24""#
        )
    );
    // Placed where the docs put them: after prompt, before image_urls.
    let veo = schema_block(&text, "Veo31FastRequest");
    let at = |key: &str| veo.find(&format!("\n        {key}:\n")).expect(key);
    assert!(at("prompt") < at("seed") && at("seed") < at("fps") && at("fps") < at("image_urls"));
    let ours = drift::our_facts(&text).unwrap();
    let veo = ours.models.iter().find(|m| m.id == "veo3-1-fast").unwrap();
    let seed = veo.field("seed").unwrap();
    assert!(seed.nullable);
    assert_eq!(
        seed.minimum,
        Some(apipod_codegen::facts::Bound {
            value: json!(0),
            exclusive: true
        })
    );
}

#[test]
fn removed_field_is_reported_and_its_block_removed() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "veo--3-1-fast.yaml",
        "                callback_url:\n                  type: string\n                  default: \"\"\n",
        "",
    );
    let report = docs.drift(&spec);
    let diffs = model_diffs(&report, "veo3-1-fast");
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].keyword, Keyword::ExtraField);
    assert_eq!(diffs[0].summary, "in ours (string), not in docs");

    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert!(added.is_empty(), "{added:?}");
    assert_eq!(
        removed,
        lines(
            r#"        callback_url:
          type: string
          description: URL that receives a POST when the task completes or fails.
          default: """#
        )
    );
}

#[test]
fn changed_default_is_reported_and_synced() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "seedance--2-0-image-to-video.yaml",
        "default: 5\n",
        "default: 10\n",
    );
    docs.edit(
        "veo--3-1-fast.yaml",
        "      default: 16:9\n",
        "      default: 9:16\n",
    );
    let report = docs.drift(&spec);
    assert_eq!(
        model_diffs(&report, "seedance-2.0-i2v")
            .iter()
            .map(|d| d.summary.as_str())
            .collect::<Vec<_>>(),
        ["ours 5, docs 10"]
    );
    assert_eq!(
        model_diffs(&report, "veo3-1-fast")[0].summary,
        r#"ours "16:9", docs "9:16""#
    );

    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert_eq!(
        removed,
        [r#"          default: "16:9""#, "          default: 5"]
    );
    assert_eq!(
        added,
        [r#"          default: "9:16""#, "          default: 10"]
    );
}

#[test]
fn changed_required_lists_are_reported_and_synced() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "seedance--2-0-image-to-video.yaml",
        "                - prompt\n                - image_urls\n",
        "                - prompt\n",
    );
    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "                - prompt\n",
        "                - prompt\n                - aspect_ratio\n",
    );
    let report = docs.drift(&spec);
    assert_eq!(
        model_diffs(&report, "seedance-2.0-i2v")[0].summary,
        "ours also require image_urls"
    );
    assert_eq!(
        model_diffs(&report, "seedream-v4.5")[0].summary,
        "docs also require aspect_ratio"
    );

    let outcome = docs.sync(&spec, &[]).unwrap();
    // Our comment above SeedreamV45Request.required stays, flagged for review.
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.contains("components.schemas.SeedreamV45Request.required"))
    );
    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert_eq!(removed, ["        - image_urls"]);
    assert_eq!(added, ["        - aspect_ratio"]);
}

#[test]
fn changed_type_and_items_are_synced() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    let page = "wan--2-7-image-to-image.yaml";
    docs.edit(
        page,
        "          type: integer\n",
        "          type: number\n",
    );
    docs.edit(
        page,
        "    Url:\n      type: string\n",
        "    Url:\n      type: object\n",
    );
    let report = docs.drift(&spec);
    let facts: Vec<&str> = model_diffs(&report, "wan2.7-image-edit")
        .iter()
        .map(|d| d.fact.as_str())
        .collect();
    assert_eq!(facts, ["image_urls.items.type", "n.type"]);

    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert_eq!(
        removed,
        ["            type: string", "          type: integer"]
    );
    assert_eq!(
        added,
        ["            type: object", "          type: number"]
    );
}

#[test]
fn nullable_and_exclusive_limits_on_existing_fields() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "                callback_url:\n                  type: string\n",
        "                callback_url:\n                  type: [string, \"null\"]\n",
    );
    docs.edit(
        "wan--2-7-image-to-image.yaml",
        "          minimum: 1\n",
        "          exclusiveMinimum: 0\n",
    );
    let report = docs.drift(&spec);
    assert_eq!(
        model_diffs(&report, "seedream-v4.5")[0].fact,
        "callback_url.nullable"
    );
    assert_eq!(
        model_diffs(&report, "wan2.7-image-edit")[0].summary,
        "ours 1, docs 0 (exclusive)"
    );
    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert_eq!(removed, ["          minimum: 1"]);
    assert_eq!(
        added,
        [
            "          nullable: true",
            "          minimum: 0",
            "          exclusiveMinimum: true"
        ]
    );
}

#[test]
fn new_model_is_drift_until_added() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    let base = fs::read_to_string(docs.page("seedream--4-5-text-to-image.yaml")).unwrap();
    let page = base
        .replace("const: seedream-v4.5", "const: seedream-6.0")
        .replace("title: Seedream 4.5\n", "title: Seedream 6.0\n")
        .replace(
            "                callback_url:\n",
            "                seed:\n                  type: integer\n                  minimum: 0\n                callback_url:\n",
        );
    docs.write("seedream--6-0-text-to-image.yaml", &page);

    let report = docs.drift(&spec);
    assert!(
        report.drift,
        "the spec covers the whole catalog: a new model is drift"
    );
    assert_eq!(report.uncovered.len(), 1);
    let u = &report.uncovered[0];
    assert_eq!(
        (u.id.as_str(), u.kind.as_str(), u.title.as_deref()),
        ("seedream-6.0", "image", Some("Seedream 6.0"))
    );

    // Without --add-model, sync leaves the spec alone and says what it could add.
    let outcome = docs.sync(&spec, &[]).unwrap();
    assert_eq!(outcome.text, spec);
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.contains("--add-model seedream-6.0")),
        "{:?}",
        outcome.notes
    );
    // Only models the docs have can be added.
    assert!(matches!(
        docs.sync(&spec, &["seedream-9.9"]),
        Err(SyncError::Failed(_))
    ));

    let (text, removed, added) = sync_clean(&docs, &spec, &["seedream-6.0"]);
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(
        added[0],
        r##"        - $ref: "#/components/schemas/Seedream60Request""##
    );
    assert_eq!(
        &added[1..9],
        lines(
            "    Seedream60Request:
      type: object
      title: Seedream 6.0
      description: Seedream 6.0 (added by xtask sync; review the description)
      x-apipod-kind: image
      x-apipod-family: seedream
      required:
        - model"
        )
        .as_slice()
    );
    // The union lists it right after the family's other model.
    assert!(text.contains(
        "        - $ref: \"#/components/schemas/SeedreamV45Request\"\n        - $ref: \"#/components/schemas/Seedream60Request\"\n"
    ));
    let ours = drift::our_facts(&text).unwrap();
    let added_model = ours.models.iter().find(|m| m.id == "seedream-6.0").unwrap();
    assert_eq!(
        added_model.schema_name.as_deref(),
        Some("Seedream60Request")
    );
    let names: Vec<&str> = added_model.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "model",
            "prompt",
            "quality",
            "aspect_ratio",
            "seed",
            "callback_url"
        ]
    );
    // The new schema also generates a client.
    apipod_codegen::generate(&text).expect("the synced spec generates");
}

#[test]
fn model_the_docs_dropped_is_drift_and_sync_removes_it() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.remove("veo--3-1-fast.yaml");
    let report = docs.drift(&spec);
    assert!(report.drift);
    assert_eq!(report.missing_upstream.len(), 1);
    assert_eq!(report.missing_upstream[0].id, "veo3-1-fast");

    let block = lines(&schema_block(&spec, "Veo31FastRequest"));
    let (text, removed, added) = sync_clean(&docs, &spec, &[]);
    assert!(added.is_empty());
    assert_eq!(
        removed[0],
        r##"        - $ref: "#/components/schemas/Veo31FastRequest""##
    );
    assert_eq!(removed[1..], block[..]);
    assert!(!text.contains("veo3-1-fast"));
    // The section heading above it stays.
    assert!(text.contains(
        "    # ------------------------------------------------------------------ video models\n"
    ));
}

#[test]
fn moved_model_changes_union_and_kind() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "veo--3-1-fast.yaml",
        "  /v1/videos/generations:",
        "  /v1/images/generations:",
    );
    let report = docs.drift(&spec);
    assert_eq!(
        model_diffs(&report, "veo3-1-fast")[0].summary,
        "ours /v1/videos/generations, docs /v1/images/generations"
    );
    let (text, _, _) = sync_clean(&docs, &spec, &[]);
    assert!(schema_block(&text, "ImageGenerationRequest").contains("Veo31FastRequest"));
    assert!(!schema_block(&text, "VideoGenerationRequest").contains("Veo31FastRequest"));
    assert!(schema_block(&text, "Veo31FastRequest").contains("\n      x-apipod-kind: image\n"));
}

#[test]
fn status_changes_are_reported_and_synced() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    let video = "query-video-task.yaml";
    docs.edit(
        video,
        "                          - cancelled\n",
        "                          - cancelled\n                          - expired\n",
    );
    docs.edit(
        video,
        "                      error:\n",
        "                      seed:\n                        type: integer\n                      error:\n",
    );
    // A field only one page requires is not required by our shared TaskDetail...
    docs.edit(
        video,
        "                      - status\n",
        "                      - status\n                      - progress\n",
    );
    // ...but one that both require is.
    for page in ["query-image-task.yaml", video] {
        docs.edit(
            page,
            "                      - task_id\n",
            "                      - task_id\n                      - result\n",
        );
    }
    let report = docs.drift(&spec);
    assert_eq!(report.status.len(), 2, "{}", report.to_text("spec"));
    let video_report = report
        .status
        .iter()
        .find(|s| s.endpoint.contains("videos"))
        .unwrap();
    let summaries: Vec<(&str, &str)> = video_report
        .differences
        .iter()
        .map(|d| (d.fact.as_str(), d.summary.as_str()))
        .collect();
    assert_eq!(
        summaries,
        [
            ("data.seed", "in docs (integer), missing in ours"),
            ("data.required", "docs also require result"),
            ("data.status.enum", r#"only in docs "expired""#),
        ]
    );
    // The image page has no `expired`, but our TaskStatus serves both endpoints.
    let image_report = report
        .status
        .iter()
        .find(|s| s.endpoint.contains("images"))
        .unwrap();
    assert_eq!(image_report.differences.len(), 1);

    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert!(removed.is_empty(), "{removed:?}");
    // TaskDetail.required, TaskDetail.properties, TaskStatus.enum, in file order.
    assert_eq!(
        added,
        lines(
            r#"        - result
        seed:
          type: integer
          description: "`seed` (added by xtask sync; review the description)"
        - expired"#
        )
    );
}

#[test]
fn nested_status_object_is_added_whole() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    // As newer upstream pages do: a usage object with its own fields and required list,
    // here behind a `$ref` with 3.1 nullability.
    docs.edit(
        "query-image-task.yaml",
        "                      error_message:\n                        type: string\n",
        "                      error_message:\n                        type: string\n                      usage:\n                        $ref: \"#/components/schemas/Usage\"\n",
    );
    let page = docs.page("query-image-task.yaml");
    let mut text = fs::read_to_string(&page).unwrap();
    text.push_str(
        "components:\n  schemas:\n    Usage:\n      type: object\n      properties:\n        total_tokens:\n          type: [integer, \"null\"]\n        cost:\n          type: number\n          exclusiveMinimum: 0\n      required: [cost]\n",
    );
    fs::write(&page, text).unwrap();
    let report = docs.drift(&spec);
    assert_eq!(report.status.len(), 1);
    assert_eq!(
        report.status[0].differences[0].summary,
        "in docs (object), missing in ours"
    );

    let (text, removed, added) = sync_clean(&docs, &spec, &[]);
    assert!(removed.is_empty());
    assert_eq!(
        added,
        lines(
            r#"        usage:
          type: object
          description: "`usage` (added by xtask sync; review the description)"
          required:
            - cost
          properties:
            cost:
              type: number
              description: "`cost` (added by xtask sync; review the description)"
              minimum: 0
              exclusiveMinimum: true
            total_tokens:
              type: integer
              nullable: true
              description: "`total_tokens` (added by xtask sync; review the description)""#
        )
    );
    apipod_codegen::generate(&text).expect("the synced spec generates");
}

#[test]
fn incompatible_status_type_is_drift_but_a_wider_one_is_not() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    // Ours accepts integer progress; docs saying number is wider than ours.
    docs.edit(
        "query-image-task.yaml",
        "                      progress:\n                        type: integer\n",
        "                      progress:\n                        type: number\n",
    );
    let report = docs.drift(&spec);
    assert_eq!(report.status.len(), 1);
    assert_eq!(
        report.status[0].differences[0].summary,
        "ours integer does not accept docs number"
    );
    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    assert_eq!((removed.len(), added.len()), (1, 1));
    assert_eq!(added, ["          type: number"]);
}

#[test]
fn every_change_at_once_keeps_our_prose() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "maxLength: 4000",
        "maxLength: 3000",
    );
    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "                    - 21:9\n",
        "",
    );
    docs.edit(
        "seedance--2-0-image-to-video.yaml",
        "default: 5\n",
        "default: 10\n",
    );
    docs.edit(
        "seedance--2-0-image-to-video.yaml",
        "                    - 4k\n",
        "                    - 4k\n                    - 8k\n",
    );
    docs.edit(
        "veo--3-1-fast.yaml",
        "                callback_url:\n                  type: string\n                  default: \"\"\n",
        "",
    );
    docs.edit(
        "wan--2-7-image-to-image.yaml",
        "          maxLength: 5000\n",
        "          maxLength: 6000\n",
    );
    docs.edit(
        "wan--2-7-image-to-image.yaml",
        "          type: array\n",
        "          type: array\n          minItems: 1\n          maxItems: 9\n",
    );
    let report = docs.drift(&spec);
    assert_eq!(report.difference_count(), 8, "{}", report.to_text("spec"));

    let (_, removed, added) = sync_clean(&docs, &spec, &[]);
    // No comment and no description of ours changed, except the removed field's own.
    assert!(
        !removed.iter().any(|l| l.trim_start().starts_with('#')),
        "{removed:?}"
    );
    let descriptions: Vec<&String> = removed
        .iter()
        .filter(|l| l.contains("description:"))
        .collect();
    assert_eq!(descriptions.len(), 1);
    assert!(descriptions[0].contains("URL that receives a POST"));
    assert_eq!(removed.len(), 8, "{removed:?}");
    assert_eq!(added.len(), 6, "{added:?}");
}

#[test]
fn sync_fails_loudly_on_what_it_cannot_write() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    docs.edit(
        "seedance--2-0-image-to-video.yaml",
        "                duration:\n                  type: integer\n",
        "                duration:\n                  type: [integer, string]\n",
    );
    let report = docs.drift(&spec);
    assert_eq!(
        model_diffs(&report, "seedance-2.0-i2v")[0].summary,
        "ours integer, docs integer|string"
    );
    match docs.sync(&spec, &[]) {
        Err(SyncError::Failed(msg)) => assert!(msg.contains("several alternatives"), "{msg}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn sync_then_drift_is_idempotent_on_clean_docs() {
    let docs = Docs::new();
    let spec = trimmed_spec();
    let outcome = docs.sync(&spec, &[]).unwrap();
    assert_eq!(outcome.text, spec);
    assert!(outcome.changes.is_empty());
}

#[test]
fn unreadable_input_is_an_error() {
    let spec = trimmed_spec();
    let tmp = TempDir::new().unwrap();
    let err = drift::run(&spec, &tmp.path().join("nope")).unwrap_err();
    assert!(err.0.contains("does not exist"), "{err}");
    let err = drift::run(&spec, tmp.path()).unwrap_err();
    assert!(err.0.contains("api-reference/openapi"), "{err}");

    // Broken YAML in a page about one of our models.
    let docs = Docs::new();
    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "  version: 1.0.0\n",
        "  version: [1.0.0\n",
    );
    let err = drift::run(&spec, &docs.dir()).unwrap_err();
    assert!(
        err.0.contains("seedream--4-5-text-to-image.yaml") && err.0.contains("invalid YAML"),
        "{err}"
    );
    assert!(matches!(docs.sync(&spec, &[]), Err(SyncError::Input(_))));

    // A YAML file that is not OpenAPI.
    let docs = Docs::new();
    docs.write("notes.yaml", "title: not an OpenAPI page\nitems: [1, 2]\n");
    let err = drift::run(&spec, &docs.dir()).unwrap_err();
    assert!(
        err.0.contains("notes.yaml") && err.0.contains("not an OpenAPI document"),
        "{err}"
    );

    // A page whose request schema cannot be read.
    let docs = Docs::new();
    docs.edit(
        "veo--3-1-fast.yaml",
        "$ref: \"#/components/schemas/VeoRatio\"",
        "$ref: \"#/components/schemas/Missing\"",
    );
    let err = drift::run(&spec, &docs.dir()).unwrap_err();
    assert!(
        err.0.contains("veo--3-1-fast.yaml") && err.0.contains("Missing"),
        "{err}"
    );
}

#[test]
fn broken_pages_without_a_model_are_skipped_and_broken_model_pages_are_errors() {
    let docs = Docs::new();
    // Like the upstream asset-upload page: unquoted `: ` inside a plain scalar.
    docs.write(
        "assets--asset-upload.yaml",
        "openapi: 3.1.0\ninfo:\n  title: Upload\n  description: Reference it as assetId://x\n    everywhere: any account may use it\npaths:\n  /v1/assets:\n    post: {}\n",
    );
    let report = docs.drift(&trimmed_spec());
    assert!(!report.drift, "{}", report.to_text("trimmed"));
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.file.as_str()).collect();
    assert!(
        skipped.contains(&"assets--asset-upload.yaml"),
        "{skipped:?}"
    );

    // A broken page of a model we do not cover: every model is in scope, so it is an error.
    let base = fs::read_to_string(docs.page("seedream--4-5-text-to-image.yaml")).unwrap();
    docs.write(
        "seedream--9-0-text-to-image.yaml",
        &base
            .replace("const: seedream-v4.5", "const: seedream-9.0")
            .replace("  version: 1.0.0\n", "  version: [1.0.0\n"),
    );
    let err = drift::run(&trimmed_spec(), &docs.dir()).unwrap_err();
    assert!(err.0.contains("seedream--9-0-text-to-image.yaml"), "{err}");
}

fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_exit_codes() {
    let docs = Docs::new();
    let spec_path = docs.tmp.path().join("apipod.yaml");
    fs::write(&spec_path, trimmed_spec()).unwrap();
    let spec = spec_path.to_str().unwrap();
    let dir = docs.dir();
    let dir = dir.to_str().unwrap();

    let (code, out, _) = run_cli(&["drift", "--docs", dir, "--spec", spec]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No drift"));

    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "maxLength: 4000",
        "maxLength: 3000",
    );
    let (code, out, _) = run_cli(&["drift", "--docs", dir, "--spec", spec]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("seedream-v4.5.prompt.maxLength: ours 4000, docs 3000"));

    let (code, out, _) = run_cli(&["drift", "--docs", dir, "--spec", spec, "--json"]);
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(json["drift"], json!(true));
    assert_eq!(
        json["models"][0]["differences"][0]["fact"],
        json!("prompt.maxLength")
    );

    let (code, _, err) = run_cli(&["drift", "--docs", "/nonexistent/docs", "--spec", spec]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"));

    let (code, out, _) = run_cli(&["sync", "--docs", dir, "--spec", spec]);
    assert_eq!(code, 0, "{out}");
    assert!(
        fs::read_to_string(&spec_path)
            .unwrap()
            .contains("maxLength: 3000")
    );
    let (code, _, _) = run_cli(&["drift", "--docs", dir, "--spec", spec]);
    assert_eq!(code, 0);

    docs.write("notes.yaml", "not: openapi\n");
    let (code, out, err) = run_cli(&["drift", "--docs", dir, "--spec", spec, "--json"]);
    assert_eq!(code, 2);
    assert!(err.contains("notes.yaml"));
    let json: Value = serde_json::from_str(&out).expect("JSON error");
    assert!(json["error"].as_str().unwrap().contains("notes.yaml"));
}

fn fake_generated(client: &str) -> apipod_codegen::Generated {
    apipod_codegen::Generated {
        client: client.into(),
        mock: "pub fn mock() {}\n".into(),
        contract: "pub static MODELS: &[u8] = &[];\n".into(),
        routes: "pub static ALL: &[u8] = &[];\n".into(),
        models: "pub struct M;\n".into(),
        spec_sha256: "0123abcd".into(),
    }
}

#[test]
fn snapshot_check_names_stale_and_missing_files() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("generated");
    let files = snapshot::files(&fake_generated("pub fn a() {}\npub fn b() {}\n"));
    assert_eq!(
        files[0].1,
        "// @generated by cargo xtask codegen from openapi/apipod.yaml (sha256 0123abcd). Do not edit.\npub fn a() {}\npub fn b() {}\n"
    );
    assert_eq!(snapshot::write(&dir, &files).unwrap().len(), 5);
    assert!(snapshot::check(&dir, &files, "generated").is_empty());
    assert!(snapshot::write(&dir, &files).unwrap().is_empty());

    // The spec changed: the committed snapshot is stale.
    let newer = snapshot::files(&fake_generated("pub fn a() {}\npub fn c() {}\n"));
    let stale = snapshot::check(&dir, &newer, "generated");
    assert_eq!(stale.len(), 1);
    assert_eq!(
        stale[0].path,
        dir.join("crates/apipod-raw/generated/client.rs")
    );
    assert!(
        stale[0].diff.contains("-pub fn b() {}"),
        "{}",
        stale[0].diff
    );
    assert!(
        stale[0].diff.contains("+pub fn c() {}"),
        "{}",
        stale[0].diff
    );
    assert!(stale[0].diff.contains("generated/client.rs (committed)"));

    fs::remove_file(dir.join("crates/apipod-raw/generated/mock.rs")).unwrap();
    let stale = snapshot::check(&dir, &files, "generated");
    assert_eq!(stale.len(), 1);
    assert!(stale[0].diff.contains("cannot be read"));
}

#[test]
fn snapshot_diff_is_short() {
    let old: String = (0..500).map(|i| format!("line {i}\n")).collect();
    let new: String = (0..500).map(|i| format!("line {}\n", i * 2)).collect();
    let diff = snapshot::short_diff(&old, &new, "a", "b", 40);
    assert_eq!(diff.lines().count(), 41);
    assert!(diff.ends_with("more diff lines)\n"));
}

/// The whole loop on a fixture docs tree: a model of a family the spec has never seen
/// goes through `sync --add-model` and code generation, after which the generated snapshot
/// holds its typed request and the contract table knows it. Nothing but the spec text is
/// edited by hand or by sync; everything else is the generated snapshot.
#[test]
fn a_model_of_a_new_family_goes_through_sync_and_codegen() {
    let docs = Docs::new();
    let page = "pixel-forge--pixel-forge-1.yaml";
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/new-family")
            .join(page),
        docs.page(page),
    )
    .unwrap();
    let spec = trimmed_spec();
    let report = docs.drift(&spec);
    let uncovered: Vec<&str> = report.uncovered.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(uncovered, ["pixel-forge-1"]);

    let outcome = docs
        .sync(&spec, &["pixel-forge-1"])
        .expect("sync adds any model");
    assert!(outcome.text.contains("    PixelForge1Request:\n"));
    assert!(
        outcome
            .text
            .contains("      x-apipod-family: pixel-forge\n")
    );
    assert!(
        outcome.text.contains("  pixel-forge:\n"),
        "a placeholder family entry"
    );
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.contains("x-apipod-families.pixel-forge")),
        "{:?}",
        outcome.notes
    );
    let verdicts: Vec<String> = outcome.impact.iter().map(ToString::to_string).collect();
    assert_eq!(verdicts, ["minor: model pixel-forge-1 added"]);
    assert!(!docs.drift(&outcome.text).drift);

    let before = apipod_codegen::generate_models(&spec).unwrap();
    let after = apipod_codegen::generate(&outcome.text).expect("the synced spec generates");
    assert!(!before.contains("pub struct PixelForge1 "));
    assert!(after.models.contains("pub struct PixelForge1 {"));
    assert!(
        after
            .models
            .contains("pub fn new(prompt: impl Into<String>) -> Self")
    );
    assert!(after.contract.contains("id: \"pixel-forge-1\""));
    assert!(after.contract.contains("family: Some(\"pixel-forge\")"));
    // Regeneration writes only the snapshot folders.
    for (path, _) in snapshot::files(&after) {
        assert!(
            snapshot::SNAPSHOT_DIRS.iter().any(|d| path.starts_with(d)),
            "{path}"
        );
    }
}

#[test]
fn sync_json_reports_semver_verdicts() {
    let docs = Docs::new();
    docs.edit(
        "seedream--4-5-text-to-image.yaml",
        "                    - 4K\n",
        "",
    );
    let spec_dir = TempDir::new().unwrap();
    let spec_path = spec_dir.path().join("apipod.yaml");
    fs::write(&spec_path, trimmed_spec()).unwrap();
    let (code, out, err) = run_cli(&[
        "sync",
        "--docs",
        docs.dir().to_str().unwrap(),
        "--spec",
        spec_path.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let json: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json["overall"], "major");
    assert_eq!(json["written"], false);
    let reasons: Vec<&str> = json["semver"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"`quality` of seedream-v4.5 no longer takes 4K"),
        "{reasons:?}"
    );
}
