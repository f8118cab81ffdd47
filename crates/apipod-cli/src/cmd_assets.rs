//! `apipod assets`: the Seedance asset library (upload by URL, show, wait until ACTIVE).

use std::time::Duration;

use anyhow::Result;
use apipod::{Asset, AssetType, AssetUpload, WaitOptions};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::context::Context;
use crate::exit::{CliError, Code};
use crate::{eprintln_nopipe, println_nopipe};

/// Register files in the Seedance asset library and read them back.
#[derive(Debug, Args)]
pub struct CmdAssets {
    #[command(subcommand)]
    command: AssetsCommand,
}

#[derive(Debug, Subcommand)]
enum AssetsCommand {
    Upload(CmdUpload),
    Show(CmdShow),
}

impl CmdAssets {
    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        match &self.command {
            AssetsCommand::Upload(cmd) => cmd.run(ctx).await,
            AssetsCommand::Show(cmd) => cmd.run(ctx).await,
        }
    }
}

/// `--type`: the kind of media the URL points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    /// A picture.
    Image,
    /// A video clip.
    Video,
    /// A sound track.
    Audio,
}

impl From<TypeArg> for AssetType {
    fn from(t: TypeArg) -> Self {
        match t {
            TypeArg::Image => AssetType::Image,
            TypeArg::Video => AssetType::Video,
            TypeArg::Audio => AssetType::Audio,
        }
    }
}

/// Register a file (by its http(s) URL) and print the asset and its `assetId://` reference.
#[derive(Debug, Args)]
pub struct CmdUpload {
    /// http(s) URL of the file; APIPod fetches it from there.
    #[arg(value_name = "URL")]
    pub url: String,

    /// What the file is.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub asset_type: TypeArg,

    /// A name for the asset (APIPod keeps the first 50 characters).
    #[arg(long)]
    pub name: Option<String>,

    /// Wait until the asset is ACTIVE (usable in Seedance requests) before printing it.
    #[arg(long)]
    pub wait: bool,

    /// With --wait, give up after this long: seconds, or a number with ms, s, m or h
    /// (default 10m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, requires = "wait")]
    pub timeout: Option<Duration>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl CmdUpload {
    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let client = ctx.client().await?;
        let mut upload = AssetUpload::new(&self.url, self.asset_type.into());
        if let Some(name) = &self.name {
            upload = upload.with_name(name);
        }
        let asset = client.upload_asset(upload).await?;
        eprintln_nopipe!(
            "registered asset {} ({})",
            asset.reference(),
            asset.status()
        );
        let asset = if self.wait && !asset.is_active() {
            eprintln_nopipe!("waiting until {} is ACTIVE", asset.id());
            let mut options = WaitOptions::default().with_cancel(ctx.interrupt());
            options.timeout = self.timeout;
            client
                .wait_for_asset(asset.id(), options)
                .await
                .map_err(|e| wait_error(e, ctx, asset.id()))?
        } else {
            asset
        };
        print_asset(&asset, self.json)
    }
}

/// Show an asset's type, source URL, name and status.
#[derive(Debug, Args)]
pub struct CmdShow {
    /// Asset id, bare or as `assetId://ID`.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl CmdShow {
    /// Runs the command.
    pub async fn run(&self, ctx: &mut Context) -> Result<()> {
        let client = ctx.client().await?;
        let asset = client.asset(&self.id).await?;
        print_asset(&asset, self.json)
    }
}

/// An asset as `--json` prints it.
pub fn asset_json(asset: &Asset) -> Value {
    json!({
        "asset_id": asset.id(),
        "reference": asset.reference(),
        "asset_type": asset.asset_type_str(),
        "url": asset.url(),
        "name": asset.name(),
        "status": asset.status().as_str(),
        "error_message": asset.error_message(),
        "request_id": asset.request_id(),
    })
}

fn print_asset(asset: &Asset, json: bool) -> Result<()> {
    if json {
        println_nopipe!("{}", serde_json::to_string_pretty(&asset_json(asset))?);
        return Ok(());
    }
    println_nopipe!("asset:     {}", asset.id());
    println_nopipe!("reference: {}", asset.reference());
    if let Some(t) = asset.asset_type_str() {
        println_nopipe!("type:      {t}");
    }
    println_nopipe!("status:    {}", asset.status());
    if let Some(url) = asset.url() {
        println_nopipe!("url:       {url}");
    }
    if let Some(name) = asset.name() {
        println_nopipe!("name:      {name}");
    }
    if let Some(message) = asset.error_message() {
        println_nopipe!("error:     {message}");
    }
    Ok(())
}

/// Turns the end of a failed wait into a CLI error with the right exit code and a hint.
fn wait_error(err: apipod::Error, ctx: &Context, id: &str) -> anyhow::Error {
    let check = if ctx.is_mock() {
        "nothing to check later: the --mock server stops with this command".to_string()
    } else {
        format!(
            "check it later with: apipod{} assets show {id}",
            ctx.resume_flags()
        )
    };
    match &err {
        apipod::Error::Timeout { elapsed, .. } => CliError::new(
            Code::Timeout,
            format!(
                "timed out after {elapsed:.0?} waiting for asset {id} to become ACTIVE; it may still be processing"
            ),
        )
        .with_hint(check)
        .into(),
        apipod::Error::Cancelled { .. } => CliError::new(
            Code::Interrupted,
            format!("interrupted while waiting for asset {id}; APIPod keeps processing it"),
        )
        .with_hint(check)
        .into(),
        apipod::Error::AssetUnusable { .. } => CliError::new(Code::of_sdk(&err), err.to_string())
            .with_hint("upload the file again (after fixing it, if it failed)")
            .into(),
        _ => err.into(),
    }
}

/// `--timeout`: `90` (seconds), `90s`, `500ms`, `2m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90, 90s, 2m, 500ms)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is not a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_several_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "0", "x", "5d", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
