//! The task endpoints: `POST /v1/{images,videos}/generations` (validated against the
//! model's contract, idempotent, with injected faults) and
//! `GET /v1/{images,videos}/status/{task_id}`.

use std::convert::identity;
use std::sync::Arc;

use apipod_raw::TaskStatus;
use apipod_raw::contract::{self, TaskKind};
use apipod_raw::types::{SubmitTaskData, SubmitTaskResponse, TaskStatusResponse};
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tokio::time::Instant;

use crate::callbacks;
use crate::faults::{Fault, Op, RequestFaults, pause};
use crate::handlers::observe::RequestId;
use crate::idempotency::{self, Begin, StoredResponse};
use crate::responses::{
    IDEMPOTENCY_KEY, LogInfo, X_IDEMPOTENT_REPLAY, X_REQUEST_COST, auth_error, business_error,
    dropped_connection, envelope_error, injected_error, invalid_request, json_bytes, json_response,
    malformed_body, task_not_found, with_info, with_retry_after,
};
use crate::state::{Shared, authenticate};
use crate::tasks::{self, NewTask};

// ---------------------------------------------------------------- create

pub(crate) async fn create_image(
    State(shared): State<Arc<Shared>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(shared, TaskKind::Image, request_id, headers, body).await
}

pub(crate) async fn create_video(
    State(shared): State<Arc<Shared>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(shared, TaskKind::Video, request_id, headers, body).await
}

async fn create(
    shared: Arc<Shared>,
    kind: TaskKind,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut info = LogInfo {
        idempotency_key: headers
            .get(IDEMPOTENCY_KEY)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ..LogInfo::default()
    };
    let response = create_inner(&shared, kind, &request_id.0, &headers, &body, &mut info)
        .await
        .unwrap_or_else(identity);
    with_info(response, info)
}

async fn create_inner(
    shared: &Arc<Shared>,
    kind: TaskKind,
    request_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    info: &mut LogInfo,
) -> Result<Response, Response> {
    let api_key = authenticate(shared, headers).ok_or_else(auth_error)?;
    let asked = RequestFaults::from_headers(headers).map_err(invalid_request)?;
    let decision = shared.faults().draw(Op::Create);
    let fault = asked.fault.or(decision.fault);
    let latency = decision.latency + asked.latency;
    if let Some(f) = &fault {
        info.fault = Some(f.label());
    }
    if fault.is_none() && !shared.admit_create(&api_key) {
        info.fault = Some("rate-limit".into());
        return Err(injected_error(429, 1));
    }
    match fault {
        Some(Fault::Http(status)) => {
            pause(latency).await;
            return Err(injected_error(status, decision.retry_after));
        }
        Some(Fault::BusinessError(code)) => {
            pause(latency).await;
            return Err(business_error(code, Op::Create));
        }
        _ => {}
    }

    let idempotency_key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(raw) => Some(idempotency::check_key(raw.as_bytes()).map_err(|message| {
            envelope_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_idempotency_key",
                message,
            )
        })?),
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid_request(format!("the request body is not valid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(invalid_request("the request body must be a JSON object"));
    };
    let model_id = match object.get("model") {
        Some(Value::String(m)) => m.clone(),
        Some(other) => {
            return Err(invalid_request(format!(
                "`model` must be a string, got {other}"
            )));
        }
        None => return Err(invalid_request("`model` is required")),
    };
    info.model = Some(model_id.clone());
    let route = match kind {
        TaskKind::Image => "POST /v1/images/generations",
        TaskKind::Video => "POST /v1/videos/generations",
    };
    let contract = match contract::find(&model_id) {
        Some(c) if c.kind == kind => c,
        Some(c) => {
            return Err(envelope_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_available",
                format!(
                    "model {model_id:?} is a{} {} model and is not available on {route}",
                    if c.kind == TaskKind::Image { "n" } else { "" },
                    c.kind
                ),
            ));
        }
        None => {
            return Err(envelope_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_available",
                format!("model {model_id:?} is not available"),
            ));
        }
    };
    let violations = contract.validate(object);
    if !violations.is_empty() {
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        return Err(invalid_request(text.join("; ")));
    }

    let reservation = match &idempotency_key {
        None => None,
        Some(key) => match shared.idempotency.begin(&api_key, route, key, &value) {
            Begin::Fresh(reservation) => Some(reservation),
            Begin::Replay(stored) => {
                info.replay = true;
                info.task_id = Some(stored.task_id.clone());
                pause(latency).await;
                return Ok(answer_create(&stored, true, fault.as_ref()));
            }
            Begin::Conflict => {
                return Err(envelope_error(
                    StatusCode::CONFLICT,
                    "invalid_request_error",
                    "idempotency_conflict",
                    "Idempotency-Key was already used with a different request body",
                ));
            }
            Begin::InProgress => {
                return Err(with_retry_after(
                    envelope_error(
                        StatusCode::CONFLICT,
                        "invalid_request_error",
                        "idempotency_in_progress",
                        "a request with this Idempotency-Key is still being processed",
                    ),
                    1,
                ));
            }
        },
    };
    // The request is "being processed" from here on: a repeat now gets 409 in progress.
    pause(latency).await;

    let fault_config = shared.faults().config().clone();
    let task = shared.tasks.create(
        NewTask {
            contract,
            body: object,
            owner: &api_key,
            request_id,
        },
        &shared.config,
        &fault_config,
    );
    info.task_id = Some(task.id.clone());
    info.created_task = Some(task.id.clone());
    callbacks::schedule(shared, &task);
    let stored = StoredResponse {
        body: Bytes::from(
            serde_json::to_vec(&SubmitTaskResponse {
                code: 200,
                message: "success".into(),
                data: SubmitTaskData {
                    task_id: Some(task.id.clone()),
                    type_: None,
                    error_code: None,
                },
            })
            .expect("response types serialise"),
        ),
        cost: tasks::cost(contract, object),
        task_id: task.id.clone(),
    };
    if let Some(reservation) = reservation {
        reservation.complete(stored.clone());
    }
    Ok(answer_create(&stored, false, fault.as_ref()))
}

