//! Receives APIPod callbacks on 127.0.0.1 and prints each one once it is confirmed.
//!
//! ```sh
//! APIPOD_API_KEY=... APIPOD_CALLBACK_SECRET=... \
//!   cargo run -p apipod --features callback-server --example callback_receiver
//! ```
//!
//! Environment:
//! * `APIPOD_API_KEY` (required): the key whose tasks the callbacks are about; every
//!   callback is confirmed by re-reading its task with it.
//! * `APIPOD_CALLBACK_SECRET`: the secret the route tokens are minted with (at least 32
//!   bytes; a shorter one is an error). Without it a random one is used, and URLs minted by
//!   another process will not verify.
//! * `APIPOD_CALLBACK_PORT` (default 8787) and `APIPOD_CALLBACK_PUBLIC_URL`: the address
//!   APIPod reaches this receiver at (e.g. an HTTPS tunnel to the port), used to print an
//!   example callback URL.
//!
//! Stop it with Ctrl-C.

use std::net::SocketAddr;

use apipod::callback_server::CallbackReceiver;
use apipod::{CallbackHub, CallbackTokens, Client, TaskKind};
use tokio::sync::broadcast::error::RecvError;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "apipod=info".into()),
        )
        .init();

    let client = Client::builder()
        .api_key(std::env::var("APIPOD_API_KEY").unwrap_or_default())
        .callbacks(CallbackHub::new())
        .build()?;
    let tokens = match std::env::var("APIPOD_CALLBACK_SECRET") {
        Ok(secret) if !secret.is_empty() => CallbackTokens::new(secret)?,
        _ => {
            eprintln!("APIPOD_CALLBACK_SECRET is not set: using a random secret for this run");
            CallbackTokens::random()?
        }
    };
    let port: u16 = std::env::var("APIPOD_CALLBACK_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8787);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let public = std::env::var("APIPOD_CALLBACK_PUBLIC_URL")
        .unwrap_or_else(|_| format!("http://{addr}/apipod"));

    let receiver = CallbackReceiver::new(client, tokens.clone()).with_prefix("/apipod");
    let mut events = receiver.events();
    let listener = tokio::net::TcpListener::bind(addr).await?;

    println!("listening on http://{}", listener.local_addr()?);
    println!("route: POST {}", receiver.route());
    let key = CallbackTokens::submission_key();
    println!(
        "example: submit an image task with Idempotency-Key {key} and\n  callback_url {}",
        tokens.callback_url_for(&public, TaskKind::Image, &key)
    );

    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(confirmed) => {
                    let snap = &confirmed.snapshot;
                    println!(
                        "{} task {} (submission {}): {}",
                        confirmed.kind,
                        snap.task_id(),
                        confirmed.submission_key,
                        snap.status()
                    );
                    for output in snap.outputs() {
                        println!("  {}", output.url);
                    }
                    if let Some(message) = snap.error_message() {
                        println!("  error: {message}");
                    }
                }
                Err(RecvError::Lagged(missed)) => eprintln!("missed {missed} events"),
                Err(RecvError::Closed) => break,
            }
        }
    });

    axum::serve(listener, receiver.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("stopping");
        })
        .await?;
    Ok(())
}
