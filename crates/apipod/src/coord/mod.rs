//! Coordination between replicas: what one process learns that the others should know.
//!
//! A client keeps three things in process: the [`CallbackHub`] that wakes waits when a
//! callback arrives, the pause that follows a 429, and (with a learning
//! [`PollPolicy`]) how long each model's tasks take. With several replicas of a service
//! behind a load balancer, each replica only sees its own share of these. A
//! [`Coordinator`] carries them across:
//!
//! * a callback received by one replica wakes the waits on that task on every replica;
//! * a 429 with `Retry-After` seen by one replica pauses submits on all of them (for the
//!   same API key: the pause is keyed by a [`KeyHash`], never by the key);
//! * task durations learned on one replica reach the others, so a new replica polls as
//!   efficiently as an old one.
//!
//! The default, [`InProcess`], shares nothing beyond the client and needs no dependency.
//! With the `redis` feature, `RedisCoordinator` (in `coord::redis`) shares them through Redis, and falls back to
//! in-process behaviour whenever Redis cannot be reached: no submit or wait ever fails
//! because of coordination.
//!
//! ```
//! use std::sync::Arc;
//! use apipod::coord::{Coordinator, InProcess};
//!
//! let client = apipod::Client::builder()
//!     .api_key("sk-test")
//!     .coordinator(Arc::new(InProcess))
//!     .build()
//!     .unwrap();
//! assert!(client.coordinator().is_connected());
//! ```

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::callback::hub::CallbackHub;
use crate::poll::PollPolicy;
use crate::retry::RateGate;

#[cfg(feature = "redis")]
pub mod redis;

/// A hash naming an API key in shared state: SHA-256 of a fixed domain label and the key,
/// 32 hex characters. Replicas using the same key share a 429 pause; the key itself is
/// never stored or sent anywhere but to APIPod.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    /// The hash of `api_key`.
    ///
    /// ```
    /// use apipod::coord::KeyHash;
    /// let a = KeyHash::of("sk-one");
    /// assert_eq!(a.as_str().len(), 32);
    /// assert_eq!(a, KeyHash::of("sk-one"));
    /// assert_ne!(a, KeyHash::of("sk-two"));
    /// assert!(!a.as_str().contains("sk-one"));
    /// ```
    pub fn of(api_key: &str) -> KeyHash {
        let digest = Sha256::new()
            .chain_update(b"apipod-rs/rate-limit-key/v1\0")
            .chain_update(api_key.as_bytes())
            .finalize();
        KeyHash(crate::hex::to_hex(&digest[..16]))
    }

    /// A hash received from another replica (32 lowercase hex characters), or `None`.
    pub fn parse(text: &str) -> Option<KeyHash> {
        (text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| KeyHash(text.to_string()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", &self.0[..8.min(self.0.len())])
    }
}

/// Something one replica learned that the others should know.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CoordEvent {
    /// A callback for this task arrived on a verified route: waits on it re-read its
    /// status now (the callback body is never trusted).
    CallbackReceived {
        /// The task the callback names.
        task_id: String,
    },
    /// APIPod answered 429: pause submits made with this key for `pause`.
    RateLimited {
        /// The API key's hash.
        key: KeyHash,
        /// How long to pause, from when the event is received.
        pause: Duration,
    },
    /// A task of `model` took `duration` from submit to completion.
    TaskDuration {
        /// The model id.
        model: String,
        /// Submit to completion.
        duration: Duration,
    },
}

/// Carries [`CoordEvent`]s between the replicas of a service.
///
/// A coordinator must never block or fail its caller: [`publish`](Self::publish) is best
/// effort, and a coordinator that cannot reach its peers says so through
/// [`is_connected`](Self::is_connected) while the clients keep working on their own.
pub trait Coordinator: Send + Sync + fmt::Debug + 'static {
    /// Shares an event of this replica with the others (not with itself).
    fn publish(&self, event: CoordEvent);

    /// Delivers the other replicas' events to a client's [`Peers`] from now on, for as
    /// long as that client lives.
    fn attach(&self, peers: Peers);

    /// True while events reach the other replicas. A wait that expects a callback polls
    /// slowly only while this holds, since a callback received elsewhere could not wake it
    /// otherwise.
    fn is_connected(&self) -> bool {
        true
    }
}

