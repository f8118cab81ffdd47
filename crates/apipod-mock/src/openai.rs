//! The OpenAI-compatible synchronous images API: `POST /openai/v1/images/generations`
//! (JSON) and `POST /openai/v1/images/edits` (`multipart/form-data`).
//!
//! Each call is checked with the rules shared with the SDK ([`apipod_raw::openai::check`]:
//! an image model of the contract, an edit-capable one for edits, the docs' limits, the
//! model's own), becomes a real image task in the same store as the async API, and is held
//! open until that task ends or the wait window ([`MockConfig::openai_sync_wait`], 300 s by
//! default) passes:
//!
//! * completed: `{created, data: [{b64_json} | {url}], usage}` with `X-Request-Cost`; URLs
//!   are the task's result files, served like any other;
//! * failed or cancelled: 500 `internal_error` naming the task and its failure code;
//! * still running: 504 `sync_image_timeout` whose message names the task, which keeps
//!   running and is readable on `GET /v1/images/status/{task_id}`.
//!
//! Errors use OpenAI's envelope `{error: {message, type, code}}`. The server-wide faults
//! (as for a create) and `X-Mock-Fault` apply; `drop` cuts the connection after the task
//! was created, as a lost answer would. `n` images are made for any model (the docs give
//! `n` without a per-model condition); usage figures are made up but deterministic.
//!
//! [`MockConfig::openai_sync_wait`]: crate::MockConfig::openai_sync_wait

use std::convert::identity;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use apipod_raw::openai::{self as rules, Refusal, Route, SyncParams};
use apipod_raw::types::{
    OpenAiErrorDetail, OpenAiErrorResponse, OpenAiImage, OpenAiImageUsage, OpenAiImagesResponse,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use serde_json::Value;
use tokio::time::Instant;

use crate::faults::{Fault, Op, RequestFaults, pause};
use crate::responses::{LogInfo, dropped_connection, json_response, malformed_body, with_info};
use crate::state::{Shared, authenticate};
use crate::tasks::{self, NewTask, Phase};

/// Largest request body: ten inputs at the limit, a mask and the text fields.
const MAX_BODY: usize =
    (rules::MAX_EDIT_IMAGES as usize + 2) * rules::MAX_EDIT_IMAGE_BYTES as usize;

/// The two routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(rules::GENERATIONS_PATH, post(generations))
        .route(rules::EDITS_PATH, post(edits))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// OpenAI's error envelope.
fn error(status: StatusCode, type_: &str, code: &str, message: impl Into<String>) -> Response {
    json_response(
        status,
        &OpenAiErrorResponse {
            error: OpenAiErrorDetail {
                message: message.into(),
                type_: type_.into(),
                code: Some(code.into()),
            },
        },
    )
}

fn bad_request(message: impl Into<String>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_request",
        message,
    )
}

async fn generations(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut info = LogInfo::default();
    if authenticate(&shared, &headers).is_none() {
        return with_info(auth_failure(), info);
    }
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))
        .and_then(|v| match v {
            Value::Object(fields) => params(fields.into_iter()),
            _ => Err("the request body must be a JSON object".to_string()),
        });
    let response = match parsed {
        Ok(params) => run(&shared, &headers, Route::Generation, params, &mut info).await,
        Err(message) => Err(bad_request(message)),
    };
    with_info(response.unwrap_or_else(identity), info)
}

async fn edits(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let mut info = LogInfo::default();
    if authenticate(&shared, &headers).is_none() {
        return with_info(auth_failure(), info);
    }
    let response = match read_form(request).await {
        Ok(params) => run(&shared, &headers, Route::Edit, params, &mut info).await,
        Err(message) => Err(bad_request(message)),
    };
    with_info(response.unwrap_or_else(identity), info)
}

