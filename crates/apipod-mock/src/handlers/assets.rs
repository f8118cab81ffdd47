//! The Seedance asset library endpoints: `POST /v1/assets` (checked upload) and
//! `GET /v1/assets/{assetId}` (bare id or `assetId://ID`), with injected faults.

use std::convert::identity;
use std::sync::Arc;
use std::time::Duration;

use apipod_raw::types::ErrorResponse;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::time::Instant;

use crate::assets::{Asset, parse_upload};
use crate::faults::{Fault, Op, RequestFaults, pause};
use crate::responses::{
    LogInfo, auth_error, business_error, dropped_connection, injected_error, invalid_request,
    json_response, malformed_body, with_info,
};
use crate::state::{Shared, authenticate};

/// The asset routes, merged into the server's router.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/assets", post(create))
        .route("/v1/assets/{*asset_id}", get(read))
}

/// The faults drawn (or asked for) for one asset request.
struct Drawn {
    fault: Option<Fault>,
    latency: Duration,
    retry_after: u64,
    unknown_status: String,
}

/// Draws the faults of one asset request (an upload counts as a create, a read as a status
/// read), waits out their latency, and answers early for injected errors.
async fn faults(
    shared: &Shared,
    headers: &HeaderMap,
    op: Op,
    info: &mut LogInfo,
) -> Result<Drawn, Response> {
    let asked = RequestFaults::from_headers(headers).map_err(invalid_request)?;
    let decision = shared.faults().draw(op);
    let drawn = Drawn {
        fault: asked.fault.or(decision.fault),
        latency: decision.latency + asked.latency,
        retry_after: decision.retry_after,
        unknown_status: decision.unknown_status,
    };
    if let Some(f) = &drawn.fault {
        info.fault = Some(f.label());
    }
    pause(drawn.latency).await;
    match drawn.fault {
        Some(Fault::Http(status)) => Err(injected_error(status, drawn.retry_after)),
        Some(Fault::BusinessError(code)) => Err(business_error(code, Op::Status)),
        _ => Ok(drawn),
    }
}

async fn create(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut info = LogInfo::default();
    let response = async {
        let owner = authenticate(&shared, &headers).ok_or_else(auth_error)?;
        let drawn = faults(&shared, &headers, Op::Create, &mut info).await?;
        let upload = parse_upload(&body).map_err(invalid_request)?;
        let asset = shared.assets.create(upload, &owner, &shared.config);
        info.asset_id = Some(asset.id.clone());
        info.created_asset = Some(asset.id.clone());
        Ok(match drawn.fault {
            Some(Fault::DropConnection) => dropped_connection(),
            Some(Fault::MalformedBody) => malformed_body(),
            _ => answer(&asset, asset.status_at(Instant::now())),
        })
    }
    .await
    .unwrap_or_else(identity);
    with_info(response, info)
}

async fn read(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(asset_id): Path<String>,
) -> Response {
    let id = asset_id
        .strip_prefix("assetId://")
        .unwrap_or(&asset_id)
        .to_string();
    let mut info = LogInfo {
        asset_id: Some(id.clone()),
        ..LogInfo::default()
    };
    let response = async {
        let owner = authenticate(&shared, &headers).ok_or_else(auth_error)?;
        let drawn = faults(&shared, &headers, Op::Status, &mut info).await?;
        let asset = shared
            .assets
            .get(&id)
            .filter(|a| a.owner == owner)
            .ok_or_else(not_found)?;
        Ok(match drawn.fault {
            Some(Fault::DropConnection) => dropped_connection(),
            Some(Fault::MalformedBody) => malformed_body(),
            Some(Fault::UnknownStatus) => answer(&asset, &drawn.unknown_status),
            _ => answer(&asset, asset.status_at(Instant::now())),
        })
    }
    .await
    .unwrap_or_else(identity);
    with_info(response, info)
}

/// APIPod's documented 404: `{"code": 404, "message": "asset not found"}`.
fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &ErrorResponse {
            code: Some(404),
            message: Some("asset not found".into()),
            data: None,
            error: None,
        },
    )
}

/// The 200 answer reporting `status`.
fn answer(asset: &Asset, status: &str) -> Response {
    json_response(StatusCode::OK, &asset.body(status))
}
