//! Coordination through Redis (feature `redis`): callback fan-out over pub/sub, a shared
//! 429 pause and shared learned durations in keys, all under one prefix.
//!
//! **Why pub/sub and not streams.** A callback only needs to wake waits that are running
//! *now*; a replica that was down when it came finishes its waits by polling, as every
//! wait does anyway. Pub/sub delivers to every subscriber at once with nothing to trim or
//! acknowledge, and keeps nothing in Redis per callback, so Redis memory does not grow
//! with traffic. Streams would add per-replica read positions and trimming for a
//! durability the waits do not need. What must outlive a message (the current pause, the
//! learned durations) is kept in plain keys that a replica reads when it connects. See
//! [`wire`](self) for the key names.
//!
//! **When Redis is down.** Every Redis operation runs in one background task, never in a
//! submit or a wait, and is bounded by a timeout. While Redis cannot be reached the
//! coordinator reports [`is_connected`](crate::coord::Coordinator::is_connected) false
//! (waits that expect a callback then poll at the normal rate), drops the events it could
//! not share, and logs the outage once at `warn` and the recovery at `info`. A heartbeat
//! reconnects as soon as Redis is back, subscribes again, and re-reads the shared pause.
//!
//! ```no_run
//! # async fn demo() -> apipod::Result<()> {
//! use std::sync::Arc;
//! use apipod::coord::redis::{RedisCoordinator, RedisOptions};
//!
//! let coordinator = RedisCoordinator::connect(
//!     "redis://127.0.0.1:6379/",
//!     RedisOptions::default().prefix("my-service:apipod"),
//! )?;
//! let client = apipod::Client::builder()
//!     .api_key("sk-...")
//!     .coordinator(Arc::new(coordinator))
//!     .build()?;
//! # Ok(()) }
//! ```

mod wire;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::{CoordEvent, Coordinator, Peers};
use crate::error::{Error, Result};
use crate::lock::lock;
use wire::Keys;

/// Events waiting to be written to Redis; more are dropped (and counted) rather than
/// queued without bound.
const OUTBOX: usize = 4096;

/// Settings of a [`RedisCoordinator`].
#[derive(Debug, Clone)]
pub struct RedisOptions {
    prefix: String,
    heartbeat: Duration,
    timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "apipod".into(),
            heartbeat: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        }
    }
}

impl RedisOptions {
    /// Prefix of every key and channel (default `apipod`): give each service sharing a
    /// Redis its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How often the connection is checked, and re-established after an outage
    /// (default 1 s).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// Longest time any Redis operation may take (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(10));
        self
    }
}

/// State shared by the coordinator, its background task and its subscription.
struct Shared {
    keys: Keys,
    /// This coordinator's id on the channel.
    id: String,
    peers: Mutex<Vec<Peers>>,
    connected: AtomicBool,
    outbox: mpsc::Sender<worker::Job>,
    dropped: AtomicU64,
}

impl Shared {
    /// Applies an event to every live client, forgetting the ones that are gone.
    fn deliver(&self, event: &CoordEvent) {
        lock(&self.peers).retain(|peers| peers.apply(event));
    }

    fn live_peers(&self) -> Vec<Peers> {
        let mut peers = lock(&self.peers);
        peers.retain(Peers::is_alive);
        peers.clone()
    }

    /// Marks the connection up or down, logging each change once.
    fn set_connected(&self, up: bool, why: &dyn fmt::Display) {
        let was = self.connected.swap(up, Ordering::SeqCst);
        match (was, up) {
            (false, true) => tracing::info!("redis coordination connected"),
            (true, false) => tracing::warn!(
                reason = %why,
                "redis coordination unavailable; callbacks, 429 pauses and durations stay in this process until it is back"
            ),
            _ => {}
        }
    }

