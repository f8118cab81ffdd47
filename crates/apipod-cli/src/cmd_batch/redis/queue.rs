//! The batch's shared state in Redis: a stream of job entries read through one consumer
//! group, and hashes of finished jobs.
//!
//! Keys, under `{prefix}:batch:{batch id}:` (default prefix `apipod`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `jobs` | stream, group `workers` | one entry per job: `job` (its index in the file) and `name` |
//! | `total` | string | the number of jobs, written with the entries in one transaction |
//! | `loading` | string, 30 s TTL | the worker writing the entries |
//! | `done` | hash | job name → the worker that finished it |
//! | `failed` | hash | job name → the error |
//! | `workers` | hash | worker → when it last reported (Unix ms) |
//!
//! A job is claimed by reading its entry through the group. Its worker keeps the claim
//! fresh (`XCLAIM ... JUSTID` every third of `--reclaim-after`); an entry nobody refreshed
//! for `--reclaim-after` (its worker died) is taken over with `XAUTOCLAIM`. An entry is
//! acknowledged only after its job is recorded in `done` or `failed`.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamClaimOptions, StreamInfoConsumersReply,
    StreamInfoGroupsReply, StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, RedisResult, Value};

const GROUP: &str = "workers";
/// How long the loading worker holds the right to write the entries.
const LOADING_TTL: Duration = Duration::from_secs(30);

/// One claimed entry.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The stream entry id.
    pub entry: String,
    /// The job's index in the file (`None` for an entry this worker cannot read).
    pub job: Option<usize>,
}

/// Counts across all workers.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Jobs in the batch (`None` until loaded).
    pub total: Option<u64>,
    /// Jobs completed.
    pub done: u64,
    /// Jobs failed.
    pub failed: u64,
}

impl Progress {
    /// True when every job is done or failed.
    pub fn finished(&self) -> bool {
        self.total.is_some_and(|t| self.done + self.failed >= t)
    }
}

/// A worker's view of one batch.
pub struct Queue {
    conn: ConnectionManager,
    base: String,
    /// This worker's consumer name.
    pub worker: String,
}

impl Queue {
    /// The queue of batch `batch` under `prefix`, for `worker`.
    pub fn new(conn: ConnectionManager, prefix: &str, batch: &str, worker: String) -> Queue {
        Queue {
            conn,
            base: format!("{prefix}:batch:{batch}"),
            worker,
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.base)
    }

    /// Loads the entries unless some worker did (or is doing it). Returns true when the
    /// batch is loaded.
    pub async fn ensure_loaded(&mut self, names: &[String]) -> RedisResult<bool> {
        let total: Option<u64> = self.conn.get(self.key("total")).await?;
        if total.is_some() {
            return Ok(true);
        }
        let won: bool = redis::cmd("SET")
            .arg(self.key("loading"))
            .arg(&self.worker)
            .arg("NX")
            .arg("PX")
            .arg(LOADING_TTL.as_millis() as u64)
            .query_async::<Option<String>>(&mut self.conn)
            .await?
            .is_some();
        if !won {
            return Ok(false);
        }
        let jobs = self.key("jobs");
        // A stream left by an earlier, interrupted load is replaced, not appended to.
        let mut pipe = redis::pipe();
        pipe.atomic().del(&jobs).ignore();
        pipe.cmd("XGROUP")
            .arg("CREATE")
            .arg(&jobs)
            .arg(GROUP)
            .arg("$")
            .arg("MKSTREAM")
            .ignore();
        for (index, name) in names.iter().enumerate() {
            pipe.xadd(
                &jobs,
                "*",
                &[("job", index.to_string()), ("name", name.clone())],
            )
            .ignore();
        }
        pipe.set(self.key("total"), names.len()).ignore();
        pipe.query_async::<()>(&mut self.conn).await?;
        tracing::info!(jobs = names.len(), "loaded the batch into Redis");
        Ok(true)
    }

