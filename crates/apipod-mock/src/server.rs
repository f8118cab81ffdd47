//! The [`MockServer`] handle: binding, serving and stopping one mock, and what tests read
//! from it. The routes are in [`crate::handlers`], the state they share in
//! [`crate::state`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::callbacks;
use crate::config::MockConfig;
use crate::faults::FaultConfig;
use crate::handlers;
use crate::log::RequestLog;
use crate::state::Shared;

/// A running mock APIPod server.
///
/// It listens on loopback (by default), answers the four task endpoints like APIPod, and
/// serves the result files itself. Dropping it stops the server; [`MockServer::shutdown`]
/// also waits for it to finish.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = apipod_mock::MockServer::start().await;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(server.tasks_created(), 0);
/// server.shutdown().await;
/// # }
/// ```
pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    serve_task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .field("base_url", &self.shared.base_url)
            .field("tasks_created", &self.tasks_created())
            .finish()
    }
}

impl MockServer {
    /// Starts a server with [`MockConfig::fast`] on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> MockServer {
        MockServer::start_with(MockConfig::default()).await
    }

    /// Starts a server with `config` on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with(config: MockConfig) -> MockServer {
        MockServer::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0), config)
            .await
            .expect("bind the mock APIPod server to 127.0.0.1")
    }

    /// Starts a server with `config` on `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, config: MockConfig) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| default_base_url(addr));
        let callback_client = callbacks::client(config.callback_timeout);
        let shared = Arc::new(Shared::new(config, base_url, callback_client));
        let app = handlers::router(shared.clone());
        let mut stop = shared.shutdown.subscribe();
        let serve_task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "mock APIPod server stopped");
            }
        });
        tracing::debug!(%addr, "mock APIPod server listening");
        Ok(MockServer {
            shared,
            addr,
            serve_task: Some(serve_task),
        })
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `base_url()` followed by `path`, e.g. `url("/v1/images/generations")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base_url)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request log (and callback attempts).
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// Number of tasks really created (idempotent replays do not count).
    pub fn tasks_created(&self) -> usize {
        self.shared.tasks.created()
    }

    /// Number of Seedance library assets created (`POST /v1/assets` answered 200).
    pub fn assets_created(&self) -> usize {
        self.shared.assets.created()
    }

    /// Replaces the server-wide faults from now on (the draw sequence restarts).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.faults().set(faults);
    }

    /// The current server-wide faults.
    pub fn faults(&self) -> FaultConfig {
        self.shared.faults().config().clone()
    }

    /// Stops accepting connections, cancels pending callbacks and waits (up to 5 s) for
    /// open requests to finish.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.serve_task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// Runs a mock server on `addr` until Ctrl-C (what `apipod mock --addr` and the
/// `apipod-mock` binary do). The listening URL is logged with `tracing` at INFO; callers that
/// want to print it themselves can use [`MockServer::bind`] instead.
pub async fn serve(addr: SocketAddr, config: MockConfig) -> io::Result<()> {
    let server = MockServer::bind(addr, config).await?;
    tracing::info!(url = %server.base_url(), "mock APIPod server listening; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}

fn default_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_of_unspecified_addresses_is_loopback() {
        assert_eq!(
            default_base_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            default_base_url("[::]:81".parse().unwrap()),
            "http://[::1]:81"
        );
    }
}