    /// Handles what Redis pushes on the connection: channel messages and disconnects.
    fn on_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Message => {
                if let Some(Value::BulkString(payload)) = push.data.get(1)
                    && let Some(event) = wire::decode(&self.id, payload)
                {
                    self.deliver(&event);
                }
            }
            PushKind::Disconnection => self.set_connected(false, &"connection lost"),
            _ => {}
        }
    }
}

/// A [`Coordinator`] that shares callbacks, 429 pauses and learned durations between the
/// replicas of a service through Redis. See the [module docs](self).
///
/// It owns one background task (started by [`connect`](Self::connect), so inside a tokio
/// runtime) that ends when the coordinator is dropped.
pub struct RedisCoordinator {
    shared: Arc<Shared>,
    address: String,
    worker: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for RedisCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCoordinator")
            .field("address", &self.address)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl Drop for RedisCoordinator {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

impl RedisCoordinator {
    /// A coordinator for the Redis at `url` (`redis://[user:password@]host:port[/db]`).
    ///
    /// Connecting happens in the background: this fails only for a URL that is not a
    /// Redis URL, a prefix that cannot be part of a key, or a call outside a tokio runtime.
    /// Until Redis answers, the clients work in-process.
    pub fn connect(url: &str, options: RedisOptions) -> Result<RedisCoordinator> {
        let config = |message: String| Error::Config {
            setting: "redis_url",
            message,
        };
        if !wire::usable_id(&options.prefix) {
            return Err(Error::Config {
                setting: "redis_prefix",
                message: format!(
                    "{:?} cannot prefix Redis keys: use 1-256 printable characters without spaces",
                    options.prefix
                ),
            });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            config("the Redis coordinator needs a tokio runtime: connect from inside one".into())
        })?;
        // Never echo the URL: it may hold a password.
        let info = url
            .into_connection_info()
            .map_err(|e| config(format!("not a Redis URL ({})", e.category())))?;
        let address = info.addr().to_string();
        let redis_settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(redis_settings))
            .map_err(|e| config(format!("not a usable Redis URL ({})", e.category())))?;

        let (outbox, jobs) = mpsc::channel(OUTBOX);
        let shared = Arc::new(Shared {
            keys: Keys::new(&options.prefix),
            id: crate::hex::to_hex(&fastrand::u128(..).to_le_bytes()),
            peers: Mutex::new(Vec::new()),
            connected: AtomicBool::new(false),
            outbox,
            dropped: AtomicU64::new(0),
        });
        let on_push = {
            let shared = Arc::downgrade(&shared);
            move |push: PushInfo| -> std::result::Result<(), ()> {
                match shared.upgrade() {
                    Some(shared) => {
                        shared.on_push(push);
                        Ok(())
                    }
                    None => Err(()),
                }
            }
        };
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1)
            .set_max_delay(options.heartbeat)
            .set_push_sender(on_push);
        let manager = {
            let _guard = runtime.enter();
            client
                .get_connection_manager_lazy(manager_config)
                .map_err(|e| config(format!("cannot set up the connection ({})", e.category())))?
        };
        let worker = runtime.spawn(worker::run(
            Arc::clone(&shared),
            manager,
            jobs,
            options.heartbeat,
            options.timeout,
        ));
        Ok(RedisCoordinator {
            shared,
            address,
            worker,
        })
    }

    /// Events that could not be queued for Redis because the queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    fn enqueue(&self, job: worker::Job) {
        if self.shared.outbox.try_send(job).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("redis coordination queue full; event not shared");
        }
    }
}

impl Coordinator for RedisCoordinator {
    fn publish(&self, event: CoordEvent) {
        // While Redis is down nothing could carry the event: drop it at once, rather than
        // sharing a stale pause or callback minutes later.
        if self.is_connected() {
            self.enqueue(worker::Job::Publish(event));
        }
    }

    fn attach(&self, peers: Peers) {
        lock(&self.shared.peers).push(peers.clone());
        // Read the shared pause and durations for it (now, or when Redis is reachable).
        self.enqueue(worker::Job::Seed(peers));
    }

    fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::SeqCst)
    }
}
