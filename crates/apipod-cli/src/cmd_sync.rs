//! `apipod sync`: generate or edit images in one synchronous request, through APIPod's
//! OpenAI-compatible images API.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use apipod::DownloadOptions;
use apipod::openai::{
    Background, Delivery, EditImage, ImageEdit, ImageGeneration, OutputFormat, ResponseFormat,
    SyncOptions, SyncResult,
};
use clap::Args;
use serde_json::json;

use crate::context::Context;
use crate::exit::{CliError, Code};
use crate::{eprintln_nopipe, println_nopipe};

/// Generate (or, with --image-file, edit) images in one synchronous request and save them.
///
/// Uses APIPod's OpenAI-compatible images API instead of the task API: the answer carries
/// the images. Without --image-file it is a generation; with it, an edit of those local
/// files (uploaded as multipart). Calls go to the long-request host unless --base-url (or
/// --mock) points elsewhere. If the server's 300 s wait window passes, the images are
/// fetched from the task it names, within the same --timeout. A call that was sent is never
/// repeated (it could be charged twice); only refusals (connect errors, 429 with
/// Retry-After) are retried.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  apipod --mock sync --model gpt-image-2 --prompt \"a watercolor castle\" --size 1024x1024 --out out/\n  apipod --mock sync --model gpt-image-2 --prompt \"add a red hat\" --image-file cat.png --mask mask.png\n  apipod sync --model seedream-v4.5-edit --prompt \"make it night\" --image-file a.png --image-file b.png --json"
)]
pub struct CmdSync {
    /// Image model id (see `apipod models`); for edits one that takes input images.
    #[arg(long, short, value_name = "ID")]
    pub model: String,

    /// What to generate, or the edit to make.
    #[arg(long, short, value_name = "TEXT")]
    pub prompt: String,

    /// A local image to edit (repeat for several, at most 10 of 10 MB); makes this an edit.
    #[arg(long = "image-file", value_name = "PATH")]
    pub image_files: Vec<PathBuf>,

    /// A PNG whose transparent pixels mark where the edit applies (GPT Image models).
    #[arg(long, value_name = "PATH", requires = "image_files")]
    pub mask: Option<PathBuf>,

    /// How many images (1-10).
    #[arg(long, short)]
    pub n: Option<u8>,

    /// Output size as WIDTHxHEIGHT (e.g. 1024x1024) or auto.
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,

    /// Quality tier, one of the model's `quality` values.
    #[arg(long, value_name = "TIER")]
    pub quality: Option<String>,

    /// `b64_json` (images inline, the default) or `url` (downloaded from APIPod).
    #[arg(long, value_name = "FORMAT", value_parser = parse::<ResponseFormat>)]
    pub response_format: Option<ResponseFormat>,

    /// png, jpeg or webp, where the model supports it.
    #[arg(long, value_name = "FORMAT", value_parser = parse::<OutputFormat>)]
    pub output_format: Option<OutputFormat>,

    /// auto or opaque, where the model supports it.
    #[arg(long, value_name = "MODE", value_parser = parse::<Background>)]
    pub background: Option<Background>,

    /// Directory for the images.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,

    /// Print one JSON object (files, request id, cost, usage, task) instead of file paths.
    #[arg(long)]
    pub json: bool,

