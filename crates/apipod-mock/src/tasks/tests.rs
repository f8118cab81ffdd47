//! Tests of the task store and of task plans.

use super::*;
use apipod_raw::contract::find;
use serde_json::json;

#[test]
fn reserved_room_exists_before_the_first_task() {
    let store = TaskStore::with_capacity(10_000);
    assert!(store.tasks.lock().unwrap().capacity() >= 10_000);
    assert_eq!(TaskStore::default().tasks.lock().unwrap().capacity(), 0);
}

fn task_with(plan: Plan) -> Task {
    Task {
        id: "img_x".into(),
        kind: TaskKind::Image,
        model: "nano-banana-2",
        owner: "k".into(),
        request_id: "req_x".into(),
        created: Instant::now(),
        created_wall: SystemTime::now(),
        plan,
        files: vec![],
        callback_url: None,
    }
}

#[test]
fn phases_follow_age() {
    let task = task_with(Plan {
        pending: Duration::from_secs(1),
        processing: Duration::from_secs(4),
        finalizing: Duration::from_secs(2),
        outcome: Outcome::Cancel,
    });
    let at = |ms: u64| task.phase_at(task.created + Duration::from_millis(ms));
    assert_eq!(at(0), Phase::Pending);
    assert_eq!(at(999), Phase::Pending);
    assert_eq!(at(1000), Phase::Processing { progress: 0 });
    assert_eq!(at(3000), Phase::Processing { progress: 50 });
    assert_eq!(at(4999), Phase::Processing { progress: 99 });
    assert_eq!(at(5000), Phase::Finalizing);
    assert_eq!(at(7000), Phase::Cancelled);
    assert_eq!(task.terminal_after(), Some(Duration::from_secs(7)));
}

#[test]
fn stuck_tasks_never_end() {
    let task = task_with(Plan {
        pending: Duration::ZERO,
        processing: Duration::from_secs(1),
        finalizing: Duration::ZERO,
        outcome: Outcome::Never,
    });
    let later = task.created + Duration::from_secs(1_000_000);
    assert_eq!(task.phase_at(later), Phase::Processing { progress: 99 });
    assert_eq!(task.terminal_after(), None);
}

#[test]
fn markers_pick_outcomes() {
    let model = find("seedream-v4.5").unwrap();
    let config = MockConfig::fast();
    let faults = FaultConfig::new();
    let outcome = |prompt: &str| plan(model, prompt, &config, &faults, 0).outcome;
    assert_eq!(outcome("plain"), Outcome::Complete);
    assert_eq!(outcome("x [mock:cancel]"), Outcome::Cancel);
    assert_eq!(outcome("[mock:stuck] y"), Outcome::Never);
    assert!(
        matches!(outcome("[mock:fail]"), Outcome::Fail { code, .. } if code == DEFAULT_FAILURE_CODE)
    );
    assert!(
        matches!(outcome("[mock:fail=CONTENT_POLICY]"), Outcome::Fail { code, .. } if code == "CONTENT_POLICY")
    );
    let p = plan(model, "[mock:unknown-status]", &config, &faults, 0);
    assert_eq!(p.finalizing, p.processing);
}

#[test]
fn outcome_rates_are_seeded() {
    let model = find("seedream-v4.5").unwrap();
    let config = MockConfig::fast().seed(11);
    let faults = FaultConfig::new().task_failure_rate(0.5);
    let outcomes: Vec<_> = (0..400)
        .map(|seq| plan(model, "p", &config, &faults, seq).outcome)
        .collect();
    let again: Vec<_> = (0..400)
        .map(|seq| plan(model, "p", &config, &faults, seq).outcome)
        .collect();
    assert_eq!(outcomes, again);
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Fail { .. }))
        .count();
    assert!((150..250).contains(&failed), "{failed}");
}

#[test]
fn realistic_durations_stay_in_range() {
    for seq in 0..200 {
        for model in apipod_raw::contract::MODELS {
            let ((q0, q1), (r0, r1)) = realistic_ranges(model);
            let (p, r) = realistic_durations(model, 5, seq);
            let (p, r) = (p.as_secs_f64(), r.as_secs_f64());
            assert!((q0..=q1).contains(&p), "{}: {p}", model.id);
            assert!((r0..=r1).contains(&r), "{}: {r}", model.id);
        }
    }
    let m = &apipod_raw::contract::MODELS[0];
    assert_eq!(realistic_durations(m, 1, 7), realistic_durations(m, 1, 7));
}

#[test]
fn cost_per_model_and_units() {
    let c = |body: Value| {
        cost(
            find(body["model"].as_str().unwrap()).unwrap(),
            body.as_object().unwrap(),
        )
    };
    assert_eq!(c(json!({"model": "nano-banana-2"})), "0.0400");
    assert_eq!(c(json!({"model": "wan2.7-image", "n": 3})), "0.0900");
    assert_eq!(c(json!({"model": "seedance-2.0-t2v"})), "0.5000");
    assert_eq!(
        c(json!({"model": "seedance-2.0-fast-t2v", "duration": 10})),
        "0.6000"
    );
}
