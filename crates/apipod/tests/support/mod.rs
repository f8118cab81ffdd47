//! A scripted APIPod stand-in for sequence tests: each route answers from a queue of
//! replies, and every request is recorded with the (tokio) time it arrived, so tests under
//! paused time can check schedules exactly.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn created(task_id: &str) -> Self {
        Self::json(
            200,
            serde_json::json!({"code": 200, "message": "success", "data": {"task_id": task_id}}),
        )
        .header("x-request-id", format!("req_{task_id}"))
        .header("x-request-cost", "0.0400")
    }

    pub fn status(task_id: &str, status: &str) -> Self {
        Self::json(
            200,
            serde_json::json!({"code": 200, "message": "success", "data": {"task_id": task_id, "status": status}}),
        )
    }

    pub fn completed(task_id: &str, urls: &[&str]) -> Self {
        Self::json(
            200,
            serde_json::json!({"code": 200, "message": "success", "data": {
            "task_id": task_id, "status": "completed", "progress": 100, "result": urls, "completed_at": 1786358400}}),
        )
    }

    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"code": status, "message": message, "data": {"type": "error", "error_code": code}}),
        )
    }
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Default)]
struct Script {
    queues: HashMap<&'static str, VecDeque<Reply>>,
    fallback: HashMap<&'static str, Reply>,
    seen: Vec<Seen>,
}

/// The server. Routes are `create` (any POST) and `status` (any GET).
#[derive(Clone)]
pub struct Scripted {
    pub base_url: String,
    script: Arc<Mutex<Script>>,
}

impl Scripted {
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base_url: format!("http://{addr}"),
            script,
        }
    }

    /// Queues replies for a route; the last queued reply repeats once the queue is empty.
    pub fn push(&self, route: &'static str, replies: impl IntoIterator<Item = Reply>) {
        let mut s = self.script.lock().unwrap();
        for r in replies {
            s.fallback.insert(route, r.clone());
            s.queues.entry(route).or_default().push_back(r);
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }

    pub fn seen_on(&self, route: &str) -> Vec<Seen> {
        let method = if route == "create" { "POST" } else { "GET" };
        self.seen()
            .into_iter()
            .filter(|s| s.method == method)
            .collect()
    }
}

async fn handle(State(script): State<Arc<Mutex<Script>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let route: &'static str = if parts.method == axum::http::Method::POST {
        "create"
    } else {
        "status"
    };
    let reply = {
        let mut s = script.lock().unwrap();
        s.seen.push(Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            headers: parts.headers.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        let next = s.queues.get_mut(route).and_then(VecDeque::pop_front);
        next.or_else(|| s.fallback.get(route).cloned())
    };
    match reply {
        Some(r) => {
            let mut resp = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
            resp.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            for (k, v) in r.headers {
                resp.headers_mut().insert(k, v.parse().unwrap());
            }
            resp
        }
        None => (StatusCode::NOT_FOUND, "no script").into_response(),
    }
}

/// A client for the scripted server with no HTTP timers (so paused time only moves when
/// the code under test sleeps).
pub fn client(base_url: &str) -> apipod::Client {
    apipod::Client::builder()
        .api_key("sk-test-secret-key")
        .base_url(base_url)
        .http_client(
            reqwest::Client::builder()
                .pool_idle_timeout(None)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}
