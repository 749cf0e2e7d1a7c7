//! The `ingest-api` Lambda: API Gateway (HTTP API, payload format 2.0) requests in, the ingestion API
//! of [`pinpipe_ingest`] answers out. All logic lives in the library; this maps the event's request
//! to an [`IngestRequest`] and the answer back to an HTTP response.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use pinpipe_ingest::{Ingest, IngestRequest, RecordCounts};
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
    let (response, records) = answer(ingest, request).await?;
    let metrics =
        metrics_of(response.status().as_u16(), body_bytes, records, &pinpipe_metrics::function_name(FUNCTION));
    Ok((response, metrics))
}

/// The metrics of one answered request: that it was answered, the body's bytes, whether it was
/// refused (4xx) or failed (5xx), and its records: received, acknowledged by Kafka or Kinesis, and
/// failed (a partial answer has both; docs/SPEC.md §2).
pub fn metrics_of(status: u16, body_bytes: usize, records: RecordCounts, function: &str) -> Metrics {
    use pinpipe_metrics::{
        BYTES_IN, RECORDS_ACKNOWLEDGED, RECORDS_FAILED, RECORDS_IN, REQUESTS, REQUESTS_FAILED, REQUESTS_REFUSED,
    };
    let mut metrics = Metrics::new(function);
    metrics
        .put(REQUESTS, 1usize)
        .put(BYTES_IN, body_bytes)
        .put(REQUESTS_REFUSED, usize::from((400..500).contains(&status)))
        .put(REQUESTS_FAILED, usize::from(status >= 500))
        .put(RECORDS_IN, records.received)
        .put(RECORDS_ACKNOWLEDGED, records.stored)
        .put(RECORDS_FAILED, records.failed);
    metrics
}

async fn answer(ingest: &Ingest, request: Request) -> Result<(Response<Body>, RecordCounts), lambda_http::Error> {
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
    let response = Response::builder()
        .status(answer.status)
        .header(lambda_http::http::header::CONTENT_TYPE, answer.content_type)
        .body(Body::from(answer.body))?;
    Ok((response, answer.records))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// The request of the sample event `events/<name>.json` and the number of records its body holds.
    fn sample(name: &str) -> (Request, usize) {
        let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        let body: serde_json::Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        (lambda_http::request::from_str(&text).unwrap(), body["records"].as_array().unwrap().len())
    }

    #[tokio::test]
    async fn the_metrics_carry_the_records_the_handler_counted() {
        use pinpipe_ingest::testing::AckingWriter;
        use pinpipe_metrics::{MetricValue, RECORDS_ACKNOWLEDGED, RECORDS_FAILED, RECORDS_IN};
        let ingest = Ingest::new(pinpipe_ingest::Names::new("pinpipe"), None, Some(Arc::new(AckingWriter::default())));
        let records =
            |metrics: &Metrics| [RECORDS_IN, RECORDS_ACKNOWLEDGED, RECORDS_FAILED].map(|metric| metrics.get(metric));
        let (request, sent) = sample("ingest-stream-records");
        assert!(sent > 1);
        let (response, metrics) = handle_measured(&ingest, request).await.unwrap();
        assert_eq!(response.status(), 200);
        let sent = Some(MetricValue::Int(sent as u64));
        assert_eq!(records(&metrics), [sent, sent, Some(MetricValue::Int(0))]);
        let (request, _) = sample("ingest-stream-records-malformed");
        let (response, metrics) = handle_measured(&ingest, request).await.unwrap();
        assert!(response.status().is_client_error());
        assert_eq!(records(&metrics), [Some(MetricValue::Int(0)); 3]);
    }

    #[test]
    fn a_request_counts_once_with_its_bytes_its_outcome_and_its_records() {
        let counts = |received, stored, failed| RecordCounts { received, stored, failed };
        let line = |status, records| -> serde_json::Value {
            serde_json::from_str(metrics_of(status, 512, records, "pinpipe-ingest-api").to_lines(0).trim_end()).unwrap()
        };
        let outcome = |status, records| {
            let line = line(status, records);
            (line["Requests"].as_u64(), line["RequestsRefused"].as_u64(), line["RequestsFailed"].as_u64())
        };
        let records = |status, records| {
            let line = line(status, records);
            (line["RecordsIn"].as_u64(), line["RecordsAcknowledged"].as_u64(), line["RecordsFailed"].as_u64())
        };
        // Every record stored.
        assert_eq!(outcome(200, counts(3, 3, 0)), (Some(1), Some(0), Some(0)));
        assert_eq!(records(200, counts(3, 3, 0)), (Some(3), Some(3), Some(0)));
        // Refused whole (malformed): no record received.
        assert_eq!(outcome(422, counts(0, 0, 0)), (Some(1), Some(1), Some(0)));
        assert_eq!(records(422, counts(0, 0, 0)), (Some(0), Some(0), Some(0)));
        // A partial answer: 2 of 3 stored, one failure the client may retry (docs/SPEC.md §2).
        assert_eq!(outcome(503, counts(3, 2, 1)), (Some(1), Some(0), Some(1)));
        assert_eq!(records(503, counts(3, 2, 1)), (Some(3), Some(2), Some(1)));
        // Only records too large for Kinesis failed: 422, yet some were stored.
        assert_eq!(records(422, counts(2, 1, 1)), (Some(2), Some(1), Some(1)));
        let line = line(200, counts(3, 3, 0));
        assert_eq!(line["BytesIn"], 512);
        assert_eq!(line["Function"], "pinpipe-ingest-api");
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["Name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"RecordsAcknowledged") && names.contains(&"RecordsFailed"), "{names:?}");
    }
}
