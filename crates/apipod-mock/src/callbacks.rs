//! Callback delivery for tasks created with a `callback_url`.
//!
//! Task state is derived lazily, so a callback needs a timer: one tokio task per task that
//! has a callback URL (and only those) sleeps until the task ends, then POSTs the status
//! `data` plus `request_id`, `created_at` and `completed_at` (ISO-8601) with
//! `User-Agent: APIPod-Callback/1.0`. Non-2xx answers and network errors are retried, 5
//! attempts in all, with doubling delays. Only `http://` loopback URLs are called.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::log::{CallbackAttempt, CallbackOutcome};
use crate::state::Shared;
use crate::tasks::{Outcome, Task};

/// The `User-Agent` of callback requests.
pub const CALLBACK_USER_AGENT: &str = "APIPod-Callback/1.0";

/// Delivery attempts per callback.
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// The HTTP client used for callbacks: no proxy, no redirects, `localhost` pinned to
/// 127.0.0.1, so nothing can leave the machine.
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(CALLBACK_USER_AGENT)
        .timeout(timeout)
        .resolve(
            "localhost",
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        )
        .build()
        .expect("callback HTTP client")
}

/// Accepts `http://` URLs whose host is a loopback IP or `localhost`.
pub(crate) fn loopback_target(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "scheme {:?} is not supported; the mock calls loopback http:// URLs only",
            parsed.scheme()
        ));
    }
    let host = parsed.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(parsed)
    } else {
        Err(format!(
            "host {host:?} is not a loopback address; the mock never sends traffic off this machine"
        ))
    }
}

/// Starts the timer task of `task`, if it has a callback URL and will complete or fail.
pub(crate) fn schedule(shared: &Arc<Shared>, task: &Arc<Task>) {
    let Some(url) = task.callback_url.clone() else {
        return;
    };
    if !matches!(task.plan.outcome, Outcome::Complete | Outcome::Fail { .. }) {
        return;
    }
    let Some(due) = task.terminal_at() else {
        return;
    };
    let shared = shared.clone();
    let task = task.clone();
    let mut shutdown = shared.shutdown.subscribe();
    tokio::spawn(async move {
        let run = async {
            tokio::time::sleep_until(due).await;
            deliver_all(&shared, &task, &url).await;
        };
        tokio::select! {
            () = run => {}
            _ = shutdown.wait_for(|stopped| *stopped) => {}
        }
    });
}

/// The callback body: the status `data` at completion plus `request_id` and ISO-8601
/// `created_at`/`completed_at`; failures also carry `error`.
pub(crate) fn payload(task: &Task, base_url: &str, veo_object: bool) -> Value {
    let at = task.terminal_at().unwrap_or(task.created);
    let detail = task.detail(at, base_url, veo_object);
    let mut body = serde_json::to_value(&detail).expect("task detail serialises");
    let map = body.as_object_mut().expect("task detail is an object");
    map.insert("request_id".into(), task.request_id.clone().into());
    map.insert("created_at".into(), iso(task.created_wall).into());
    if let Some(done) = task.completed_wall() {
        map.insert("completed_at".into(), iso(done).into());
    }
    if let Outcome::Fail { message, .. } = &task.plan.outcome {
        map.entry("error")
            .or_insert_with(|| Value::String(message.clone()));
    }
    body
}

fn iso(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

async fn deliver_all(shared: &Shared, task: &Task, url: &str) {
    let target = match loopback_target(url) {
        Ok(t) => t,
        Err(reason) => {
            tracing::warn!(task_id = %task.id, url, %reason, "callback refused");
            shared.log.push_callback(CallbackAttempt {
                task_id: task.id.clone(),
                url: url.to_string(),
                attempt: 0,
                duplicate: false,
                outcome: CallbackOutcome::Refused(reason),
            });
            return;
        }
    };
    let body = payload(task, &shared.base_url, shared.config.veo_object_result);
    let mut delay = shared.config.callback_backoff;
    for attempt in 1..=MAX_ATTEMPTS {
        if attempt_once(shared, task, &target, &body, attempt, false).await {
            if shared.config.duplicate_callbacks {
                tokio::time::sleep(shared.config.callback_backoff).await;
                attempt_once(shared, task, &target, &body, attempt + 1, true).await;
            }
            return;
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    tracing::warn!(task_id = %task.id, url, "callback not delivered after {MAX_ATTEMPTS} attempts");
}

async fn attempt_once(
    shared: &Shared,
    task: &Task,
    target: &reqwest::Url,
    body: &Value,
    attempt: u32,
    duplicate: bool,
) -> bool {
    let outcome = match shared
        .callback_client
        .post(target.clone())
        .json(body)
        .send()
        .await
    {
        Ok(resp) if resp.status().is_success() => {
            CallbackOutcome::Delivered(resp.status().as_u16())
        }
        Ok(resp) => CallbackOutcome::Rejected(resp.status().as_u16()),
        Err(e) => CallbackOutcome::Failed(e.to_string()),
    };
    let delivered = matches!(outcome, CallbackOutcome::Delivered(_));
    shared.log.push_callback(CallbackAttempt {
        task_id: task.id.clone(),
        url: target.to_string(),
        attempt,
        duplicate,
        outcome,
    });
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_is_allowed() {
        assert!(loopback_target("http://127.0.0.1:9/hook").is_ok());
        assert!(loopback_target("http://127.8.9.10/hook").is_ok());
        assert!(loopback_target("http://[::1]:8080/x").is_ok());
        assert!(loopback_target("http://localhost:3000/x").is_ok());
        assert!(loopback_target("http://example.com/hook").is_err());
        assert!(loopback_target("http://10.0.0.1/hook").is_err());
        assert!(loopback_target("https://127.0.0.1/hook").is_err());
        assert!(loopback_target("not a url").is_err());
    }
}
