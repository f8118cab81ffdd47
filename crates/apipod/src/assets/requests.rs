//! The asset calls on [`Client`]: upload, read, and wait until usable.

use std::collections::HashSet;
use std::time::Duration;

use apipod_raw::types;
use tracing::Instrument;

use super::{Asset, AssetStatus, AssetUpload, DEFAULT_ASSET_TIMEOUT, bare_asset_id};
use crate::client::Client;
use crate::deadline::Deadline;
use crate::error::http;
use crate::error::{Error, Result};
use crate::options::WaitOptions;

impl Client {
    /// Registers a file in the Seedance asset library (`POST /v1/assets`).
    ///
    /// The request is checked first ([`AssetUpload::validate`]). The answer usually says
    /// `PROCESSING`; use [`Client::wait_for_asset`] before referencing the asset. Uploads
    /// carry no idempotency key, so only failures that show the request was not processed
    /// are retried (per the client's [`RetryPolicy`](crate::RetryPolicy)): connection
    /// failures, 408, 429 and 503. Anything else is returned, as a retry could register the
    /// file twice. A 429 pauses every submit and upload of the client.
    ///
    /// ```no_run
    /// # async fn demo() -> apipod::Result<()> {
    /// use apipod::{AssetType, AssetUpload, Client};
    ///
    /// let client = Client::from_env()?;
    /// let asset = client
    ///     .upload_asset(AssetUpload::new("https://cdn.example.com/person.png", AssetType::Image))
    ///     .await?;
    /// println!("{} is {}", asset.reference(), asset.status());
    /// # Ok(()) }
    /// ```
    pub async fn upload_asset(&self, upload: AssetUpload) -> Result<Asset> {
        upload.validate()?;
        let body = upload.to_raw();
        let span = tracing::info_span!(
            "apipod.upload_asset",
            asset_type = %upload.asset_type(),
            asset_id = tracing::field::Empty,
        );
        async {
            let mut schedule = self.inner.retry.schedule();
            loop {
                self.inner.gate.wait(None).await;
                let outcome = {
                    let _permit = self.acquire().await;
                    match self.inner.raw.create_asset(&body).await {
                        Ok(r) => finish(r),
                        Err(e) => Err(http::from_raw(e).await),
                    }
                };
                let err = match outcome {
                    Ok(asset) => {
                        tracing::Span::current().record("asset_id", asset.id());
                        tracing::info!(status = %asset.status(), "asset registered");
                        return Ok(asset);
                    }
                    Err(err) => err,
                };
                let delay = if not_processed(&err) {
                    self.inner.retry.delay_for(&err, schedule.next())
                } else {
                    None
                };
                let Some(delay) = delay else {
                    tracing::warn!(error = %err, "asset upload failed");
                    return Err(err);
                };
                if matches!(err, Error::RateLimited { .. }) {
                    self.inner.rate_limited(delay);
                }
                tracing::info!(?delay, error = %err, "asset upload refused; retrying");
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }

    /// Reads an asset once (`GET /v1/assets/{id}`), by bare id or `assetId://{id}`.
    ///
    /// The id is checked before anything is sent (1 to 255 characters, no whitespace or
    /// slashes; [`Error::Config`] otherwise). Transport errors, 429 and 5xx are retried per
    /// the client's policy; an unknown id, or another account's asset, is a 404
    /// [`Error::Api`].
    ///
    /// ```no_run
    /// # async fn demo() -> apipod::Result<()> {
    /// let client = apipod::Client::from_env()?;
    /// let asset = client.asset("assetId://asset-20260722164336-p4mms").await?;
    /// println!("{}: {}", asset.id(), asset.status());
    /// # Ok(()) }
    /// ```
    pub async fn asset(&self, id: &str) -> Result<Asset> {
        let id = bare_asset_id(id)?;
        let mut schedule = self.inner.retry.schedule();
        loop {
            match self.read_asset(id).await {
                Ok(asset) => return Ok(asset),
                Err(err) => {
                    let Some(delay) = self.inner.retry.delay_for(&err, schedule.next()) else {
                        return Err(err);
                    };
                    tracing::debug!(?delay, error = %err, "asset read failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Waits until an asset is `ACTIVE` and returns it.
    ///
    /// Reads follow `options.poll` (default: the client's [`PollPolicy`](crate::PollPolicy):
    /// a jittered 2-3 s for the first 30 s, then slower, up to about 20 s), and honour
    /// `Retry-After`. Everything happens within `options.timeout` (default
    /// [`DEFAULT_ASSET_TIMEOUT`](crate::DEFAULT_ASSET_TIMEOUT)): each request and each sleep
    /// is cut short at the deadline, after which the wait ends with [`Error::Timeout`]
    /// (`task_id` is `None`). `FAILED`, `EXPIRED` and `DELETED` end it with
    /// [`Error::AssetUnusable`]; `options.cancel` with [`Error::Cancelled`]. Transient
    /// failures are retried per the client's [`RetryPolicy`](crate::RetryPolicy) (a success
    /// resets its budget). Statuses this version does not know are waited on, at most
    /// `options.max_unknown_reads` times in a row (default 120).
    ///
    /// ```no_run
    /// # async fn demo() -> apipod::Result<()> {
    /// use std::time::Duration;
    /// use apipod::{AssetType, AssetUpload, CancellationToken, Client, WaitOptions};
    ///
    /// let client = Client::from_env()?;
    /// let uploaded = client
    ///     .upload_asset(AssetUpload::new("https://cdn.example.com/clip.mp4", AssetType::Video))
    ///     .await?;
    /// let options = WaitOptions::timeout(Duration::from_secs(120)).with_cancel(CancellationToken::new());
    /// let ready = client.wait_for_asset(uploaded.id(), options).await?;
    /// println!("use {} in video_urls", ready.reference());
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_asset(&self, id: &str, options: WaitOptions) -> Result<Asset> {
        let id = bare_asset_id(id)?;
        let span = tracing::info_span!("apipod.wait_for_asset", asset_id = %id);
        self.wait_asset(id, options).instrument(span).await
    }

    async fn wait_asset(&self, id: &str, options: WaitOptions) -> Result<Asset> {
        let deadline = Deadline::after(Some(options.timeout.unwrap_or(DEFAULT_ASSET_TIMEOUT)));
        let cancel = options.cancel.unwrap_or_default();
        let poll = options.poll.unwrap_or_else(|| self.inner.poll.clone());
        let max_unknown = options.max_unknown_reads.unwrap_or(120);
        let policy = &self.inner.retry;
        let mut schedule = policy.schedule();
        let mut unknown_reads = 0u32;
        let mut warned: HashSet<String> = HashSet::new();
        let mut last_status: Option<AssetStatus> = None;
        let timed_out = || Error::Timeout {
            task_id: None,
            elapsed: deadline.elapsed(),
            last: None,
            idempotency_key: None,
        };
        let cancelled = || Error::Cancelled { task_id: None };
        loop {
            if cancel.is_cancelled() {
                return Err(cancelled());
            }
            if deadline.expired() {
                tracing::info!(last = ?last_status, "asset wait timed out");
                return Err(timed_out());
            }
            let read = tokio::select! {
                r = deadline.run(Box::pin(self.read_asset(id))) => r,
                _ = cancel.cancelled() => return Err(cancelled()),
            };
            let delay = match read {
                Err(_) => continue, // the deadline passed during the request
                Ok(Err(err)) => match policy.delay_for(&err, schedule.next()) {
                    Some(delay) => {
                        tracing::debug!(?delay, error = %err, "asset read failed; retrying");
                        delay
                    }
                    None => return Err(err),
                },
                Ok(Ok(asset)) => {
                    schedule = policy.schedule();
                    if last_status.as_ref() != Some(asset.status()) {
                        tracing::debug!(status = %asset.status(), "asset update");
                        last_status = Some(asset.status().clone());
                    }
                    let mut delay = poll.delay(deadline.elapsed(), None);
                    match asset.status() {
                        AssetStatus::Active => return Ok(asset),
                        s if s.is_unusable() => {
                            return Err(Error::AssetUnusable {
                                asset_id: asset.id().to_string(),
                                status: s.clone(),
                                message: asset.error_message().map(str::to_string),
                            });
                        }
                        AssetStatus::Unknown(value) => {
                            unknown_reads += 1;
                            if warned.insert(value.clone()) {
                                tracing::warn!(status = %value, "asset reports a status this SDK does not know; still waiting");
                            }
                            if unknown_reads > max_unknown {
                                return Err(Error::Api {
                                    status: 200,
                                    body_code: None,
                                    code: Some("unknown_status".into()),
                                    message: format!(
                                        "asset {id} reported unknown status {value:?} {unknown_reads} times in a row"
                                    ),
                                    request_id: asset.request_id.clone(),
                                    retry_after: None,
                                });
                            }
                            delay = delay.max(Duration::from_secs(2));
                        }
                        _ => unknown_reads = 0,
                    }
                    if let Some(ra) = asset.retry_after {
                        delay = delay.max(ra.min(policy.max_retry_after));
                    }
                    delay
                }
            };
            let wake = deadline.wake_after(delay);
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = cancel.cancelled() => return Err(cancelled()),
            }
        }
    }

    /// One read of a checked, bare id.
    async fn read_asset(&self, id: &str) -> Result<Asset> {
        let _permit = self.acquire().await;
        match self.inner.raw.get_asset(id).await {
            Ok(r) => finish(r),
            Err(e) => Err(http::from_raw(e).await),
        }
    }
}

/// The asset of a 200 answer, or the error a `code` other than 200 reports.
fn finish(response: apipod_raw::ResponseValue<types::AssetResponse>) -> Result<Asset> {
    let (request_id, retry_after) = http::answer_meta(response.headers());
    let body = response.into_inner();
    tracing::trace!(code = body.code, message = %body.message, asset_id = %body.data.asset_id, "asset response");
    http::check_body_code(body.code, body.message, &request_id, retry_after)?;
    if body.data.asset_id.is_empty() {
        return Err(Error::Decode {
            status: Some(200),
            reason: "success response without data.assetId".into(),
            excerpt: String::new(),
        });
    }
    let mut asset = Asset::from_raw(body.data);
    asset.request_id = request_id;
    asset.retry_after = retry_after;
    Ok(asset)
}

/// True when the error shows the upload never reached processing, so sending it again
/// cannot register the file twice.
fn not_processed(err: &Error) -> bool {
    match err {
        Error::RateLimited { .. } => true,
        Error::Api { status, .. } => matches!(status, 408 | 429 | 503),
        Error::Transport {
            source: Some(e), ..
        } => e.is_connect(),
        _ => false,
    }
}
