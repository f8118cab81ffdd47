//! `apipod mock`: the fake APIPod in the foreground.

use std::net::SocketAddr;

use anyhow::{Context as _, Result};
use apipod_mock::{MockConfig, MockServer};
use clap::Args;

use crate::println_nopipe;

/// Run the local fake APIPod until Ctrl-C (point other commands at it with --base-url).
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  apipod mock --addr 127.0.0.1:8080 &\n  apipod --base-url http://127.0.0.1:8080 --api-key sk-any generate --model seedream-v4.5 --prompt test"
)]
pub struct CmdMock {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Tasks take as long as on APIPod (seconds to minutes) instead of a quarter second.
    #[arg(long)]
    pub realistic: bool,

    /// Accept only this API key (default: any non-empty key).
    #[arg(long, value_name = "KEY")]
    pub require_key: Option<String>,

    /// Seed for durations, outcomes and generated media.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl CmdMock {
    /// Runs the server until Ctrl-C.
    pub async fn run(&self) -> Result<()> {
        let mut config = if self.realistic {
            MockConfig::realistic()
        } else {
            MockConfig::fast()
        };
        config = config.api_key(self.require_key.as_deref());
        if let Some(seed) = self.seed {
            config = config.seed(seed);
        }
        let server = MockServer::bind(self.addr, config)
            .await
            .with_context(|| format!("cannot listen on {}", self.addr))?;
        println_nopipe!("{}", server.base_url());
        crate::eprintln_nopipe!(
            "mock APIPod listening on {}; Ctrl-C stops it",
            server.base_url()
        );
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        server.shutdown().await;
        Ok(())
    }
}