/// The parameters of a JSON body or of a form's text parts (unknown fields ignored).
fn params(fields: impl Iterator<Item = (String, Value)>) -> Result<SyncParams, String> {
    let mut p = SyncParams::default();
    for (name, value) in fields {
        let text = || match &value {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("`{name}` must be a string, got {other}")),
        };
        match name.as_str() {
            "model" => p.model = text()?,
            "prompt" => p.prompt = text()?,
            "n" => {
                let n = match &value {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                p.n = Some(n.ok_or_else(|| format!("`n` must be a whole number, got {value}"))?);
            }
            "size" => p.size = Some(text()?),
            "quality" => p.quality = Some(text()?),
            "response_format" => p.response_format = Some(text()?),
            "output_format" => p.output_format = Some(text()?),
            "background" => p.background = Some(text()?),
            _ => {}
        }
    }
    for (name, value) in [("model", &p.model), ("prompt", &p.prompt)] {
        if value.is_empty() {
            return Err(format!("`{name}` is required"));
        }
    }
    Ok(p)
}

/// Reads a multipart edit body: files in `image`/`image[]` and `mask`, inputs given as
/// text in `image_urls`/`image_urls[]`, every other part as a text field.
async fn read_form(request: Request) -> Result<SyncParams, String> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| format!("the body is not multipart/form-data: {e}"))?;
    let mut texts = Vec::new();
    let (mut images, mut mask) = (Vec::new(), None);
    while let Some(mut part) = form
        .next_field()
        .await
        .map_err(|e| format!("unreadable multipart body: {e}"))?
    {
        let name = part.name().unwrap_or_default().to_string();
        match name.as_str() {
            "image" | "image[]" | "mask" => {
                // Count the bytes without keeping them: the mock's results derive from the
                // prompt, and a too-large file must be named, not cut off.
                let mut bytes = 0u64;
                while let Some(chunk) = part
                    .chunk()
                    .await
                    .map_err(|e| format!("unreadable part `{name}`: {e}"))?
                {
                    bytes += chunk.len() as u64;
                }
                if name == "mask" {
                    mask = Some(bytes);
                } else {
                    images.push(bytes);
                }
            }
            _ => {
                let text = part
                    .text()
                    .await
                    .map_err(|e| format!("part `{name}` is not text: {e}"))?;
                if matches!(name.as_str(), "image_urls" | "image_urls[]") {
                    images.push(text.len() as u64);
                } else {
                    texts.push((name, Value::String(text)));
                }
            }
        }
    }
    let mut p = params(texts.into_iter())?;
    p.images = images;
    p.mask = mask;
    Ok(p)
}

fn auth_failure() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "invalid_api_key",
        "Authentication required. Please provide a valid API key or sign in.",
    )
}

