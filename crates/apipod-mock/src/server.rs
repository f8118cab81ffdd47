//! The HTTP server: routes, handlers and the [`MockServer`] handle.

use std::convert::identity;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use apipod_raw::TaskStatus;
use apipod_raw::contract::{self, TaskKind};
use apipod_raw::types::{
    ErrorData, ErrorDetail, ErrorResponse, SubmitTaskData, SubmitTaskResponse, TaskStatusResponse,
};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Request, State};
use axum::http::header::{
    ACCEPT_RANGES, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE,
    RANGE, RETRY_AFTER,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::callbacks;
use crate::config::MockConfig;
use crate::faults::{Fault, FaultConfig, FaultState, Op, RequestFaults};
use crate::idempotency::{self, Begin, IdempotencyStore, StoredResponse};
use crate::log::{LogEntry, RequestLog};
use crate::media;
use crate::tasks::{self, NewTask, Phase, TaskStore};

/// Response header carrying the request id.
const X_REQUEST_ID: &str = "x-request-id";
/// Response header carrying the cost of a create.
const X_REQUEST_COST: &str = "x-request-cost";
/// Response header marking a replayed idempotent response.
const X_IDEMPOTENT_REPLAY: &str = "x-idempotent-replay";
/// Request header carrying the idempotency key.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The message of APIPod's 401 answer.
const AUTH_MESSAGE: &str = "Authentication required. Please provide a valid API key or sign in.";

/// State shared by the handlers, the callback timers and the [`MockServer`] handle.
pub(crate) struct Shared {
    pub config: MockConfig,
    pub base_url: String,
    pub tasks: TaskStore,
    pub assets: crate::assets::AssetStore,
    pub idempotency: IdempotencyStore,
    pub faults: Mutex<FaultState>,
    pub log: RequestLog,
    pub callback_client: reqwest::Client,
    /// `true` once the server is shutting down; stops callback timers too.
    pub shutdown: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().expect("fault state lock")
    }
}

/// A running mock APIPod server.
///
/// It listens on loopback (by default), answers the four task endpoints like APIPod, and
/// serves the result files itself. Dropping it stops the server; [`MockServer::shutdown`]
/// also waits for it to finish.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = apipod_mock::MockServer::start().await;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(server.tasks_created(), 0);
/// server.shutdown().await;
/// # }
/// ```
pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    serve_task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .field("base_url", &self.shared.base_url)
            .field("tasks_created", &self.tasks_created())
            .finish()
    }
}