    /// Up to `count` entries: first those whose worker stopped refreshing them for
    /// `reclaim_after`, then new ones.
    pub async fn claim(
        &mut self,
        count: usize,
        reclaim_after: Duration,
    ) -> RedisResult<Vec<Claim>> {
        let jobs = self.key("jobs");
        let stolen: StreamAutoClaimReply = self
            .conn
            .xautoclaim_options(
                &jobs,
                GROUP,
                &self.worker,
                reclaim_after.as_millis() as u64,
                "0-0",
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        let mut claims: Vec<Claim> = stolen.claimed.into_iter().map(to_claim).collect();
        if !claims.is_empty() {
            tracing::info!(
                jobs = claims.len(),
                "reclaimed jobs of a worker that stopped"
            );
        }
        if claims.len() < count {
            let options = StreamReadOptions::default()
                .group(GROUP, &self.worker)
                .count(count - claims.len());
            let fresh: StreamReadReply =
                self.conn.xread_options(&[&jobs], &[">"], &options).await?;
            claims.extend(fresh.keys.into_iter().flat_map(|k| k.ids).map(to_claim));
        }
        Ok(claims)
    }

    /// Keeps this worker's claims on `entries` fresh, and says it is alive.
    pub async fn keep_alive(&mut self, entries: &[String]) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        if !entries.is_empty() {
            pipe.xclaim_options(
                self.key("jobs"),
                GROUP,
                &self.worker,
                0,
                entries,
                StreamClaimOptions::default().with_justid(),
            )
            .ignore();
        }
        pipe.hset(self.key("workers"), &self.worker, unix_ms())
            .ignore();
        pipe.query_async::<()>(&mut self.conn).await
    }

    /// True when some worker already recorded `name` as done or failed.
    pub async fn is_finished(&mut self, name: &str) -> RedisResult<bool> {
        let (done, failed): (bool, bool) = redis::pipe()
            .hexists(self.key("done"), name)
            .hexists(self.key("failed"), name)
            .query_async(&mut self.conn)
            .await?;
        Ok(done || failed)
    }

    /// Records how job `name` ended and acknowledges its entry.
    pub async fn finish(
        &mut self,
        entry: &str,
        name: &str,
        error: Option<&str>,
    ) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        match error {
            None => pipe
                .hset(self.key("done"), name, &self.worker)
                .ignore()
                .hdel(self.key("failed"), name)
                .ignore(),
            Some(error) => pipe.hset(self.key("failed"), name, error).ignore(),
        };
        pipe.xack(self.key("jobs"), GROUP, &[entry]).ignore();
        pipe.query_async::<()>(&mut self.conn).await
    }

    /// Acknowledges an entry whose job needs nothing more.
    pub async fn skip(&mut self, entry: &str) -> RedisResult<()> {
        self.conn
            .xack::<_, _, _, ()>(self.key("jobs"), GROUP, &[entry])
            .await
    }

    /// Counts across all workers.
    pub async fn progress(&mut self) -> RedisResult<Progress> {
        let (total, done, failed): (Option<u64>, u64, u64) = redis::pipe()
            .get(self.key("total"))
            .hlen(self.key("done"))
            .hlen(self.key("failed"))
            .query_async(&mut self.conn)
            .await?;
        Ok(Progress {
            total,
            done,
            failed,
        })
    }

    /// Everything `--status` shows.
    pub async fn status(&mut self) -> RedisResult<Status> {
        let progress = self.progress().await?;
        let jobs = self.key("jobs");
        let mut status = Status {
            progress,
            ..Status::default()
        };
        let exists: bool = self.conn.exists(&jobs).await?;
        if exists {
            let groups: StreamInfoGroupsReply = self.conn.xinfo_groups(&jobs).await?;
            if let Some(group) = groups.groups.iter().find(|g| g.name == GROUP) {
                status.waiting = group.lag;
                status.in_progress = group.pending;
            }
            let consumers: StreamInfoConsumersReply =
                self.conn.xinfo_consumers(&jobs, GROUP).await?;
            status.consumers = consumers
                .consumers
                .into_iter()
                .map(|c| (c.name, c.pending, c.idle))
                .collect();
        }
        status.last_seen = self.conn.hgetall(self.key("workers")).await?;
        status.failures = self.conn.hgetall(self.key("failed")).await?;
        Ok(status)
    }
}

/// What `--status` prints.
#[derive(Debug, Default)]
pub struct Status {
    /// Done, failed, total.
    pub progress: Progress,
    /// Entries not yet handed to any worker.
    pub waiting: Option<usize>,
    /// Entries held by a worker.
    pub in_progress: usize,
    /// (worker, entries held, ms since it last touched the stream).
    pub consumers: Vec<(String, usize, usize)>,
    /// Worker → last report (Unix ms).
    pub last_seen: HashMap<String, u64>,
    /// Job → error.
    pub failures: HashMap<String, String>,
}

fn to_claim(id: redis::streams::StreamId) -> Claim {
    let job = match id.map.get("job") {
        Some(Value::BulkString(bytes)) => {
            std::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok())
        }
        Some(Value::SimpleString(s)) => s.parse().ok(),
        _ => None,
    };
    Claim { entry: id.id, job }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
