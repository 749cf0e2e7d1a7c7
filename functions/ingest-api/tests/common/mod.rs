//! Shared helpers of the function's tests: the sample events, invoking the handler, reading answers.

#![allow(dead_code)]

use base64::Engine;
use lambda_http::{Body, Response};
use pinpipe_ingest::Ingest;
use serde_json::Value;

/// The naming prefix of the sample events.
pub const PREFIX: &str = "pinpipe";

/// The sample event `events/<name>.json`, parsed as the Lambda runtime does.
pub fn event(name: &str) -> (Value, lambda_http::Request) {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    let json = serde_json::from_str(&text).unwrap();
    (json, lambda_http::request::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}")))
}

/// The records the event's body holds (decoding API Gateway's base64 where it encoded the body).
pub fn body_of(event: &Value) -> Value {
    serde_json::from_str(&raw_body(event)).unwrap()
}

/// The event's body text, base64-decoded where API Gateway encoded it.
pub fn raw_body(event: &Value) -> String {
    let body = event["body"].as_str().unwrap();
    if event["isBase64Encoded"] == true {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap()
    } else {
        body.to_string()
    }
}

/// Invokes the function's handler with `api` on the sample event `name`: the event, the status, the
/// content type and the body.
pub async fn invoke(api: &Ingest, name: &str) -> (Value, u16, String, Value) {
    let (event, request) = event(name);
    let response: Response<Body> = ingest_api::handle(api, request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap();
    (event, status, content_type, body)
}

/// Asserts the REST-proxy error envelope with this status and code, and a message naming `named`.
pub fn assert_envelope(status: u16, body: &Value, expected_status: u16, code: u64, named: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(named), "{message}");
}
