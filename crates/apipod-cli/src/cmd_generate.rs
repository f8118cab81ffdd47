//! `apipod generate`: validate, submit, wait with progress, download.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use apipod::{GenerationRequest, SubmitOptions, WaitOptions};
use clap::Args;
use serde_json::{Map, Value, json};

use crate::catalog::find_model;
use crate::context::Context;
use crate::exit::{CliError, Code, with_resume_hint};
use crate::println_nopipe;
use crate::progress::{Reporter, wait_with_progress};
use crate::resume::resume_command;
use crate::save::{download_error, save_outputs};

/// Generate an image or a video and download the results.
///
/// The request is checked against the model's contract before anything is sent. Right after
/// the submit, the task id and idempotency key go to stderr, so an interrupted run can be
/// resumed with `apipod wait` (or re-run with the same `--idempotency-key`, which never
/// creates a second task).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  apipod --mock generate --model seedream-v4.5 --prompt \"a lighthouse at dawn\" --out out/\n  apipod generate --model wan2.7-image-edit --prompt \"make it night\" --image https://example.com/a.png\n  apipod generate --model seedance-2.0-t2v --prompt \"waves\" --set duration=8 --set resolution=720p --no-wait"
)]
pub struct CmdGenerate {
    /// Model id (see `apipod models`).
    #[arg(long, short, value_name = "ID")]
    pub model: String,

    /// What to generate.
    #[arg(long, short, value_name = "TEXT")]
    pub prompt: Option<String>,

    /// Start from the model's example request in the spec (`apipod models ID --json` shows
    /// it); `--prompt`, `--image` and `--set` override its fields.
    #[arg(long)]
    pub example: bool,

    /// Input image URL, sent in `image_urls` (repeat for several), or in `image_url` for a
    /// model that takes one image.
    #[arg(long = "image", value_name = "URL")]
    pub images: Vec<String>,

    /// Any other field of the model, parsed by its type (repeatable), e.g. `--set quality=4K`;
    /// list fields take comma-separated values.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,

    /// URL APIPod calls when the task finishes (only models whose contract has
    /// `callback_url`).
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,

    /// Idempotency key for the submit (default: a new one). Re-using a key replays the
    /// original task instead of creating another one.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// Directory for the results.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,

    /// Print the task handle as JSON right after the submit and exit.
    #[arg(long)]
    pub no_wait: bool,

    /// Print one JSON object (task, files, URLs, request id, cost, key) instead of file paths.
    #[arg(long)]
    pub json: bool,