impl MockServer {
    /// Starts a server with [`MockConfig::fast`] on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> MockServer {
        MockServer::start_with(MockConfig::default()).await
    }

    /// Starts a server with `config` on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with(config: MockConfig) -> MockServer {
        MockServer::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0), config)
            .await
            .expect("bind the mock APIPod server to 127.0.0.1")
    }

    /// Starts a server with `config` on `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, config: MockConfig) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| default_base_url(addr));
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            base_url,
            tasks: TaskStore::default(),
            assets: Default::default(),
            idempotency: IdempotencyStore::default(),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            log: RequestLog::new(config.log_capacity),
            callback_client: callbacks::client(config.callback_timeout),
            shutdown,
            config,
        });
        let app = router(shared.clone());
        let mut stop = shared.shutdown.subscribe();
        let serve_task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "mock APIPod server stopped");
            }
        });
        tracing::debug!(%addr, "mock APIPod server listening");
        Ok(MockServer {
            shared,
            addr,
            serve_task: Some(serve_task),
        })
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `base_url()` followed by `path`, e.g. `url("/v1/images/generations")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base_url)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request log (and callback attempts).
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// Number of tasks really created (idempotent replays do not count).
    pub fn tasks_created(&self) -> usize {
        self.shared.tasks.created()
    }

    /// Number of Seedance library assets created (`POST /v1/assets` answered 200).
    pub fn assets_created(&self) -> usize {
        self.shared.assets.created()
    }

    /// Replaces the server-wide faults from now on (the draw sequence restarts).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.faults().set(faults);
    }

    /// The current server-wide faults.
    pub fn faults(&self) -> FaultConfig {
        self.shared.faults().config().clone()
    }

    /// Stops accepting connections, cancels pending callbacks and waits (up to 5 s) for
    /// open requests to finish.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.serve_task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// Runs a mock server on `addr` until Ctrl-C (what `apipod mock --addr` and the
/// `apipod-mock` binary do). The listening URL is logged with `tracing` at INFO; callers that
/// want to print it themselves can use [`MockServer::bind`] instead.
pub async fn serve(addr: SocketAddr, config: MockConfig) -> io::Result<()> {
    let server = MockServer::bind(addr, config).await?;
    tracing::info!(url = %server.base_url(), "mock APIPod server listening; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}

fn default_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/images/generations", post(create_image))
        .route("/v1/videos/generations", post(create_video))
        .route("/v1/images/status/{task_id}", get(status_image))
        .route("/v1/videos/status/{task_id}", get(status_video))
        .route("/files/{task_id}/{file}", get(result_file))
        .route("/blob/{bytes}", get(blob))
        .merge(crate::assets::routes())
        .merge(crate::openai::routes())
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(shared.clone(), observe))
        .with_state(shared)
}

// ---------------------------------------------------------------- request id and log

/// The `X-Request-ID` of the current request.
#[derive(Debug, Clone)]
struct RequestId(String);

/// What a handler tells the log about its request (a response extension).
#[derive(Debug, Clone, Default)]
pub(crate) struct LogInfo {
    pub idempotency_key: Option<String>,
    pub model: Option<String>,
    pub task_id: Option<String>,
    pub created_task: Option<String>,
    pub asset_id: Option<String>,
    pub created_asset: Option<String>,
    pub replay: bool,
    pub fault: Option<String>,
}

/// Gives every request an id, puts it on the response, and logs the exchange.
async fn observe(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let request_id = format!("req_{}", uuid::Uuid::new_v4().simple());
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    let info = response
        .extensions_mut()
        .remove::<LogInfo>()
        .unwrap_or_default();
    shared.log.push(LogEntry {
        method,
        path,
        status: response.status().as_u16(),
        request_id,
        idempotency_key: info.idempotency_key,
        model: info.model,
        task_id: info.task_id,
        created_task: info.created_task,
        asset_id: info.asset_id,
        created_asset: info.created_asset,
        replay: info.replay,
        fault: info.fault,
    });
    response
}

pub(crate) fn with_info(mut response: Response, info: LogInfo) -> Response {
    response.extensions_mut().insert(info);
    response
}

// ---------------------------------------------------------------- response helpers

pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).expect("response types serialise");
    json_bytes(status, Bytes::from(bytes))
}

fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// APIPod's error envelope `{code, message, data: {type, error_code}}`.
fn envelope_error(
    status: StatusCode,
    type_: &str,
    error_code: &str,
    message: impl Into<String>,
) -> Response {
    json_response(
        status,
        &ErrorResponse {
            code: Some(i64::from(status.as_u16())),
            message: Some(message.into()),
            data: Some(ErrorData {
                type_: Some(type_.into()),
                error_code: Some(error_code.into()),
            }),
            error: None,
        },
    )
}

pub(crate) fn invalid_request(message: impl Into<String>) -> Response {
    envelope_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_request",
        message,
    )
}

/// The OpenAI-style 401 answer.
pub(crate) fn auth_error() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &ErrorResponse {
            code: None,
            message: None,
            data: None,
            error: Some(ErrorDetail {
                message: Some(AUTH_MESSAGE.into()),
                type_: Some("invalid_request_error".into()),
                code: Some("invalid_api_key".into()),
            }),
        },
    )
}

fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// `(type, error_code, message)` APIPod uses for an HTTP status.
fn error_kind(status: u16) -> (&'static str, &'static str, &'static str) {
    match status {
        400 => (
            "invalid_request_error",
            "invalid_request",
            "Invalid request",
        ),
        402 => (
            "insufficient_quota",
            "insufficient_quota",
            "Insufficient quota",
        ),
        403 => (
            "permission_error",
            "forbidden",
            "This API key may not use this resource",
        ),
        404 => ("invalid_request_error", "not_found", "Not found"),
        409 => (
            "invalid_request_error",
            "idempotency_conflict",
            "Idempotency-Key was already used with a different request body",
        ),
        429 => (
            "rate_limit_error",
            "rate_limit_exceeded",
            "Rate limit exceeded",
        ),
        503 => (
            "api_error",
            "service_unavailable",
            "The service is temporarily unavailable; retry with the same Idempotency-Key",
        ),
        504 => (
            "api_error",
            "upstream_timeout",
            "The upstream provider did not answer in time",
        ),
        s if s >= 500 => ("api_error", "internal_error", "Internal server error"),
        _ => (
            "invalid_request_error",
            "invalid_request",
            "Request refused",
        ),
    }
}

/// An injected HTTP error.
pub(crate) fn injected_error(status: u16, retry_after: u64) -> Response {
    if status == 401 {
        return auth_error();
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (type_, error_code, message) = error_kind(code.as_u16());
    let response = envelope_error(code, type_, error_code, message);
    if matches!(status, 429 | 503) {
        with_retry_after(response, retry_after)
    } else {
        response
    }
}

/// An injected business error: HTTP 200 whose body carries error `code`.
pub(crate) fn business_error(code: i64, op: Op) -> Response {
    let (type_, error_code, message) = u16::try_from(code).map(error_kind).unwrap_or((
        "api_error",
        "internal_error",
        "Request failed",
    ));
    match op {
        Op::Create => json_response(
            StatusCode::OK,
            &SubmitTaskResponse {
                code,
                message: message.into(),
                data: SubmitTaskData {
                    task_id: None,
                    type_: Some(type_.into()),
                    error_code: Some(error_code.into()),
                },
            },
        ),
        Op::Status => json_response(
            StatusCode::OK,
            &ErrorResponse {
                code: Some(code),
                message: Some(message.into()),
                data: Some(ErrorData {
                    type_: Some(type_.into()),
                    error_code: Some(error_code.into()),
                }),
                error: None,
            },
        ),
    }
}

/// A response whose body fails before its first byte: hyper then closes the connection
/// without sending anything, so the client sees a transport error.
pub(crate) fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "connection dropped on purpose by the mock",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from_stream(failing))
        .expect("static response parts")
}

/// HTTP 200 with a truncated JSON body.
pub(crate) fn malformed_body() -> Response {
    json_bytes(
        StatusCode::OK,
        Bytes::from_static(br#"{"code":200,"message":"success","data":{"task_id":"#),
    )
}

fn task_not_found(task_id: &str) -> Response {
    envelope_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "task_not_found",
        format!("task {task_id:?} does not exist or belongs to another API key"),
    )
}

/// Checks `Authorization: Bearer <key>` and returns the key (`None`: answer 401).
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|key| !key.is_empty())?;
    match shared.config.api_key.as_deref() {
        Some(expected) if key != expected => None,
        _ => Some(key.to_string()),
    }
}

pub(crate) async fn pause(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

// ---------------------------------------------------------------- create

async fn create_image(
    State(shared): State<Arc<Shared>>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(shared, TaskKind::Image, request_id, headers, body).await
}

async fn create_video(
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

async fn status_image(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(task_id): Path<String>,
) -> Response {
    status(shared, TaskKind::Image, headers, task_id).await
}

async fn status_video(
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

// ---------------------------------------------------------------- files

/// A byte range asked for with `Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    Full,
    /// Inclusive start and end.
    Part(u64, u64),
    Unsatisfiable,
}

