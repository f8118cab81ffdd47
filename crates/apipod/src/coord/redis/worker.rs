//! The coordinator's one background task: every Redis operation happens here, bounded by
//! a timeout, so no submit or wait ever waits on Redis.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::Shared;
use super::wire::{self, DURATIONS_KEPT, MAX_MODELS};
use crate::coord::{CoordEvent, Peers};

/// Work for the background task.
pub(super) enum Job {
    /// Share an event of this replica.
    Publish(CoordEvent),
    /// Give a newly attached client the shared pause and the learned durations.
    Seed(Peers),
}

/// Runs until the coordinator is dropped (it aborts this task) or its queue closes.
pub(super) async fn run(
    shared: Arc<Shared>,
    mut manager: ConnectionManager,
    mut jobs: mpsc::Receiver<Job>,
    heartbeat: Duration,
    timeout: Duration,
) {
    let mut tick = tokio::time::interval(heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Clients attached while Redis was unreachable, seeded once it is back.
    let mut unseeded: Vec<Peers> = Vec::new();
    loop {
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { return };
                let connected = shared.connected.load(std::sync::atomic::Ordering::SeqCst);
                let outcome = match job {
                    Job::Publish(event) if connected => {
                        bounded(timeout, publish(&shared, &mut manager, &event)).await
                    }
                    Job::Publish(_) => Ok(()),
                    Job::Seed(peers) if connected => {
                        let outcome = bounded(timeout, seed(&shared, &mut manager, &peers)).await;
                        if outcome.is_err() {
                            unseeded.push(peers);
                        }
                        outcome
                    }
                    Job::Seed(peers) => {
                        unseeded.push(peers);
                        Ok(())
                    }
                };
                if let Err(e) = outcome {
                    shared.set_connected(false, &e);
                }
            }
            _ = tick.tick() => {
                let was = shared.connected.load(std::sync::atomic::Ordering::SeqCst);
                match bounded(timeout, ping(&mut manager)).await {
                    Ok(()) if !was => {
                        match bounded(timeout, rejoin(&shared, &mut manager, &mut unseeded)).await {
                            Ok(()) => shared.set_connected(true, &"connected"),
                            Err(e) => tracing::debug!(error = %e, "redis coordination not ready yet"),
                        }
                    }
                    Ok(()) => {}
                    Err(e) => shared.set_connected(false, &e),
                }
            }
        }
    }
}

/// An operation's error, or its timeout, as text for the logs (never a URL or password:
/// the redis crate's errors name the command and the server's answer).
async fn bounded<F>(timeout: Duration, op: F) -> Result<(), String>
where
    F: std::future::Future<Output = redis::RedisResult<()>>,
{
    match tokio::time::timeout(timeout, op).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{} error", e.category())),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

async fn ping(manager: &mut ConnectionManager) -> redis::RedisResult<()> {
    let _: String = redis::cmd("PING").query_async(manager).await?;
    Ok(())
}

/// After (re)connecting: subscribe again (a restarted Redis knows no subscription), and
/// re-read the shared pause for every client and the durations for new ones.
async fn rejoin(
    shared: &Shared,
    manager: &mut ConnectionManager,
    unseeded: &mut Vec<Peers>,
) -> redis::RedisResult<()> {
    manager.subscribe(shared.keys.events()).await?;
    for peers in shared.live_peers() {
        read_pause(shared, manager, &peers).await?;
    }
    unseeded.retain(Peers::is_alive);
    while let Some(peers) = unseeded.last() {
        read_durations(shared, manager, peers).await?;
        unseeded.pop();
    }
    Ok(())
}

async fn seed(
    shared: &Shared,
    manager: &mut ConnectionManager,
    peers: &Peers,
) -> redis::RedisResult<()> {
    read_pause(shared, manager, peers).await?;
    read_durations(shared, manager, peers).await
}

async fn read_pause(
    shared: &Shared,
    manager: &mut ConnectionManager,
    peers: &Peers,
) -> redis::RedisResult<()> {
    let left: i64 = manager.pttl(shared.keys.pause(peers.key())).await?;
    if let Ok(ms @ 1..) = u64::try_from(left) {
        peers.apply(&CoordEvent::RateLimited {
            key: peers.key().clone(),
            pause: Duration::from_millis(ms),
        });
    }
    Ok(())
}

async fn read_durations(
    shared: &Shared,
    manager: &mut ConnectionManager,
    peers: &Peers,
) -> redis::RedisResult<()> {
    let models: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg(shared.keys.models())
        .arg(MAX_MODELS)
        .query_async(manager)
        .await?;
    for model in models.into_iter().filter(|m| wire::usable_id(m)) {
        let newest_first: Vec<String> = manager
            .lrange(shared.keys.durations(&model), 0, DURATIONS_KEPT - 1)
            .await?;
        for seconds in newest_first.iter().rev() {
            if let Some(duration) = seconds.parse().ok().and_then(wire::duration_from_secs) {
                peers.apply(&CoordEvent::TaskDuration {
                    model: model.clone(),
                    duration,
                });
            }
        }
    }
    Ok(())
}

/// Writes an event: the message for the replicas listening now, and the keys for the
/// ones that start later.
async fn publish(
    shared: &Shared,
    manager: &mut ConnectionManager,
    event: &CoordEvent,
) -> redis::RedisResult<()> {
    let Some(message) = wire::encode(&shared.id, event) else {
        return Ok(());
    };
    let mut pipe = redis::pipe();
    match event {
        CoordEvent::RateLimited { key, pause } => {
            let ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX).max(1);
            let key = shared.keys.pause(key);
            // Create the key, or lengthen (never shorten) the pause it holds.
            pipe.cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("PX")
                .arg(ms)
                .arg("NX")
                .ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(ms).arg("GT").ignore();
        }
        CoordEvent::TaskDuration { model, duration } => {
            let list = shared.keys.durations(model);
            pipe.lpush(&list, duration.as_secs_f64()).ignore();
            pipe.ltrim(&list, 0, DURATIONS_KEPT - 1).ignore();
            pipe.sadd(shared.keys.models(), model).ignore();
        }
        _ => {}
    }
    pipe.publish(shared.keys.events(), message).ignore();
    pipe.query_async::<()>(manager).await
}