    /// Give up after this many seconds: bounds the submit, the wait (default 600 for images,
    /// 1800 for videos) and each result's download.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

impl CmdGenerate {
    /// The JSON body from the flags, validated by the SDK exactly as a library caller's.
    pub fn request(&self) -> Result<GenerationRequest> {
        let model = find_model(&self.model)?;
        let mut body = match self.example {
            true => model.example().ok_or_else(|| {
                CliError::usage(format!("{}: the spec has no example request", model.id))
            })?,
            false => Map::new(),
        };
        body.insert("model".into(), Value::String(self.model.clone()));
        if let Some(prompt) = &self.prompt {
            body.insert("prompt".into(), Value::String(prompt.clone()));
        }
        for set in &self.sets {
            let (key, text) = set
                .split_once('=')
                .ok_or_else(|| CliError::usage(format!("--set takes KEY=VALUE, got {set:?}")))?;
            let key = key.trim();
            match key {
                "model" => return Err(CliError::usage("use --model to choose the model").into()),
                "prompt" if self.prompt.is_some() => {
                    return Err(CliError::usage(
                        "the prompt is given twice (--prompt and --set prompt=..)",
                    )
                    .into());
                }
                _ => {}
            }
            let value = match model.field(key) {
                Some(field) => field
                    .parse_text(text)
                    .map_err(|e| CliError::usage(format!("{}: {e}", model.id)))?,
                // Kept as text: validation names the fields the model accepts.
                None => Value::String(text.to_string()),
            };
            body.insert(key.to_string(), value);
        }
        if !self.images.is_empty() {
            if model.field("image_urls").is_some() {
                let entry = body
                    .entry("image_urls")
                    .or_insert_with(|| Value::Array(Vec::new()));
                match entry {
                    Value::Array(list) => {
                        list.extend(self.images.iter().cloned().map(Value::String))
                    }
                    _ => {
                        return Err(
                            CliError::usage("`image_urls` is not a list for this model").into()
                        );
                    }
                }
            } else if model.field("image_url").is_some() && self.images.len() == 1 {
                body.insert("image_url".into(), Value::String(self.images[0].clone()));
            } else {
                return Err(CliError::usage(format!(
                    "{} takes no `image_urls`{}; set its image fields with --set FIELD=URL",
                    model.id,
                    if model.field("image_url").is_some() {
                        " (its `image_url` takes one image)"
                    } else {
                        ""
                    }
                ))
                .into());
            }
        }
        if let Some(url) = &self.callback_url {
            // A model without `callback_url` is rejected by validation, naming its fields.
            body.insert("callback_url".into(), Value::String(url.clone()));
        }
        Ok(GenerationRequest::from_json(Value::Object(body))?)
    }

    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let request = self.request()?;
        let client = ctx.client().await?;
        let interrupt = ctx.interrupt();
        let key = self
            .idempotency_key
            .clone()
            .unwrap_or_else(|| format!("apipod-cli-{}", uuid::Uuid::now_v7()));
        let reporter = Reporter::new();
        let timeout = self.timeout.map(Duration::from_secs);
        let submitted = client
            .submit_with(
                request,
                SubmitOptions {
                    idempotency_key: Some(key.clone()),
                    cancel: Some(interrupt.clone()),
                    timeout,
                },
            )
            .await
            .map_err(|err| submit_error(err, &key, ctx.is_mock()))?;
        let handle = submitted.handle.clone();
        let replay = if submitted.replayed {
            " (replayed: APIPod already had a task for this key)"
        } else {
            ""
        };
        reporter.note(format!(
            "submitted task {} ({}) with idempotency key {key}{replay}",
            handle.task_id, handle.model
        ));
        let resume = resume_command(ctx, handle.kind, &handle.task_id, Some(&self.out));
        if self.no_wait {
            println_nopipe!("{}", serde_json::to_string(&handle)?);
            return Ok(());
        }
        if let Some(cmd) = &resume {
            reporter.note(format!("resume with: {cmd}"));
        }
        let mut options = WaitOptions::default().with_cancel(interrupt.clone());
        options.timeout = timeout;
        let mut progress = reporter.task(handle.task_id.clone());
        let completed = wait_with_progress(&client, &handle, options, &mut progress)
            .await
            .map_err(|e| with_resume_hint(e, resume.as_deref()))?;
        progress.finish();
        let outputs = completed.outputs();
        let saved = save_outputs(&client, &outputs, &self.out, Some(&interrupt), timeout)
            .await
            .map_err(|e| download_error(e, ctx, handle.kind, &handle.task_id, &self.out))?;
        if self.json {
            let out = json!({
                "task_id": handle.task_id,
                "model": handle.model,
                "kind": handle.kind.as_str(),
                "status": completed.snapshot.status().as_str(),
                "files": saved.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>(),
                "urls": outputs.iter().map(|o| o.url.as_str()).collect::<Vec<_>>(),
                "request_id": submitted.request_id,
                "cost": submitted.cost,
                "idempotency_key": key,
                "replayed": submitted.replayed,
            });
            println_nopipe!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for file in &saved {
                println_nopipe!("{}", file.path.display());
            }
        }
        Ok(())
    }
}