/// Reads a single `Range: bytes=...` (honouring `If-Range` against `etag`). Anything it does
/// not understand (several ranges, other units) gets the full body, as HTTP allows.
fn requested_range(headers: &HeaderMap, total: u64, etag: &str) -> Ranged {
    let Some(range) = headers.get(RANGE).and_then(|v| v.to_str().ok()) else {
        return Ranged::Full;
    };
    if let Some(if_range) = headers.get(IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range.trim() != etag
    {
        return Ranged::Full;
    }
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ranged::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = if start.is_empty() {
        // Suffix range: the last `end` bytes.
        match end.parse::<u64>() {
            Ok(0) => return Ranged::Unsatisfiable,
            Ok(n) => Some((total.saturating_sub(n), total.saturating_sub(1))),
            Err(_) => None,
        }
    } else {
        match (start.parse::<u64>(), end) {
            (Ok(s), "") => Some((s, total.saturating_sub(1))),
            (Ok(s), e) => e
                .parse::<u64>()
                .ok()
                .map(|e| (s, e.min(total.saturating_sub(1)))),
            _ => None,
        }
    };
    match parsed {
        None => Ranged::Full,
        Some((s, e)) if total == 0 || s >= total || s > e => Ranged::Unsatisfiable,
        Some((s, e)) => Ranged::Part(s, e),
    }
}

/// Builds a file response for `total` bytes, with the body produced by `body(offset, len)`.
fn file_response(
    headers: &HeaderMap,
    content_type: &str,
    etag: &str,
    total: u64,
    body: impl FnOnce(u64, u64) -> Body,
) -> Response {
    let (status, offset, len, content_range) = match requested_range(headers, total, etag) {
        Ranged::Full => (StatusCode::OK, 0, total, None),
        Ranged::Part(s, e) => (
            StatusCode::PARTIAL_CONTENT,
            s,
            e - s + 1,
            Some(format!("bytes {s}-{e}/{total}")),
        ),
        Ranged::Unsatisfiable => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(CONTENT_RANGE, format!("bytes */{total}"))
                .header(ACCEPT_RANGES, "bytes")
                .body(Body::empty())
                .expect("static response parts");
        }
    };
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, len)
        .header(ACCEPT_RANGES, "bytes")
        .header(ETAG, etag);
    if let Some(range) = content_range {
        builder = builder.header(CONTENT_RANGE, range);
    }
    builder
        .body(body(offset, len))
        .expect("valid file response parts")
}

