//! The client's settings and resources for the synchronous images API, kept apart from the
//! calls so that the client can hold them without depending on the calls.

use std::time::Duration;

use apipod_raw::ClientState;

use crate::error::{Error, Result};
use apipod_raw::openai::{DEFAULT_SYNC_BASE_URL, SUGGESTED_READ_TIMEOUT};

/// The builder's settings for the synchronous calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncSettings {
    pub(crate) base_url: Option<String>,
    pub(crate) timeout: Option<Duration>,
}

/// The client's resources for the synchronous calls.
pub(crate) struct SyncConfig {
    pub(crate) base_url: String,
    pub(crate) raw: apipod_raw::Client,
    pub(crate) http: reqwest::Client,
    pub(crate) read_timeout: Duration,
}

impl SyncSettings {
    /// The HTTP client of the synchronous calls: the caller's own (its timeouts apply), or
    /// one whose read timeout covers the server's wait window.
    pub(crate) fn http_client(
        &self,
        own: Option<&reqwest::Client>,
        connect_timeout: Option<Duration>,
    ) -> Result<reqwest::Client> {
        if let Some(own) = own {
            return Ok(own.clone());
        }
        reqwest::Client::builder()
            .connect_timeout(connect_timeout.unwrap_or(Duration::from_secs(10)))
            .timeout(self.read_timeout())
            .build()
            .map_err(|e| Error::Config {
                setting: "sync_timeout",
                message: e.to_string(),
            })
    }

    fn read_timeout(&self) -> Duration {
        self.timeout.unwrap_or(SUGGESTED_READ_TIMEOUT)
    }

    /// The sync base URL: the one set, else the API base URL when that was set (a mock or a
    /// proxy serves both), else the long-request host.
    pub(crate) fn finish(
        self,
        http: reqwest::Client,
        api_base_url: &str,
        api_base_url_set: bool,
        state: &ClientState,
    ) -> Result<SyncConfig> {
        let read_timeout = self.read_timeout();
        let base_url = match self.base_url {
            Some(url) => url,
            None if api_base_url_set => api_base_url.to_string(),
            None => DEFAULT_SYNC_BASE_URL.to_string(),
        };
        let base_url = base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| Error::Config {
            setting: "sync_base_url",
            message: format!("{base_url:?} is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config {
                setting: "sync_base_url",
                message: format!("{base_url:?} must be http or https"),
            });
        }
        Ok(SyncConfig {
            raw: apipod_raw::Client::new_with_client(&base_url, http.clone(), state.clone()),
            base_url,
            http,
            read_timeout,
        })
    }
}
