//! The HTTP layer: the router and one module per endpoint group. Handlers read and change
//! the [`Shared`] state and answer with the bodies of [`crate::responses`].
//!
//! | module | routes |
//! | --- | --- |
//! | [`tasks`] | `POST /v1/{images,videos}/generations`, `GET /v1/{images,videos}/status/{task_id}` |
//! | [`files`] | `GET /files/{task_id}/{file}`, `GET /blob/{bytes}` |
//! | [`assets`] | `POST /v1/assets`, `GET /v1/assets/{assetId}` |
//! | [`crate::openai`] | `POST /openai/v1/images/{generations,edits}` |
//! | [`observe`] | middleware on every route: request id and request log |

mod assets;
mod files;
mod observe;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};

use crate::responses::envelope_error;
use crate::state::Shared;

/// Every route of the mock, behind the request-id and logging middleware.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/images/generations", post(tasks::create_image))
        .route("/v1/videos/generations", post(tasks::create_video))
        .route("/v1/images/status/{task_id}", get(tasks::status_image))
        .route("/v1/videos/status/{task_id}", get(tasks::status_video))
        .route("/files/{task_id}/{file}", get(files::result_file))
        .route("/blob/{bytes}", get(files::blob))
        .merge(assets::routes())
        // ---- extra route groups: merge a module's `routes()` here ----
        .merge(crate::openai::routes())
        // ---- end of extra route groups ----
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            observe::observe,
        ))
        .with_state(shared)
}

/// 404 `not_found` for any other path.
async fn no_route(request: Request) -> Response {
    envelope_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}
