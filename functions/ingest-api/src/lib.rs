//! The `ingest-api` Lambda: API Gateway (HTTP API, payload format 2.0) requests in, the ingestion API
//! of [`pinpipe_ingest`] answers out. All logic lives in the library; this maps the event's request
//! to an [`IngestRequest`] and the answer back to an HTTP response.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use pinpipe_ingest::{Ingest, IngestRequest};
use pinpipe_metrics::Metrics;

/// The function's name when `AWS_LAMBDA_FUNCTION_NAME` is not set (the binary's name).
pub const FUNCTION: &str = "ingest-api";

/// Handles one API Gateway request.
pub async fn handle(ingest: &Ingest, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    handle_measured(ingest, request).await.map(|(response, _)| response)
}

/// [`handle`], and the request's metrics for the function's `main` to emit.
pub async fn handle_measured(
    ingest: &Ingest,
    request: Request,
) -> Result<(Response<Body>, Metrics), lambda_http::Error> {
    let body_bytes = request.body().as_ref().len();
    let response = answer(ingest, request).await?;
    let metrics = metrics_of(response.status().as_u16(), body_bytes, &pinpipe_metrics::function_name(FUNCTION));
    Ok((response, metrics))
}

/// The metrics of one answered request: that it was answered, the body's bytes, and whether it was
/// refused (4xx) or failed (5xx). The records it carried are in its log line.
pub fn metrics_of(status: u16, body_bytes: usize, function: &str) -> Metrics {
    use pinpipe_metrics::{BYTES_IN, REQUESTS, REQUESTS_FAILED, REQUESTS_REFUSED};
    let mut metrics = Metrics::new(function);
    metrics
        .put(REQUESTS, 1usize)
        .put(BYTES_IN, body_bytes)
        .put(REQUESTS_REFUSED, usize::from((400..500).contains(&status)))
        .put(REQUESTS_FAILED, usize::from(status >= 500));
    metrics
}

async fn answer(ingest: &Ingest, request: Request) -> Result<Response<Body>, lambda_http::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_once_with_its_bytes_and_its_outcome() {
        let line = |status| -> serde_json::Value {
            serde_json::from_str(metrics_of(status, 512, "pinpipe-ingest-api").to_lines(0).trim_end()).unwrap()
        };
        let outcome = |status| {
            let line = line(status);
            (line["Requests"].as_u64(), line["RequestsRefused"].as_u64(), line["RequestsFailed"].as_u64())
        };
        assert_eq!(outcome(200), (Some(1), Some(0), Some(0)));
        assert_eq!(outcome(422), (Some(1), Some(1), Some(0)));
        assert_eq!(outcome(503), (Some(1), Some(0), Some(1)));
        assert_eq!(line(200)["BytesIn"], 512);
        assert_eq!(line(200)["Function"], "pinpipe-ingest-api");
    }
}
