//! What each job does on this run, from what the manifest recorded on earlier runs.

use apipod::TaskHandle;

use crate::cmd_batch::jobs::Job;
use crate::manifest::{JobState, derive_key};

/// What to do with a job on this run.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Already completed on an earlier run.
    Done {
        task_id: String,
        files: Vec<String>,
        urls: Vec<String>,
    },
    /// Its task failed on an earlier run (and `--retry-failed` was not given).
    Failed {
        task_id: Option<String>,
        error: String,
    },
    /// Submitted earlier: wait for it.
    Wait(TaskHandle),
    /// Submit with this key; `record` when the key is new and must be written first.
    Submit {
        key: String,
        attempt: u32,
        record: bool,
    },
}

impl Plan {
    /// True when an earlier run got this job started (or done).
    pub fn is_resumed(&self) -> bool {
        matches!(
            self,
            Plan::Wait(_) | Plan::Submit { record: false, .. } | Plan::Done { .. }
        )
    }
}

/// The plan of `job` given its manifest `state`.
pub fn plan_for(job: &Job, state: Option<&JobState>, nonce: &str, retry_failed: bool) -> Plan {
    let fresh = |attempt| Plan::Submit {
        key: derive_key(nonce, &job.name, &job.hash, attempt),
        attempt,
        record: true,
    };
    let Some(state) = state else {
        return fresh(0);
    };
    if let Some((task_id, files, urls)) = &state.completed {
        return Plan::Done {
            task_id: task_id.clone(),
            files: files.clone(),
            urls: urls.clone(),
        };
    }
    if let Some((task_id, error)) = &state.task_failed {
        return if retry_failed {
            fresh(state.attempt + 1)
        } else {
            Plan::Failed {
                task_id: task_id.clone(),
                error: error.clone(),
            }
        };
    }
    if let Some(task) = &state.task {
        return Plan::Wait(task.clone());
    }
    match &state.key {
        Some(key) => Plan::Submit {
            key: key.clone(),
            attempt: state.attempt,
            record: false,
        },
        None => fresh(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd_batch::jobs::parse_jobs;
    use crate::manifest::Record;

    fn job() -> Job {
        parse_jobs(br#"{"id": "j", "model": "seedream-v4.5", "prompt": "p"}"#)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn plans_follow_the_manifest() {
        let job = job();
        assert!(matches!(
            plan_for(&job, None, "n", false),
            Plan::Submit {
                record: true,
                attempt: 0,
                ..
            }
        ));
        let mut state = JobState::default();
        state.apply(&Record::Prepared {
            job: "j".into(),
            line: 1,
            model: "seedream-v4.5".into(),
            request_sha256: job.hash.clone(),
            idempotency_key: "k1".into(),
            attempt: 0,
        });
        match plan_for(&job, Some(&state), "n", false) {
            Plan::Submit {
                key, record: false, ..
            } => assert_eq!(key, "k1"),
            other => panic!("{other:?}"),
        }
        let handle = TaskHandle::from_id(apipod::TaskKind::Image, "img_1");
        state.apply(&Record::Submitted {
            job: "j".into(),
            task: handle.clone(),
            request_id: None,
            cost: None,
            replayed: false,
        });
        assert!(matches!(plan_for(&job, Some(&state), "n", false), Plan::Wait(h) if h == handle));
        // A timeout does not end the job: the next run waits again.
        state.apply(&Record::Failed {
            job: "j".into(),
            task_id: Some("img_1".into()),
            exit_code: 5,
            task_failed: false,
            error: "timed out".into(),
        });
        assert!(matches!(
            plan_for(&job, Some(&state), "n", false),
            Plan::Wait(_)
        ));
        let mut failed = state.clone();
        failed.apply(&Record::Failed {
            job: "j".into(),
            task_id: Some("img_1".into()),
            exit_code: 4,
            task_failed: true,
            error: "task img_1 failed".into(),
        });
        assert!(matches!(
            plan_for(&job, Some(&failed), "n", false),
            Plan::Failed { .. }
        ));
        assert!(matches!(
            plan_for(&job, Some(&failed), "n", true),
            Plan::Submit {
                record: true,
                attempt: 1,
                ..
            }
        ));
        state.apply(&Record::Completed {
            job: "j".into(),
            task_id: "img_1".into(),
            files: vec!["out/a.png".into()],
            urls: vec![],
        });
        assert!(matches!(
            plan_for(&job, Some(&state), "n", false),
            Plan::Done { .. }
        ));
    }
}
