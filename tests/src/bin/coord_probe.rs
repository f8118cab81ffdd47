//! One replica of a service using the SDK with Redis coordination, driven over stdin and
//! reporting on stdout, for the multi-process tests in `tests/tests/coordination.rs`.
//!
//! Every role builds a client with a `CallbackHub` and a `RedisCoordinator`, waits until
//! the coordinator is connected, prints `READY`, then:
//!
//! * `receive`: serves a `CallbackReceiver` on 127.0.0.1 and prints `LISTENING <base URL>`;
//!   runs until stdin closes.
//! * `submit`: for each stdin line `go`, waits until the pause another replica shared
//!   reaches it (`--expect-pause`: prints `PAUSED <ms>`), submits one task and prints
//!   `SUBMITTED <task id> <ms the submit took>` (or `ERROR <code>`). With `--fault 429`
//!   every request asks the mock for a 429.
//! * `wait`: reads `<task id> <callback URL>` lines and waits for each task with a 10-minute
//!   poll interval, so that only a callback can end the wait quickly; prints
//!   `COMPLETED <task id> <ms>`.

use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apipod::callback_server::CallbackReceiver;
use apipod::coord::Coordinator;
use apipod::coord::redis::{RedisCoordinator, RedisOptions};
use apipod::{
    CallbackHub, CallbackTokens, Client, PollPolicy, RetryPolicy, SubmitOptions, TaskHandle,
    TaskKind, WaitOptions,
};
use clap::{Parser, ValueEnum};

#[derive(Parser)]
struct Args {
    #[arg(value_enum)]
    role: Role,
    #[arg(long)]
    redis: String,
    #[arg(long)]
    base_url: String,
    #[arg(long, default_value = "apipod")]
    prefix: String,
    #[arg(long, default_value = "sk-coord-test")]
    api_key: String,
    /// Callback route secret (hex), shared by the submitter and the receiver.
    #[arg(long, default_value = "")]
    secret: String,
    /// Ask the mock for this fault on every request (`429`).
    #[arg(long)]
    fault: Option<String>,
    /// `submit`: wait for a shared pause before each submit.
    #[arg(long)]
    expect_pause: bool,
    /// `submit`: the callback base URL (a receiver's `LISTENING` URL).
    #[arg(long)]
    callback_base: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Receive,
    Submit,
    Wait,
}

fn say(line: &str) {
    println!("{line}");
}

fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "apipod=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let coordinator = Arc::new(RedisCoordinator::connect(
        &args.redis,
        RedisOptions::default()
            .prefix(args.prefix.clone())
            .heartbeat(Duration::from_millis(100)),
    )?);
    let mut builder = Client::builder()
        .api_key(&args.api_key)
        .base_url(&args.base_url)
        .callbacks(CallbackHub::new())
        .coordinator(coordinator.clone());
    if let Some(fault) = &args.fault {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-mock-fault", fault.parse()?);
        builder = builder
            .http_client(
                reqwest::Client::builder()
                    .default_headers(headers)
                    .build()?,
            )
            .retry_policy(RetryPolicy {
                max_retries: 1,
                ..RetryPolicy::default()
            });
    }
    let client = builder.build()?;
    let started = Instant::now();
    while !coordinator.is_connected() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err("the coordinator did not connect within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tokens = if args.secret.is_empty() {
        CallbackTokens::random()?
    } else {
        CallbackTokens::new(args.secret.as_bytes())?
    };
    say("READY");
    let mut lines = stdin_lines();
    match args.role {
        Role::Receive => {
            let receiver = CallbackReceiver::new(client, tokens);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            say(&format!("LISTENING http://{}", listener.local_addr()?));
            let server = axum::serve(listener, receiver.router());
            tokio::select! {
                r = server => r?,
                _ = async { while lines.recv().await.is_some() {} } => {}
            }
        }
        Role::Submit => {
            while let Some(line) = lines.recv().await {
                if line.trim() != "go" {
                    continue;
                }
                if args.expect_pause {
                    let since = Instant::now();
                    let paused = loop {
                        if let Some(left) = client.submits_paused_for() {
                            break left;
                        }
                        if since.elapsed() > Duration::from_secs(10) {
                            return Err("no shared pause arrived within 10 s".into());
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    };
                    say(&format!("PAUSED {}", paused.as_millis()));
                }
                let key = CallbackTokens::submission_key();
                let mut body = serde_json::json!({
                    "model": "seedream-v4.5",
                    "prompt": "a lighthouse at dawn",
                });
                if let Some(base) = &args.callback_base {
                    body["callback_url"] =
                        tokens.callback_url_for(base, TaskKind::Image, &key).into();
                }
                let request = apipod::GenerationRequest::from_json(body)?;
                let options = SubmitOptions {
                    timeout: Some(Duration::from_secs(8)),
                    ..SubmitOptions::idempotency_key(key)
                };
                let since = Instant::now();
                match client.submit_with(request, options).await {
                    Ok(submitted) => say(&format!(
                        "SUBMITTED {} {} {}",
                        submitted.handle.task_id,
                        since.elapsed().as_millis(),
                        submitted.handle.callback_url.as_deref().unwrap_or("-")
                    )),
                    Err(e) => say(&format!("ERROR {}", e.code().unwrap_or("unknown"))),
                }
            }
        }
        Role::Wait => {
            while let Some(line) = lines.recv().await {
                let mut parts = line.split_whitespace();
                let (Some(task_id), Some(url)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let mut handle = TaskHandle::from_id(TaskKind::Image, task_id);
                handle.model = "seedream-v4.5".into();
                handle.callback_url = Some(url.to_string());
                let since = Instant::now();
                let options = WaitOptions::timeout(Duration::from_secs(120))
                    .with_poll(PollPolicy::Fixed(Duration::from_secs(600)));
                match client.task(handle).wait_with(options).await {
                    Ok(_) => say(&format!(
                        "COMPLETED {task_id} {}",
                        since.elapsed().as_millis()
                    )),
                    Err(e) => say(&format!("ERROR {}", e.code().unwrap_or("unknown"))),
                }
            }
        }
    }
    Ok(())
}