    /// Give up after this many seconds, the wait for the task after a 504 included
    /// (default 600).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

fn parse<T: std::str::FromStr<Err = String>>(text: &str) -> std::result::Result<T, String> {
    text.parse()
}

/// The validated request: a generation, or an edit of local files.
enum Request {
    Generation(ImageGeneration),
    Edit(ImageEdit),
}

macro_rules! with_options {
    ($cmd:expr, $request:expr) => {{
        let mut r = $request;
        if let Some(n) = $cmd.n {
            r = r.n(n);
        }
        if let Some(size) = &$cmd.size {
            r = r.size(size.clone());
        }
        if let Some(quality) = &$cmd.quality {
            r = r.quality(quality.clone());
        }
        if let Some(f) = $cmd.response_format {
            r = r.response_format(f);
        }
        if let Some(f) = $cmd.output_format {
            r = r.output_format(f);
        }
        if let Some(b) = $cmd.background {
            r = r.background(b);
        }
        r
    }};
}

impl CmdSync {
    /// Reads the files and checks the request exactly as the SDK does (nothing is sent).
    async fn request(&self) -> Result<Request> {
        if self.image_files.is_empty() {
            let request = with_options!(self, ImageGeneration::new(&self.model, &self.prompt));
            request.validate()?;
            return Ok(Request::Generation(request));
        }
        let mut request = with_options!(self, ImageEdit::new(&self.model, &self.prompt));
        for path in &self.image_files {
            request = request.image(EditImage::from_path(path).await?);
        }
        if let Some(mask) = &self.mask {
            request = request.mask(EditImage::from_path(mask).await?);
        }
        request.validate()?;
        Ok(Request::Edit(request))
    }

    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let request = self.request().await?;
        let client = ctx.client().await?;
        let interrupt = ctx.interrupt();
        let options = SyncOptions::timeout(Duration::from_secs(self.timeout.unwrap_or(600)))
            .with_cancel(interrupt.clone());
        let images = client.sync_images();
        let outcome = match request {
            Request::Generation(r) => images.generate_with(r, options).await,
            Request::Edit(r) => images.edit_with(r, options).await,
        };
        let result = outcome.map_err(|e| sync_error(e, ctx.is_mock(), &self.out))?;
        if let Delivery::AfterTimeout { task_id } = &result.delivery {
            eprintln_nopipe!(
                "note: the server's wait window passed; the images came from task {task_id}"
            );
        }
        let mut save = DownloadOptions::default().with_overwrite(true);
        save.cancel = Some(interrupt);
        let files = result.save_all(&client, &self.out, &save).await?;
        if self.json {
            println_nopipe!(
                "{}",
                serde_json::to_string_pretty(&summary(self, &result, &files))?
            );
        } else {
            for file in &files {
                println_nopipe!("{}", file.path.display());
            }
        }
        Ok(())
    }
}

fn summary(cmd: &CmdSync, result: &SyncResult, files: &[apipod::Downloaded]) -> serde_json::Value {
    json!({
        "model": cmd.model,
        "operation": if cmd.image_files.is_empty() { "generation" } else { "edit" },
        "files": files.iter().map(|f| f.path.display().to_string()).collect::<Vec<_>>(),
        "urls": result.images.iter().filter_map(|i| i.url()).collect::<Vec<_>>(),
        "delivery": match result.delivery { Delivery::AfterTimeout { .. } => "after_timeout", _ => "direct" },
        "task_id": result.task_id(),
        "request_id": result.request_id,
        "cost": result.cost,
        "usage": result.usage.map(|u| json!({
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
        })),
        "attempts": result.attempts,
    })
}

/// A timeout that names the task says how to fetch its images later.
fn sync_error(err: apipod::Error, mock: bool, out: &std::path::Path) -> anyhow::Error {
    match &err {
        apipod::Error::Timeout {
            task_id: Some(id), ..
        } if !mock => CliError::new(Code::Timeout, err.to_string())
            .with_hint(format!(
                "the task keeps running; fetch its images with: apipod wait {id} --kind image --out {}",
                out.display()
            ))
            .into(),
        _ => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        cmd: CmdSync,
    }

    fn cmd(args: &[&str]) -> std::result::Result<CmdSync, clap::Error> {
        let mut argv = vec!["sync"];
        argv.extend_from_slice(args);
        Wrap::try_parse_from(argv).map(|w| w.cmd)
    }

    #[tokio::test]
    async fn flags_become_a_validated_request() {
        let c = cmd(&[
            "-m",
            "gpt-image-2",
            "-p",
            "x",
            "--size",
            "1024x1024",
            "--response-format",
            "url",
        ])
        .unwrap();
        assert!(matches!(c.request().await.unwrap(), Request::Generation(_)));
        assert!(cmd(&["-m", "gpt-image-2", "-p", "x", "--response-format", "png"]).is_err());
        assert!(
            cmd(&["-m", "gpt-image-2", "-p", "x", "--mask", "m.png"]).is_err(),
            "a mask needs images"
        );
        let err = cmd(&["-m", "gpt-image-2", "-p", "x", "-n", "11"])
            .unwrap()
            .request()
            .await
            .err()
            .unwrap();
        assert_eq!(Code::of(&err), Code::Usage);
        let err = cmd(&[
            "-m",
            "seedream-v4.5",
            "-p",
            "x",
            "--image-file",
            "/nonexistent.png",
        ])
        .unwrap()
        .request()
        .await
        .err()
        .unwrap();
        assert!(err.to_string().contains("/nonexistent.png"), "{err}");
    }
}
