//! The refused `events/ingest-*.json` samples (API Gateway HTTP API v2 requests, as the Lambda receives
//! them) through the function's handler, with prefix `pinpipe`: each gets its REST-proxy envelope.
//! Refused requests reach neither Kafka nor Kinesis, so this needs no server (the good samples are
//! `events.rs`, feature `local-servers`).

mod common;

use std::sync::Arc;

use common::{assert_envelope, invoke, PREFIX};
use pinpipe_ingest::testing::{AckingProducer, AckingWriter};
use pinpipe_ingest::{Ingest, Names};
use serde_json::Value;

/// Invokes the handler of prefix `pinpipe` on the sample event `name`, with a Kafka and a Kinesis
/// that would store anything (no refused request reaches them).
async fn refused(name: &str) -> (u16, Value) {
    let api = Ingest::new(
        Names::new(PREFIX),
        Some(Arc::new(AckingProducer::default())),
        Some(Arc::new(AckingWriter::default())),
    );
    let (_, status, _, answer) = invoke(&api, name).await;
    (status, answer)
}

#[tokio::test]
async fn topic_unknown() {
    let (status, answer) = refused("ingest-topic-unknown").await;
    assert_envelope(status, &answer, 404, 40401, "pinpipe.comments");
}

#[tokio::test]
async fn topic_bad_json() {
    let (status, answer) = refused("ingest-topic-bad-json").await;
    assert_envelope(status, &answer, 400, 40001, "not valid JSON");
}

#[tokio::test]
async fn topic_wrong_content_type() {
    let (status, answer) = refused("ingest-topic-wrong-content-type").await;
    assert_envelope(status, &answer, 415, 41501, "application/vnd.kafka.binary.v2+json");
}

#[tokio::test]
async fn topic_malformed_record() {
    let (status, answer) = refused("ingest-topic-malformed").await;
    assert_envelope(status, &answer, 422, 42203, "records[1] has no `value`");
}

#[tokio::test]
async fn stream_unknown() {
    let (status, answer) = refused("ingest-stream-unknown").await;
    assert_envelope(status, &answer, 404, 40401, "streaming-other-pin");
}

#[tokio::test]
async fn stream_records_malformed() {
    let (status, answer) = refused("ingest-stream-records-malformed").await;
    assert_envelope(status, &answer, 422, 42206, "records[1] has no `partition-key`");
}
