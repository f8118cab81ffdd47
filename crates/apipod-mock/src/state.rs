//! The state one server shares between its handlers, its callback timers and the
//! [`MockServer`](crate::MockServer) handle: configuration, the task, asset and
//! idempotency stores, the fault draws and the request log. Plus the one question every
//! handler asks of it first: which API key is calling.

use std::sync::{Mutex, MutexGuard};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use tokio::sync::watch;

use crate::assets::AssetStore;
use crate::config::MockConfig;
use crate::faults::FaultState;
use crate::idempotency::IdempotencyStore;
use crate::log::RequestLog;
use crate::tasks::TaskStore;

/// State shared by the handlers, the callback timers and the [`MockServer`](crate::MockServer)
/// handle.
pub(crate) struct Shared {
    pub config: MockConfig,
    pub base_url: String,
    pub tasks: TaskStore,
    pub assets: AssetStore,
    pub idempotency: IdempotencyStore,
    pub faults: Mutex<FaultState>,
    pub log: RequestLog,
    pub callback_client: reqwest::Client,
    /// Creates per API key in the current one-second window (with
    /// [`MockConfig::create_rate_limit`]).
    pub create_window: Mutex<(std::time::Instant, std::collections::HashMap<String, u32>)>,
    /// `true` once the server is shutting down; stops callback timers too.
    pub shutdown: watch::Sender<bool>,
}

impl Shared {
    /// Fresh, empty state for a server answering on `base_url`; callbacks go out through
    /// `callback_client`.
    pub(crate) fn new(
        config: MockConfig,
        base_url: String,
        callback_client: reqwest::Client,
    ) -> Shared {
        let (shutdown, _) = watch::channel(false);
        Shared {
            create_window: Mutex::new((std::time::Instant::now(), Default::default())),
            base_url,
            tasks: TaskStore::with_capacity(config.reserve_tasks),
            assets: AssetStore::default(),
            idempotency: IdempotencyStore::with_capacity(config.reserve_tasks),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            log: RequestLog::new(config.log_capacity),
            callback_client,
            shutdown,
            config,
        }
    }

    /// Counts a create by `api_key` against the rate limit: false when it is over.
    pub(crate) fn admit_create(&self, api_key: &str) -> bool {
        let Some(limit) = self.config.create_rate_limit else {
            return true;
        };
        let mut window = self.create_window.lock().unwrap_or_else(|e| e.into_inner());
        if window.0.elapsed() >= std::time::Duration::from_secs(1) {
            *window = (std::time::Instant::now(), Default::default());
        }
        // Bounded: one entry per key seen this second.
        let count = window.1.entry(api_key.to_string()).or_default();
        *count = count.saturating_add(1);
        *count <= limit
    }

    /// The fault state (its draw sequence and configuration).
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().expect("fault state lock")
    }
}

/// Checks `Authorization: Bearer <key>` and returns the key (`None`: answer 401).
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|key| !key.is_empty())?;
    match shared.config.api_key.as_deref() {
        Some(expected) if key != expected => None,
        _ => Some(key.to_string()),
    }
}
