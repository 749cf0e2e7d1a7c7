//! The handler over HTTP with axum (feature `server`): every path goes to [`Ingest::handle`], which
//! routes it. `pinpipe run` and the `serve` example use it; on AWS, API Gateway and the `ingest-api`
//! Lambda play this part.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::{Ingest, IngestRequest};

/// The largest body taken: a synchronous Lambda invocation's payload limit.
pub const MAX_BODY_BYTES: usize = 6 << 20;

/// The header carrying the request id (taken from the request when given, else made up).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A router sending every request to `ingest`.
pub fn router(ingest: Arc<Ingest>) -> Router {
    Router::new().fallback(handle).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).with_state(ingest)
}

/// Serves `ingest` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, ingest: Arc<Ingest>) -> std::io::Result<()> {
    axum::serve(listener, router(ingest)).await
}

/// Serves `ingest` on `listener` until `shutdown` completes, then answers the requests in flight
/// and returns.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    ingest: Arc<Ingest>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ingest)).with_graceful_shutdown(shutdown).await
}

async fn handle(
    State(ingest): State<Arc<Ingest>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let answer = ingest
        .handle(IngestRequest {
            method: method.as_str(),
            path: uri.path(),
            content_type,
            body: &body,
            request_id: &request_id,
        })
        .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE.as_str(), answer.content_type.to_string()), (REQUEST_ID_HEADER, request_id)],
        answer.body,
    )
        .into_response()
}
