//! `apipod-mock`: runs the local fake APIPod until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use apipod_mock::{MockConfig, MockServer};
use clap::Parser;

/// A local fake of the APIPod image/video task API.
#[derive(Debug, Parser)]
#[command(name = "apipod-mock", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Tasks take as long as on APIPod (seconds to minutes) instead of milliseconds.
    #[arg(long)]
    realistic: bool,
    /// Accept only this API key (default: any non-empty key).
    #[arg(long, env = "APIPOD_MOCK_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Seed for durations, outcome rates and generated media.
    #[arg(long)]
    seed: Option<u64>,
    /// Base of the result URLs, when clients reach the mock under another address.
    #[arg(long)]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = if args.realistic {
        MockConfig::realistic()
    } else {
        MockConfig::fast()
    };
    config = config.api_key(args.api_key.as_deref());
    if let Some(seed) = args.seed {
        config = config.seed(seed);
    }
    if let Some(url) = args.public_url {
        config = config.public_url(url);
    }
    let server = match MockServer::bind(args.addr, config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("apipod-mock: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    println!("apipod-mock listening on {}", server.base_url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("apipod-mock: cannot wait for Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}