fn file_error(status: StatusCode, error_code: &str, message: String) -> Response {
    envelope_error(status, "invalid_request_error", error_code, message)
}

async fn result_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((task_id, file)): Path<(String, String)>,
) -> Response {
    let info = LogInfo {
        task_id: Some(task_id.clone()),
        ..LogInfo::default()
    };
    let response = result_file_inner(&shared, &headers, &task_id, &file)
        .await
        .unwrap_or_else(identity);
    with_info(response, info)
}

async fn result_file_inner(
    shared: &Shared,
    headers: &HeaderMap,
    task_id: &str,
    file: &str,
) -> Result<Response, Response> {
    let missing = || {
        file_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no result file {file:?} for task {task_id:?}"),
        )
    };
    let task = shared.tasks.get(task_id).ok_or_else(missing)?;
    let (index, ext) = file.split_once('.').ok_or_else(missing)?;
    let index: usize = index.parse().map_err(|_| missing())?;
    let media = task
        .files
        .get(index)
        .filter(|m| m.ext() == ext)
        .ok_or_else(missing)?
        .clone();
    let now = Instant::now();
    if task.phase_at(now) != Phase::Completed {
        return Err(file_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("task {task_id:?} has no results (it has not completed)"),
        ));
    }
    let done = task.terminal_at().ok_or_else(missing)?;
    if now >= done + shared.config.result_ttl {
        return Err(file_error(
            StatusCode::GONE,
            "result_expired",
            format!(
                "the results of task {task_id:?} expired {} after completion; download results promptly and keep your own copy",
                humantime::format_duration(shared.config.result_ttl)
            ),
        ));
    }
    if let Some(size) = shared.config.result_size_override {
        let etag = format!("\"{task_id}-{index}-{size}\"");
        return Ok(file_response(
            headers,
            media.content_type(),
            &etag,
            size,
            |offset, len| Body::from_stream(media::filler_stream(offset, len)),
        ));
    }
    let etag = format!("\"{task_id}-{index}\"");
    let content_type = media.content_type();
    let bytes = tokio::task::spawn_blocking(move || Bytes::from(media.render()))
        .await
        .map_err(|e| {
            envelope_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
                format!("rendering the file failed: {e}"),
            )
        })?;
    let total = bytes.len() as u64;
    Ok(file_response(
        headers,
        content_type,
        &etag,
        total,
        |offset, len| Body::from(bytes.slice(offset as usize..(offset + len) as usize)),
    ))
}

async fn blob(headers: HeaderMap, Path(size): Path<String>) -> Response {
    let Ok(total) = size.parse::<u64>() else {
        return invalid_request(format!("/blob/{{bytes}} takes a byte count, not {size:?}"));
    };
    let etag = format!("\"blob-{total}\"");
    file_response(
        &headers,
        "application/octet-stream",
        &etag,
        total,
        |offset, len| Body::from_stream(media::filler_stream(offset, len)),
    )
}

async fn no_route(request: Request) -> Response {
    envelope_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, total: u64) -> Ranged {
        let mut headers = HeaderMap::new();
        headers.insert(RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, total, "\"e\"")
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ranged::Part(0, 9));
        assert_eq!(range("bytes=90-", 100), Ranged::Part(90, 99));
        assert_eq!(range("bytes=-10", 100), Ranged::Part(90, 99));
        assert_eq!(range("bytes=50-500", 100), Ranged::Part(50, 99));
        assert_eq!(range("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=0-1,5-6", 100), Ranged::Full);
        assert_eq!(range("items=0-1", 100), Ranged::Full);
        let mut headers = HeaderMap::new();
        headers.insert(RANGE, HeaderValue::from_static("bytes=5-"));
        headers.insert(IF_RANGE, HeaderValue::from_static("\"other\""));
        assert_eq!(requested_range(&headers, 100, "\"e\""), Ranged::Full);
    }

    #[test]
    fn base_url_of_unspecified_addresses_is_loopback() {
        assert_eq!(
            default_base_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            default_base_url("[::]:81".parse().unwrap()),
            "http://[::1]:81"
        );
    }
}
