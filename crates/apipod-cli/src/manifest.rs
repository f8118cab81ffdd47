//! The batch manifest: an append-only, fsynced JSON Lines log of each job's progress
//! (`batch`, `prepared`, `submitted`, `completed`, `failed`), folded per job on re-runs.
//! Also the request hash and the idempotency-key derivation that make re-runs
//! duplicate-free.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use apipod::TaskHandle;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::exit::{CliError, Code};

/// File name of the manifest inside `--out`.
pub const MANIFEST_FILE: &str = "manifest.jsonl";

/// SHA-256 of the body as canonical JSON (keys sorted at every level).
pub(crate) fn request_hash(body: &Map<String, Value>) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, canonical(v))).collect();
                let mut out = Map::new();
                for (k, v) in sorted {
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let text = canonical(&Value::Object(body.clone())).to_string();
    hex(&Sha256::digest(text.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The idempotency key of one attempt of one job: derived from the manifest's nonce, so it
/// is the same on every re-run of this batch and different from any other batch.
pub(crate) fn derive_key(nonce: &str, job: &str, hash: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{nonce}\n{job}\n{hash}\n{attempt}").as_bytes());
    format!("apipod-batch-{}", &hex(&digest)[..40])
}

/// One manifest line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Record {
    Batch {
        version: u32,
        nonce: String,
        created_at: u64,
    },
    Prepared {
        job: String,
        line: usize,
        model: String,
        request_sha256: String,
        idempotency_key: String,
        attempt: u32,
    },
    Submitted {
        job: String,
        task: TaskHandle,
        request_id: Option<String>,
        cost: Option<String>,
        replayed: bool,
    },
    Completed {
        job: String,
        task_id: String,
        files: Vec<String>,
        urls: Vec<String>,
    },
    Failed {
        job: String,
        task_id: Option<String>,
        exit_code: u8,
        task_failed: bool,
        error: String,
    },
}

/// What the manifest says about one job.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobState {
    pub(crate) request_sha256: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) attempt: u32,
    pub(crate) task: Option<TaskHandle>,
    pub(crate) completed: Option<(String, Vec<String>, Vec<String>)>,
    pub(crate) task_failed: Option<(Option<String>, String)>,
}

impl JobState {
    pub(crate) fn apply(&mut self, record: &Record) {
        match record {
            Record::Batch { .. } => {}
            Record::Prepared {
                request_sha256,
                idempotency_key,
                attempt,
                ..
            } => {
                *self = JobState {
                    request_sha256: Some(request_sha256.clone()),
                    key: Some(idempotency_key.clone()),
                    attempt: *attempt,
                    ..JobState::default()
                };
            }
            Record::Submitted { task, .. } => self.task = Some(task.clone()),
            Record::Completed {
                task_id,
                files,
                urls,
                ..
            } => self.completed = Some((task_id.clone(), files.clone(), urls.clone())),
            Record::Failed {
                task_id,
                task_failed: true,
                error,
                ..
            } => self.task_failed = Some((task_id.clone(), error.clone())),
            Record::Failed { .. } => {}
        }
    }
}

pub(crate) fn record_job(record: &Record) -> Option<&str> {
    match record {
        Record::Batch { .. } => None,
        Record::Prepared { job, .. }
        | Record::Submitted { job, .. }
        | Record::Completed { job, .. }
        | Record::Failed { job, .. } => Some(job),
    }
}

/// The append-only manifest file.
pub(crate) struct Manifest {
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<Mutex<File>>,
    pub(crate) nonce: String,
    pub(crate) jobs: HashMap<String, JobState>,
}

impl Manifest {
    /// Opens (or creates) `dir/manifest.jsonl` and folds its records. A torn last line, left
    /// by a crash in the middle of a write, is cut off.
    pub(crate) fn open(dir: &Path) -> Result<Manifest> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(MANIFEST_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut records = Vec::new();
        let mut good_len = 0usize;
        let mut offset = 0usize;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            offset += line.len();
            let content = line.trim();
            if content.is_empty() {
                good_len = offset;
                continue;
            }
            match serde_json::from_str::<Record>(content) {
                Ok(record) => {
                    records.push(record);
                    good_len = offset;
                }
                Err(e) if i + 1 == lines.len() => {
                    tracing::warn!(error = %e, "dropping the torn last line of the manifest");
                }
                Err(e) => {
                    return Err(CliError::new(
                        Code::Failure,
                        format!(
                            "{} line {} is not a manifest record: {e}",
                            path.display(),
                            i + 1
                        ),
                    )
                    .into());
                }
            }
        }
        if good_len < text.len() {
            file.set_len(good_len as u64)
                .with_context(|| format!("cannot repair {}", path.display()))?;
        }
        if good_len > 0 && !text[..good_len].ends_with('\n') {
            file.write_all(b"\n")?;
        }
        file.seek(SeekFrom::End(0))?;
        let nonce = match records.first() {
            Some(Record::Batch { nonce, .. }) => nonce.clone(),
            Some(_) => {
                return Err(CliError::new(
                    Code::Failure,
                    format!("{} does not start with a batch header", path.display()),
                )
                .into());
            }
            None => {
                let nonce = uuid::Uuid::new_v4().simple().to_string();
                let header = Record::Batch {
                    version: 1,
                    nonce: nonce.clone(),
                    created_at: SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs(),
                };
                let mut line = serde_json::to_vec(&header)?;
                line.push(b'\n');
                file.write_all(&line)?;
                file.sync_all()?;
                nonce
            }
        };
        let mut jobs: HashMap<String, JobState> = HashMap::new();
        for record in &records {
            if let Some(job) = record_job(record) {
                jobs.entry(job.to_string()).or_default().apply(record);
            }
        }
        Ok(Manifest {
            path,
            file: Arc::new(Mutex::new(file)),
            nonce,
            jobs,
        })
    }

    /// Appends a record and waits until it is on disk.
    pub(crate) async fn append(&self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let file = self.file.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let file = file.lock().expect("manifest lock");
            (&*file).write_all(&line)?;
            file.sync_data()
        })
        .await
        .context("manifest writer panicked")?
        .with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_key_order_and_keys_are_stable() {
        let a: Map<String, Value> =
            serde_json::from_str(r#"{"model": "m", "prompt": "p", "n": 2}"#).unwrap();
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"n": 2, "prompt": "p", "model": "m"}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        let k = derive_key("nonce", "job", &request_hash(&a), 0);
        assert_eq!(k, derive_key("nonce", "job", &request_hash(&a), 0));
        assert_ne!(k, derive_key("nonce", "job", &request_hash(&a), 1));
        assert_ne!(k, derive_key("other", "job", &request_hash(&a), 0));
        assert!(k.len() <= apipod::MAX_IDEMPOTENCY_KEY_LEN);
    }

    #[test]
    fn manifest_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let nonce = {
            let m = Manifest::open(dir.path()).unwrap();
            m.nonce.clone()
        };
        let path = dir.path().join(MANIFEST_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"event":"prepared","job":"j","line":1,"model":"seedream-v4.5","request_sha256":"h","idempotency_key":"k","attempt":0}"#);
        text.push('\n');
        text.push_str(r#"{"event":"submitted","job":"j","ta"#);
        std::fs::write(&path, text).unwrap();
        let m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.nonce, nonce);
        assert_eq!(m.jobs["j"].key.as_deref(), Some("k"));
        assert!(m.jobs["j"].task.is_none());
        let repaired = std::fs::read_to_string(&path).unwrap();
        assert!(repaired.ends_with("\"attempt\":0}\n"), "{repaired}");
    }
}
