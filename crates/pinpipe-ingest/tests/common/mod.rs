//! Shared helpers of the ingestion tests: calling the handler and reading its answers.

#![allow(dead_code)]

use pinpipe_ingest::{Ingest, IngestRequest};
use serde_json::Value;

/// Calls the handler; returns the status, the content type and the body as JSON.
pub async fn call(
    ingest: &Ingest,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, &'static str, Value) {
    let answer = ingest.handle(IngestRequest { method, path, content_type, body, request_id: "test-request" }).await;
    let json = serde_json::from_str(&answer.body)
        .unwrap_or_else(|err| panic!("the answer is not JSON ({err}): {}", answer.body));
    (answer.status, answer.content_type, json)
}

/// POSTs a REST-proxy body to a topic.
pub async fn post_topic(ingest: &Ingest, topic: &str, body: &str) -> (u16, Value) {
    let (status, content_type, json) =
        call(ingest, "POST", &format!("/topics/{topic}"), Some("application/vnd.kafka.json.v2+json"), body.as_bytes())
            .await;
    assert_eq!(content_type, "application/vnd.kafka.v2+json");
    (status, json)
}

/// PUTs a Kinesis-proxy body to `/streams/{stream}/{route}`.
pub async fn put_stream(ingest: &Ingest, stream: &str, route: &str, body: &str) -> (u16, Value) {
    let (status, content_type, json) =
        call(ingest, "PUT", &format!("/streams/{stream}/{route}"), Some("application/json"), body.as_bytes()).await;
    assert_eq!(content_type, "application/json");
    (status, json)
}

/// Asserts the REST-proxy error envelope with this status and code, and returns its message.
pub fn assert_envelope(status: u16, body: &Value, expected_status: u16, expected_code: u64) -> String {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error_code"], expected_code, "{body}");
    body["message"].as_str().unwrap_or_else(|| panic!("no message: {body}")).to_string()
}