/// The 200 answer of a create (fresh or replayed), unless a response fault replaces it.
fn answer_create(stored: &StoredResponse, replay: bool, fault: Option<&Fault>) -> Response {
    match fault {
        Some(Fault::DropConnection) => return dropped_connection(),
        Some(Fault::MalformedBody) => return malformed_body(),
        _ => {}
    }
    let mut response = json_bytes(StatusCode::OK, stored.body.clone());
    let headers = response.headers_mut();
    if let Ok(cost) = HeaderValue::from_str(&stored.cost) {
        headers.insert(X_REQUEST_COST, cost);
    }
    if replay {
        headers.insert(X_IDEMPOTENT_REPLAY, HeaderValue::from_static("true"));
    }
    response
}

// ---------------------------------------------------------------- status

pub(crate) async fn status_image(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(task_id): Path<String>,
) -> Response {
    status(shared, TaskKind::Image, headers, task_id).await
}

pub(crate) async fn status_video(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(task_id): Path<String>,
) -> Response {
    status(shared, TaskKind::Video, headers, task_id).await
}

async fn status(
    shared: Arc<Shared>,
    kind: TaskKind,
    headers: HeaderMap,
    task_id: String,
) -> Response {
    let mut info = LogInfo {
        task_id: Some(task_id.clone()),
        ..LogInfo::default()
    };
    let response = status_inner(&shared, kind, &headers, &task_id, &mut info)
        .await
        .unwrap_or_else(identity);
    with_info(response, info)
}

async fn status_inner(
    shared: &Shared,
    kind: TaskKind,
    headers: &HeaderMap,
    task_id: &str,
    info: &mut LogInfo,
) -> Result<Response, Response> {
    let api_key = authenticate(shared, headers).ok_or_else(auth_error)?;
    let asked = RequestFaults::from_headers(headers).map_err(invalid_request)?;
    let decision = shared.faults().draw(Op::Status);
    let fault = asked.fault.or(decision.fault);
    pause(decision.latency + asked.latency).await;
    if let Some(f) = &fault {
        info.fault = Some(f.label());
    }
    match fault {
        Some(Fault::Http(status)) => return Err(injected_error(status, decision.retry_after)),
        Some(Fault::BusinessError(code)) => return Err(business_error(code, Op::Status)),
        Some(Fault::DropConnection) => return Err(dropped_connection()),
        _ => {}
    }
    let task = shared
        .tasks
        .get(task_id)
        .filter(|t| t.owner == api_key && t.kind == kind)
        .ok_or_else(|| task_not_found(task_id))?;
    let mut detail = task.detail(
        Instant::now(),
        &shared.base_url,
        shared.config.veo_object_result,
    );
    match fault {
        Some(Fault::UnknownStatus) => {
            detail.status = TaskStatus::from_wire(&decision.unknown_status)
        }
        Some(Fault::MalformedBody) => return Ok(malformed_body()),
        _ => {}
    }
    Ok(json_response(
        StatusCode::OK,
        &TaskStatusResponse {
            code: 200,
            message: "success".into(),
            data: detail,
        },
    ))
}
