//! The middleware every request passes: it gets an `X-Request-ID`, and the exchange is
//! written to the request log with what its handler reported ([`LogInfo`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::log::LogEntry;
use crate::responses::{LogInfo, X_REQUEST_ID};
use crate::state::Shared;

/// The `X-Request-ID` of the current request.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// Gives every request an id, puts it on the response, and logs the exchange.
pub(crate) async fn observe(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
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
