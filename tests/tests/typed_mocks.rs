//! progenitor's typed httpmock helpers (`apipod_raw::mock::MockServerExt`, feature `mock`)
//! work against the generated client, one test per operation plus typed error answers.
//! These are the helpers users of `apipod-raw` get for their own tests.

use apipod_raw::mock::MockServerExt;
use apipod_raw::{ApiKey, Client, ClientState, TaskStatus, contract, types};
use httpmock::MockServer;
use serde_json::json;

fn client(server: &MockServer) -> Client {
    Client::new(
        &server.base_url(),
        ClientState::new(ApiKey::new("sk-typed-mock-key")),
    )
}

fn image_request(id: &str) -> types::ImageGenerationRequest {
    let model = contract::find(id).unwrap();
    serde_json::from_value(apipod_tests::model_example(model).clone()).unwrap()
}

fn video_request(id: &str) -> types::VideoGenerationRequest {
    let model = contract::find(id).unwrap();
    serde_json::from_value(apipod_tests::model_example(model).clone()).unwrap()
}

fn submitted(task_id: &str) -> types::SubmitTaskResponse {
    types::SubmitTaskResponse {
        code: 200,
        message: "success".into(),
        data: types::SubmitTaskData {
            task_id: Some(task_id.into()),
            ..Default::default()
        },
    }
}

fn rate_limited() -> types::ErrorResponse {
    types::ErrorResponse {
        code: Some(429),
        message: Some("Rate limit exceeded".into()),
        data: Some(types::ErrorData {
            type_: Some("rate_limit_error".into()),
            error_code: Some("rate_limit_exceeded".into()),
        }),
        error: None,
    }
}

/// Status and decoded `ErrorResponse` body of an `Error::UnexpectedResponse`.
async fn error_body(error: apipod_raw::Error) -> (u16, types::ErrorResponse) {
    let apipod_raw::Error::UnexpectedResponse(response) = error else {
        panic!("error responses are untyped; got {error:?}");
    };
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).expect("an ErrorResponse body"),
    )
}

#[tokio::test]
async fn create_image_generation_with_key_and_body() {
    let server = MockServer::start_async().await;
    let body = image_request("seedream-v4.5-edit");
    let key: types::CreateImageGenerationIdempotencyKey = "typed-img-01JEXAMPLE".parse().unwrap();
    let mock = server.create_image_generation(|when, then| {
        when.idempotency_key(&key).body(&body);
        then.ok(&submitted("img_task_01JEXAMPLE"));
    });
    let result = client(&server)
        .create_image_generation(Some(&key), &body)
        .await;
    mock.assert_async().await;
    assert_eq!(
        result.unwrap().into_inner(),
        submitted("img_task_01JEXAMPLE")
    );
}

#[tokio::test]
async fn create_video_generation_without_key() {
    let server = MockServer::start_async().await;
    let body = video_request("seedance-2.0-fast-r2v");
    let mock = server.create_video_generation(|when, then| {
        when.idempotency_key(None).body(&body);
        then.ok(&submitted("vid_task_01JEXAMPLE"));
    });
    let result = client(&server).create_video_generation(None, &body).await;
    mock.assert_async().await;
    assert_eq!(
        result.unwrap().data.task_id.as_deref(),
        Some("vid_task_01JEXAMPLE")
    );
}

#[tokio::test]
async fn typed_body_matching_is_exact() {
    let server = MockServer::start_async().await;
    let expected = image_request("wan2.7-image");
    let mock = server.create_image_generation(|when, then| {
        when.body(&expected);
        then.ok(&submitted("never"));
    });
    let mut other = apipod_tests::model_example(contract::find("wan2.7-image").unwrap()).clone();
    other["n"] = json!(2);
    let other: types::ImageGenerationRequest = serde_json::from_value(other).unwrap();
    let error = client(&server)
        .create_image_generation(None, &other)
        .await
        .unwrap_err();
    assert_eq!(
        error.status().map(|s| s.as_u16()),
        Some(404),
        "httpmock's answer to an unmatched request"
    );
    assert_eq!(mock.calls_async().await, 0);
}

#[tokio::test]
async fn get_image_task_completed() {
    let server = MockServer::start_async().await;
    let state: types::TaskStatusResponse = serde_json::from_value(
        apipod_tests::example_of("TaskStatusResponse")
            .unwrap()
            .clone(),
    )
    .unwrap();
    let mock = server.get_image_task(|when, then| {
        when.task_id("img_task_01JEXAMPLE");
        then.ok(&state);
    });
    let result = client(&server).get_image_task("img_task_01JEXAMPLE").await;
    mock.assert_async().await;
    let task = result.unwrap().into_inner().data;
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(
        task.result,
        Some(types::TaskResult::Array(vec![
            "https://cdn.example.com/generated.png".into()
        ]))
    );
    assert_eq!(task.completed_at, Some(1_786_358_400));
}

#[tokio::test]
async fn get_video_task_veo_result() {
    let server = MockServer::start_async().await;
    let state = types::TaskStatusResponse {
        code: 200,
        message: "success".into(),
        data: types::TaskDetail {
            task_id: "vid_task_01JEXAMPLE".into(),
            status: TaskStatus::Completed,
            progress: Some(100),
            result: Some(types::TaskResult::VeoVideoResult(types::VeoVideoResult {
                url: "https://cdn.example.com/generated.mp4".into(),
                width: Some(1920),
                height: Some(1080),
                duration: Some(8.0),
            })),
            completed_at: Some(1_786_358_400),
            error: None,
            error_code: None,
            error_message: None,
        },
    };
    let mock = server.get_video_task(|when, then| {
        when.task_id("vid_task_01JEXAMPLE");
        then.ok(&state);
    });
    let other = server.get_video_task(|when, then| {
        when.task_id("vid_task_other");
        then.ok(&types::TaskStatusResponse {
            data: types::TaskDetail {
                task_id: "vid_task_other".into(),
                status: TaskStatus::Pending,
                result: None,
                ..state.data.clone()
            },
            ..state.clone()
        });
    });
    let result = client(&server).get_video_task("vid_task_01JEXAMPLE").await;
    mock.assert_async().await;
    assert_eq!(other.calls_async().await, 0, "the task id selects the mock");
    assert_eq!(result.unwrap().into_inner(), state);
}

#[tokio::test]
async fn typed_client_error_on_create() {
    let server = MockServer::start_async().await;
    let body = video_request("veo3-1-fast");
    let mock = server.create_video_generation(|when, then| {
        when.body(&body);
        then.client_error(429, &rate_limited());
    });
    let error = client(&server)
        .create_video_generation(None, &body)
        .await
        .unwrap_err();
    mock.assert_async().await;
    assert_eq!(error_body(error).await, (429, rate_limited()));
}

#[tokio::test]
async fn typed_server_error_on_status_read() {
    let server = MockServer::start_async().await;
    let unavailable = types::ErrorResponse {
        code: Some(503),
        message: Some("Service unavailable".into()),
        data: Some(types::ErrorData {
            type_: None,
            error_code: Some("idempotency_unavailable".into()),
        }),
        error: None,
    };
    let mock = server.get_image_task(|when, then| {
        when.task_id("img-503");
        then.server_error(503, &unavailable);
    });
    let error = client(&server).get_image_task("img-503").await.unwrap_err();
    mock.assert_async().await;
    assert_eq!(error_body(error).await, (503, unavailable));
}