/// Validates, creates the task, waits for it within the window and answers.
async fn run(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    route: Route,
    params: SyncParams,
    info: &mut LogInfo,
) -> Result<Response, Response> {
    let api_key = authenticate(shared, headers).ok_or_else(auth_failure)?;
    info.model = Some(params.model.clone());
    let asked = RequestFaults::from_headers(headers).map_err(bad_request)?;
    let decision = shared.faults().draw(Op::Create);
    let fault = asked.fault.or(decision.fault);
    if let Some(f) = &fault {
        info.fault = Some(f.label());
    }
    pause(decision.latency + asked.latency).await;
    match fault {
        Some(Fault::Http(status)) => return Err(injected(status, decision.retry_after)),
        Some(Fault::BusinessError(code)) => {
            return Err(injected(
                u16::try_from(code).unwrap_or(500),
                decision.retry_after,
            ));
        }
        _ => {}
    }

    let (contract, mut body) = rules::check(route, &params).map_err(|refusal| match refusal {
        Refusal::UnknownModel(m) => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("model {m:?} does not exist on this endpoint"),
        ),
        Refusal::Invalid(v) => bad_request(
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    })?;
    let n = params.n.unwrap_or(1).max(1);
    let cost = tasks::cost(contract, &body);
    if contract.field("n").is_none() && n > 1 {
        body.insert("n".into(), Value::from(n)); // the mock's media plan reads it
    }
    let cost = if contract.field("n").is_none() {
        format!("{:.4}", cost.parse::<f64>().unwrap_or(0.0) * n as f64)
    } else {
        cost
    };
    let task = shared.tasks.create(
        NewTask {
            contract,
            body: &body,
            owner: &api_key,
            request_id: "",
        },
        &shared.config,
        &shared.faults().config().clone(),
    );
    info.task_id = Some(task.id.clone());
    info.created_task = Some(task.id.clone());
    match fault {
        Some(Fault::DropConnection) => return Err(dropped_connection()),
        Some(Fault::MalformedBody) => return Err(malformed_body()),
        _ => {}
    }

    let window = shared.config.openai_sync_wait;
    let window_end = Instant::now() + window;
    match task.terminal_at() {
        Some(done) if done <= window_end => tokio::time::sleep_until(done).await,
        _ => {
            tokio::time::sleep_until(window_end).await;
            return Err(error(
                StatusCode::GATEWAY_TIMEOUT,
                "server_error",
                rules::TIMEOUT_CODE,
                format!(
                    "image task {id} did not complete within {}; the task is still processing and can be queried via GET /v1/images/status/{id}",
                    humantime::format_duration(window),
                    id = task.id
                ),
            ));
        }
    }
    let detail = task.detail(Instant::now(), &shared.base_url, false);
    if task.phase_at(Instant::now()) != Phase::Completed {
        let why = [
            detail.error_code.as_deref(),
            detail.error_message.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            format!(
                "image task {} ended {}{}{why}",
                task.id,
                detail.status,
                if why.is_empty() { "" } else { ": " }
            ),
        ));
    }

    let inline = params
        .response_format
        .as_deref()
        .unwrap_or(rules::RESPONSE_FORMATS[0])
        == "b64_json";
    let mut data = Vec::with_capacity(task.files.len());
    for (i, file) in task.files.iter().enumerate() {
        data.push(if inline {
            let file = file.clone();
            let png = tokio::task::spawn_blocking(move || file.render())
                .await
                .map_err(|e| {
                    error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        "internal_error",
                        e.to_string(),
                    )
                })?;
            OpenAiImage {
                b64_json: Some(base64::engine::general_purpose::STANDARD.encode(png)),
                url: None,
            }
        } else {
            OpenAiImage {
                b64_json: None,
                url: Some(task.file_url(&shared.base_url, i)),
            }
        });
    }
    let prompt_tokens =
        (params.prompt.chars().count() as i64 + 3) / 4 + 258 * params.images.len() as i64;
    let completion_tokens = 1_056 * data.len() as i64;
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let mut response = json_response(
        StatusCode::OK,
        &OpenAiImagesResponse {
            created,
            data,
            usage: Some(OpenAiImageUsage {
                prompt_tokens: Some(prompt_tokens),
                completion_tokens: Some(completion_tokens),
                total_tokens: Some(prompt_tokens + completion_tokens),
            }),
        },
    );
    if let Ok(cost) = HeaderValue::from_str(&cost) {
        response.headers_mut().insert("x-request-cost", cost);
    }
    Ok(response)
}

/// An injected HTTP error, in OpenAI's envelope.
fn injected(status: u16, retry_after: u64) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (type_, machine) = match status {
        401 => return auth_failure(),
        402 => ("insufficient_quota", "insufficient_quota"),
        429 => ("rate_limit_error", "rate_limit_exceeded"),
        400..=499 => ("invalid_request_error", "invalid_request"),
        _ => ("server_error", "internal_error"),
    };
    let mut response = error(code, type_, machine, format!("injected HTTP {status}"));
    if matches!(status, 429 | 503) {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_strings_and_numbers_and_ignore_unknown_fields() {
        let fields = serde_json::json!({"model": "gpt-image-2", "prompt": "x", "n": "3", "input_fidelity": "high"});
        let p = params(fields.as_object().unwrap().clone().into_iter()).unwrap();
        assert_eq!((p.model.as_str(), p.n), ("gpt-image-2", Some(3)));
        let missing = serde_json::json!({"model": "gpt-image-2"});
        assert!(params(missing.as_object().unwrap().clone().into_iter()).is_err());
    }
}