/// A submit error, with how to recover when the task may exist.
fn submit_error(err: apipod::Error, key: &str, mock: bool) -> anyhow::Error {
    let recover = if mock {
        None
    } else {
        Some(format!(
            "re-run with --idempotency-key {key}: if APIPod created the task, it is replayed, not created again"
        ))
    };
    match err {
        apipod::Error::Cancelled { .. } => {
            let mut e = CliError::new(
                Code::Interrupted,
                "interrupted before APIPod confirmed the submit",
            );
            e.hint = recover;
            e.into()
        }
        apipod::Error::Timeout { elapsed, .. } => {
            let mut e = CliError::new(
                Code::Timeout,
                format!(
                    "the submit timed out after {elapsed:.0?}; APIPod may have created the task"
                ),
            );
            e.hint = recover;
            e.into()
        }
        err if err.is_retryable() => {
            let code = Code::of_sdk(&err);
            let mut e = CliError::new(code, format!("submit failed: {err}"));
            e.hint = recover;
            e.into()
        }
        err => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apipod::contract;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        cmd: CmdGenerate,
    }

    fn cmd(args: &[&str]) -> CmdGenerate {
        let mut argv = vec!["generate"];
        argv.extend_from_slice(args);
        Wrap::try_parse_from(argv).unwrap().cmd
    }

    #[test]
    fn builds_the_body_from_flags() {
        let req = cmd(&[
            "--model",
            "seedance-2.0-t2v",
            "--prompt",
            "waves",
            "--set",
            "duration=8",
            "--set",
            "watermark=false",
        ])
        .request()
        .unwrap();
        let body = req.to_json();
        assert_eq!(body["duration"], json!(8));
        assert_eq!(body["watermark"], json!(false));
        assert_eq!(body["prompt"], json!("waves"));
    }

    #[test]
    fn images_go_to_image_urls() {
        let req = cmd(&[
            "--model",
            "wan2.7-image-edit",
            "--prompt",
            "night",
            "--image",
            "https://example.com/a.png",
            "--image",
            "https://example.com/b.png",
        ])
        .request()
        .unwrap();
        assert_eq!(
            req.to_json()["image_urls"],
            json!(["https://example.com/a.png", "https://example.com/b.png"])
        );
    }

    #[test]
    fn rejects_with_the_sdk_messages() {
        let err = cmd(&[
            "--model",
            "seedream-v4.5",
            "--prompt",
            "p",
            "--set",
            "quality=8K",
        ])
        .request()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("seedream-v4.5: `quality` is \"8K\"; allowed values: 2K, 4K"),
            "{err}"
        );
        assert_eq!(Code::of(&err), Code::Usage);
        let err = cmd(&[
            "--model",
            "seedream-v4.5",
            "--prompt",
            "p",
            "--set",
            "colour=red",
        ])
        .request()
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`colour` is not a field of this model (accepted: "),
            "{text}"
        );
        assert!(text.contains("quality"), "{text}");
        let err = cmd(&[
            "--model",
            "seedance-2.0-t2v",
            "--prompt",
            "p",
            "--set",
            "duration=eight",
        ])
        .request()
        .unwrap_err();
        assert!(
            err.to_string().contains("`duration` takes a whole number"),
            "{err}"
        );
        let err = cmd(&["--model", "no-such-model", "--prompt", "p"])
            .request()
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown model \"no-such-model\""),
            "{err}"
        );
        assert_eq!(Code::of(&err), Code::Usage);
        let err = cmd(&[
            "--model",
            "seedream-v4.5",
            "--prompt",
            "p",
            "--set",
            "quality",
        ])
        .request()
        .unwrap_err();
        assert_eq!(Code::of(&err), Code::Usage);
    }

    #[test]
    fn callback_url_only_where_the_contract_has_it() {
        let without = contract::MODELS
            .iter()
            .find(|m| !m.accepts_callback())
            .unwrap();
        let err = cmd(&[
            "--model",
            without.id,
            "--prompt",
            "p",
            "--callback-url",
            "https://example.com/cb",
        ])
        .request()
        .unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "{}: `callback_url` is not a field of this model",
                without.id
            )),
            "{err}"
        );
        let with = contract::MODELS
            .iter()
            .find(|m| {
                m.accepts_callback()
                    && !m
                        .fields
                        .iter()
                        .any(|f| f.required && !matches!(f.name, "model" | "prompt"))
                    && m.require_one_of.is_empty()
            })
            .unwrap();
        let req = cmd(&[
            "--model",
            with.id,
            "--prompt",
            "p",
            "--callback-url",
            "https://example.com/cb",
        ])
        .request()
        .unwrap();
        assert_eq!(
            req.callback_url().as_deref(),
            Some("https://example.com/cb")
        );
    }
}
