//! Servers the benchmarks talk to, run in a child process so that their memory and CPU are
//! not charged to the client being measured.
//!
//! `apipod-bench serve ...` runs one (the mock, or a minimal canned-answer server), prints
//! `LISTENING <url>` and then answers commands on stdin: `stats` prints one `STATS <json>`
//! line; end of input stops it. [`ServerProc`] spawns and drives such a child.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use apipod::TaskStatus;
use apipod::raw::types::{SubmitTaskData, SubmitTaskResponse, TaskDetail, TaskStatusResponse};
use apipod_mock::{MockConfig, MockServer};
use axum::Router;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::sys;

/// Which server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum ServerKind {
    /// `apipod_mock::MockServer` (validation, idempotency, lifecycle, request log).
    Mock,
    /// Canned answers only: the least server work possible, to isolate client costs.
    Minimal,
}

/// How to run a server child.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ServeArgs {
    /// Which server.
    #[arg(long, value_enum, default_value = "mock")]
    pub kind: ServerKind,
    /// Time a mock task stays `pending`, ms.
    #[arg(long, default_value_t = 50)]
    pub pending_ms: u64,
    /// Time a mock task stays `processing`, ms.
    #[arg(long, default_value_t = 200)]
    pub processing_ms: u64,
    /// Serve every mock result file as this many bytes.
    #[arg(long)]
    pub result_size: Option<u64>,
    /// Request-log entries the mock keeps.
    #[arg(long, default_value_t = 100_000)]
    pub log_capacity: usize,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Tasks the mock reserves room for up front (`MockConfig::reserve_tasks`).
    #[arg(long, default_value_t = 0)]
    pub reserve_tasks: usize,
}

impl ServeArgs {
    /// A fast mock (50 ms + 200 ms tasks).
    pub fn mock() -> Self {
        ServeArgs {
            kind: ServerKind::Mock,
            pending_ms: 50,
            processing_ms: 200,
            result_size: None,
            log_capacity: 100_000,
            threads: 1,
            reserve_tasks: 0,
        }
    }

    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "serve".to_string(),
            "--kind".into(),
            match self.kind {
                ServerKind::Mock => "mock".into(),
                ServerKind::Minimal => "minimal".into(),
            },
            "--pending-ms".into(),
            self.pending_ms.to_string(),
            "--processing-ms".into(),
            self.processing_ms.to_string(),
            "--log-capacity".into(),
            self.log_capacity.to_string(),
            "--threads".into(),
            self.threads.to_string(),
            "--reserve-tasks".into(),
            self.reserve_tasks.to_string(),
        ];
        if let Some(size) = self.result_size {
            args.push("--result-size".into());
            args.push(size.to_string());
        }
        args
    }
}

/// What a server child reports on `stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerStats {
    /// Requests answered so far (the mock's log length; the minimal server's counter).
    pub requests: u64,
    /// Tasks created (mock only).
    pub tasks_created: u64,
    /// `(unix ms, requests so far)` every 100 ms since start.
    pub samples: Vec<(u64, u64)>,
    /// CPU seconds the server process used.
    pub cpu_seconds: f64,
    /// The server's peak RSS, KiB.
    pub peak_rss_kib: u64,
}

