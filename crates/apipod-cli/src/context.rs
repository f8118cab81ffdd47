//! Global options, and the client (and in-process mock server) built from them.

use std::time::Duration;

use anyhow::Result;
use apipod::{CancellationToken, Client, PollPolicy};
use apipod_mock::{MockConfig, MockServer};
use clap::Args;

use crate::exit::CliError;

/// Environment variable: poll every this many milliseconds instead of APIPod's staged
/// schedule (used by tests and demos against a local mock).
pub const POLL_INTERVAL_ENV: &str = "APIPOD_POLL_INTERVAL_MS";

/// Poll interval used with `--mock` (its tasks finish in a quarter of a second).
const MOCK_POLL_INTERVAL: Duration = Duration::from_millis(50);

const GLOBAL: &str = "Global options";

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// APIPod API key.
    #[arg(long, env = "APIPOD_API_KEY", hide_env_values = true, global = true, help_heading = GLOBAL)]
    pub api_key: Option<String>,

    /// API base URL (default https://api.apipod.ai), e.g. a mock's `http://127.0.0.1:8080`.
    #[arg(long, env = "APIPOD_BASE_URL", global = true, value_name = "URL", help_heading = GLOBAL)]
    pub base_url: Option<String>,

    /// Run against a fake APIPod started inside this process: no key, no network, tasks
    /// finish in a fraction of a second and results are real (generated) files.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub mock: bool,

    /// Log to stderr (-v: requests and retries, -vv: debug, -vvv: trace). `RUST_LOG`
    /// overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,
}

/// What a command runs with: the global options, a lazily built client, and the Ctrl-C
/// token.
pub struct Context {
    global: GlobalArgs,
    client: Option<Client>,
    mock: Option<MockServer>,
    interrupt: Option<CancellationToken>,
    coordinator: Option<std::sync::Arc<dyn apipod::coord::Coordinator>>,
}

impl Context {
    /// A context for these options. Nothing is started yet.
    pub fn new(global: GlobalArgs) -> Self {
        Self {
            global,
            client: None,
            mock: None,
            interrupt: None,
            coordinator: None,
        }
    }

    /// The client, built on first use: against a fresh in-process mock with `--mock`,
    /// otherwise from `--api-key`/`--base-url` (or their environment variables).
    pub async fn client(&mut self) -> Result<Client> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let mut builder =
            Client::builder().user_agent(format!("apipod-cli/{}", env!("CARGO_PKG_VERSION")));
        if self.global.mock {
            let server = MockServer::start_with(MockConfig::fast()).await;
            tracing::info!(url = %server.base_url(), "started the in-process mock APIPod");
            builder = builder.base_url(server.base_url()).api_key("sk-mock");
            self.mock = Some(server);
        } else {
            let key = self
                .global
                .api_key
                .as_deref()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    CliError::usage("no API key: pass --api-key or set APIPOD_API_KEY").with_hint(
                        "to try the CLI without a key or network, add --mock (a fake APIPod runs in-process)",
                    )
                })?;
            builder = builder.api_key(key);
            if let Some(url) = self
                .global
                .base_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
            {
                builder = builder.base_url(url);
            }
        }
        if let Some(coordinator) = &self.coordinator {
            builder = builder.coordinator(coordinator.clone());
        }
        if let Some(policy) = self.poll_policy()? {
            builder = builder.poll_policy(policy);
        }
        let client = builder.build()?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// A fixed poll interval from `APIPOD_POLL_INTERVAL_MS`, or the mock's with `--mock`;
    /// `None` keeps APIPod's staged schedule.
    fn poll_policy(&self) -> Result<Option<PollPolicy>> {
        if let Ok(text) = std::env::var(POLL_INTERVAL_ENV) {
            let ms: u64 = text.trim().parse().map_err(|_| {
                CliError::usage(format!(
                    "{POLL_INTERVAL_ENV} must be a number of milliseconds, not {text:?}"
                ))
            })?;
            return Ok(Some(PollPolicy::Fixed(Duration::from_millis(ms.max(1)))));
        }
        Ok(self
            .global
            .mock
            .then_some(PollPolicy::Fixed(MOCK_POLL_INTERVAL)))
    }

    /// Share what the client learns (429 pauses, callbacks, durations) through
    /// `coordinator`; call before the client is first used.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub fn set_coordinator(&mut self, coordinator: std::sync::Arc<dyn apipod::coord::Coordinator>) {
        self.coordinator = Some(coordinator);
    }

    /// A token cancelled by the first Ctrl-C. A second Ctrl-C exits at once with 130.
    pub fn interrupt(&mut self) -> CancellationToken {
        self.interrupt
            .get_or_insert_with(|| {
                let token = CancellationToken::new();
                let cancel = token.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_err() {
                        return;
                    }
                    tracing::debug!("Ctrl-C: stopping");
                    cancel.cancel();
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(i32::from(crate::exit::Code::Interrupted.as_u8()));
                    }
                });
                token
            })
            .clone()
    }

    /// True when running against the in-process mock.
    pub fn is_mock(&self) -> bool {
        self.global.mock
    }

    /// The global options as they must be repeated in a resume command (`--mock` cannot be
    /// resumed: its server goes away with this process).
    pub fn resume_flags(&self) -> String {
        match &self.global.base_url {
            Some(url) if !self.global.mock => format!(" --base-url {url}"),
            _ => String::new(),
        }
    }

    /// Stops the in-process mock, if one was started.
    pub async fn shutdown(self) {
        if let Some(server) = self.mock {
            server.shutdown().await;
        }
    }
}
