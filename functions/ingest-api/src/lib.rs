//! The `ingest-api` Lambda: API Gateway (HTTP API, payload format 2.0) requests in, the ingestion API
//! of [`pinpipe_ingest`] answers out. All logic lives in the library; this maps the event's request
//! to an [`IngestRequest`] and the answer back to an HTTP response.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use pinpipe_ingest::{Ingest, IngestRequest};

/// Handles one API Gateway request.
pub async fn handle(ingest: &Ingest, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .or_else(|| request.lambda_context_ref().map(|context| context.request_id.clone()))
    .unwrap_or_default();
    let content_type =
        request.headers().get(lambda_http::http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let answer = ingest
        .handle(IngestRequest {
            method: request.method().as_str(),
            path: request.uri().path(),
            content_type,
            body: request.body().as_ref(),
            request_id: &request_id,
        })
        .await;
    Ok(Response::builder()
        .status(answer.status)
        .header(lambda_http::http::header::CONTENT_TYPE, answer.content_type)
        .body(Body::from(answer.body))?)
}
