//! Many tasks stay cheap: no timer or tokio task per task.

use apipod_mock::MockServer;
use futures::StreamExt;
use serde_json::json;

use crate::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tasks_are_created_and_read() {
    const TASKS: usize = 10_000;
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let ids: Vec<String> = futures::stream::iter(0..TASKS)
        .map(|i| {
            let api = &api;
            async move {
                let kind = if i % 2 == 0 { "images" } else { "videos" };
                let body = if i % 2 == 0 {
                    json!({"model": "nano-banana-2", "prompt": format!("task {i}")})
                } else {
                    json!({"model": "seedance-2.0-fast-t2v", "prompt": format!("task {i}")})
                };
                api.create_ok(kind, &body).await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(server.tasks_created(), TASKS);
    // Lazy state: creating tasks started no per-task timers or tokio tasks.
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert!(alive < 200, "{alive} tokio tasks alive");

    let statuses: Vec<String> = futures::stream::iter(ids.iter())
        .map(|id| {
            let api = &api;
            async move {
                let kind = if id.starts_with("img_") {
                    "images"
                } else {
                    "videos"
                };
                let data = api.data(kind, id).await;
                assert_eq!(data["task_id"], id.as_str());
                data["status"].as_str().unwrap().to_string()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(statuses.len(), TASKS);
    assert!(
        statuses
            .iter()
            .all(|s| ["pending", "processing", "completed"].contains(&s.as_str()))
    );
    assert_eq!(server.log().len(), 2 * TASKS);
}

#[tokio::test]
async fn the_log_keeps_its_capacity_and_counts_every_request() {
    let server = MockServer::start_with(apipod_mock::MockConfig::fast().log_capacity(3)).await;
    let api = Api::new(&server);
    for i in 0..5 {
        let body = json!({"model": "nano-banana-2", "prompt": format!("task {i}")});
        api.create_ok("images", &body).await;
    }
    assert_eq!(server.log().len(), 3, "only the newest 3 are kept");
    assert_eq!(server.log().total(), 5, "all 5 are counted");
    server.log().clear();
    assert_eq!((server.log().len(), server.log().total()), (0, 0));
}