/// The default coordinator: nothing leaves the process. Clones of a client share their
/// callback hub, rate-limit gate and poll policy, as before coordination existed.
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcess;

impl Coordinator for InProcess {
    fn publish(&self, _event: CoordEvent) {}

    fn attach(&self, _peers: Peers) {}
}

/// What a coordinator delivers events into: one client's callback hub, rate-limit gate
/// and poll policy. It holds the gate weakly, so a coordinator that outlives the client
/// learns from [`apply`](Self::apply) that the client is gone and can forget it.
#[derive(Clone)]
pub struct Peers {
    key: KeyHash,
    gate: Weak<RateGate>,
    hub: Option<CallbackHub>,
    poll: PollPolicy,
}

impl fmt::Debug for Peers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peers")
            .field("key", &self.key)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl Peers {
    pub(crate) fn new(
        key: KeyHash,
        gate: &Arc<RateGate>,
        hub: Option<CallbackHub>,
        poll: PollPolicy,
    ) -> Self {
        Peers {
            key,
            gate: Arc::downgrade(gate),
            hub,
            poll,
        }
    }

    /// The hash of the client's API key.
    pub fn key(&self) -> &KeyHash {
        &self.key
    }

    /// True while the client (or a clone of it) exists.
    pub fn is_alive(&self) -> bool {
        self.gate.strong_count() > 0
    }

    /// Applies another replica's event to the client. Returns false when the client is
    /// gone (the coordinator should then drop these peers).
    pub fn apply(&self, event: &CoordEvent) -> bool {
        let Some(gate) = self.gate.upgrade() else {
            return false;
        };
        match event {
            CoordEvent::CallbackReceived { task_id } => {
                if let Some(hub) = &self.hub {
                    hub.notify(task_id);
                }
            }
            CoordEvent::RateLimited { key, pause } if *key == self.key => gate.pause_for(*pause),
            CoordEvent::RateLimited { .. } => {}
            CoordEvent::TaskDuration { model, duration } => self.poll.observe(model, *duration),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poll::AdaptivePollPolicy;

    #[tokio::test(start_paused = true)]
    async fn peers_apply_events_to_their_client_only() {
        let gate = Arc::new(RateGate::default());
        let hub = CallbackHub::new();
        let learner = Arc::new(AdaptivePollPolicy::default());
        let peers = Peers::new(
            KeyHash::of("k"),
            &gate,
            Some(hub.clone()),
            PollPolicy::Adaptive(learner.clone()),
        );
        let mut sub = hub.subscribe("t1");
        assert!(peers.apply(&CoordEvent::CallbackReceived {
            task_id: "t1".into()
        }));
        sub.changed().await;
        peers.apply(&CoordEvent::RateLimited {
            key: KeyHash::of("other"),
            pause: Duration::from_secs(5),
        });
        assert_eq!(gate.remaining(), None);
        peers.apply(&CoordEvent::RateLimited {
            key: KeyHash::of("k"),
            pause: Duration::from_secs(5),
        });
        assert!(gate.remaining().is_some());
        for _ in 0..20 {
            peers.apply(&CoordEvent::TaskDuration {
                model: "m".into(),
                duration: Duration::from_secs(100),
            });
        }
        assert_eq!(learner.dead_zone("m"), Some(Duration::from_secs(90)));
        drop(gate);
        assert!(!peers.is_alive());
        assert!(!peers.apply(&CoordEvent::CallbackReceived {
            task_id: "t1".into()
        }));
    }

    #[test]
    fn key_hashes_parse_and_hide_the_key() {
        let h = KeyHash::of("sk-secret");
        assert_eq!(KeyHash::parse(h.as_str()), Some(h.clone()));
        assert_eq!(KeyHash::parse("zz"), None);
        assert!(!format!("{h:?}").contains(h.as_str()));
    }
}
