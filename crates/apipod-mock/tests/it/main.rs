//! Integration tests of the mock APIPod server over real loopback HTTP.

mod assets;
mod callbacks;
mod errors;
mod faults;
mod idempotency;
mod lifecycle;
mod media;
mod scale;

use std::time::Duration;

use apipod_mock::MockServer;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// The API key the tests use.
pub const KEY: &str = "sk-test";

/// A loopback client for one server.
pub struct Api {
    pub http: Client,
    pub base: String,
    pub key: String,
}

impl Api {
    pub fn new(server: &MockServer) -> Api {
        Api {
            http: Client::builder().no_proxy().build().unwrap(),
            base: server.base_url(),
            key: KEY.into(),
        }
    }

    pub fn with_key(mut self, key: &str) -> Api {
        self.key = key.into();
        self
    }

    /// POST a create to `/v1/{kind}/generations` with extra headers.
    pub async fn create_with(
        &self,
        kind: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self
            .http
            .post(format!("{}/v1/{kind}/generations", self.base))
            .bearer_auth(&self.key)
            .json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    pub async fn create(&self, kind: &str, body: &Value) -> Response {
        self.create_with(kind, body, &[]).await
    }

    /// A create that must succeed; returns the task id.
    pub async fn create_ok(&self, kind: &str, body: &Value) -> String {
        let response = self.create(kind, body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], 200);
        body["data"]["task_id"].as_str().unwrap().to_string()
    }

    pub async fn status_with(
        &self,
        kind: &str,
        task_id: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self
            .http
            .get(format!("{}/v1/{kind}/status/{task_id}", self.base))
            .bearer_auth(&self.key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// The status `data` of a task (the read must succeed).
    pub async fn data(&self, kind: &str, task_id: &str) -> Value {
        let response = self.status_with(kind, task_id, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], 200);
        assert_eq!(body["message"], "success");
        body["data"].clone()
    }

    /// Reads until the task is terminal (paused-time tests: the sleeps are virtual).
    pub async fn wait(&self, kind: &str, task_id: &str) -> Value {
        for _ in 0..10_000 {
            let data = self.data(kind, task_id).await;
            if matches!(
                data["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return data;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("task {task_id} never finished");
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.unwrap()
    }
}

/// A valid image request.
pub fn image(prompt: &str) -> Value {
    json!({"model": "nano-banana-2", "prompt": prompt})
}

/// A valid video request.
pub fn video(prompt: &str) -> Value {
    json!({"model": "seedance-2.0-fast-t2v", "prompt": prompt, "duration": 4})
}

/// The status and JSON body of a response.
pub async fn parts(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body)
}