/// Milliseconds since the Unix epoch (comparable across processes on one machine).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Runs a server until stdin ends (the `serve` subcommand).
pub fn serve_child(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let counter = Arc::new(AtomicU64::new(0));
        let (url, mock) = match args.kind {
            ServerKind::Mock => {
                let mut config = MockConfig::fast()
                    .durations(
                        Duration::from_millis(args.pending_ms),
                        Duration::from_millis(args.processing_ms),
                    )
                    .log_capacity(args.log_capacity)
                    .reserve_tasks(args.reserve_tasks);
                if let Some(size) = args.result_size {
                    config = config.result_size_override(Some(size));
                }
                let server = MockServer::start_with(config).await;
                (server.base_url(), Some(server))
            }
            ServerKind::Minimal => (minimal_server(counter.clone()).await?, None),
        };
        let mock = Arc::new(mock);
        let samples = Arc::new(Mutex::new(Vec::new()));
        let count = {
            let (mock, counter) = (mock.clone(), counter.clone());
            move || match mock.as_ref() {
                Some(m) => m.log().total(),
                None => counter.load(Ordering::Relaxed),
            }
        };
        {
            let (samples, count) = (samples.clone(), count.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    samples
                        .lock()
                        .expect("samples lock")
                        .push((unix_ms(), count()));
                }
            });
        }
        println!("LISTENING {url}");
        std::io::stdout().flush()?;
        // Commands arrive on stdin, read by a plain thread (tokio's stdin needs a feature
        // the workspace does not enable).
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(line) = lines.recv().await {
            if line.trim() == "stats" {
                let stats = ServerStats {
                    requests: count(),
                    tasks_created: mock
                        .as_ref()
                        .as_ref()
                        .map_or(0, |m| m.tasks_created() as u64),
                    samples: samples.lock().expect("samples lock").clone(),
                    cpu_seconds: sys::cpu_time(None).as_secs_f64(),
                    peak_rss_kib: sys::peak_rss_kib(),
                };
                println!("STATS {}", serde_json::to_string(&stats)?);
                std::io::stdout().flush()?;
            }
        }
        Ok(())
    })
}

/// The minimal server: fixed answers to create and status, no validation, no state.
async fn minimal_server(counter: Arc<AtomicU64>) -> anyhow::Result<String> {
    let created = Arc::new(AtomicU64::new(0));
    let json = |body: Vec<u8>| ([(CONTENT_TYPE, "application/json")], body).into_response();
    let app = Router::new()
        .route(
            "/v1/images/generations",
            post({
                let (counter, created) = (counter.clone(), created.clone());
                move || async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let n = created.fetch_add(1, Ordering::Relaxed);
                    let body = SubmitTaskResponse {
                        code: 200,
                        message: "success".into(),
                        data: SubmitTaskData {
                            task_id: Some(format!("img_{n:032x}")),
                            type_: None,
                            error_code: None,
                        },
                    };
                    json(serde_json::to_vec(&body).expect("serialises"))
                }
            }),
        )
        .route(
            "/v1/images/status/{task_id}",
            get({
                let counter = counter.clone();
                move |Path(task_id): Path<String>| async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let body = TaskStatusResponse {
                        code: 200,
                        message: "success".into(),
                        data: TaskDetail {
                            task_id,
                            status: TaskStatus::Processing,
                            progress: Some(40),
                            result: None,
                            completed_at: None,
                            error: None,
                            error_code: None,
                            error_message: None,
                        },
                    };
                    json(serde_json::to_vec(&body).expect("serialises"))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// A server child process. Dropping it ends the child.
#[derive(Debug)]
pub struct ServerProc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    url: String,
}

impl ServerProc {
    /// Starts `apipod-bench serve` with `args` and waits until it listens.
    pub fn spawn(args: &ServeArgs) -> anyhow::Result<ServerProc> {
        let exe = std::env::current_exe().context("locating the apipod-bench binary")?;
        let mut child = crate::pin::command(exe, crate::pin::Role::Server)
            .args(args.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server child process")?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().context("child stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("LISTENING ") else {
            let _ = child.kill();
            bail!("server child did not start: {line:?}");
        };
        Ok(ServerProc {
            url: url.to_string(),
            child,
            stdin,
            stdout,
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the child for its statistics.
    pub fn stats(&mut self) -> anyhow::Result<ServerStats> {
        let stdin = self.stdin.as_mut().context("server stdin closed")?;
        stdin.write_all(b"stats\n")?;
        stdin.flush()?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("server child exited");
            }
            if let Some(json) = line.trim().strip_prefix("STATS ") {
                return Ok(serde_json::from_str(json)?);
            }
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        // Closing stdin ends the child; kill it if it does not go within a second.
        drop(self.stdin.take());
        for _ in 0..20 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
