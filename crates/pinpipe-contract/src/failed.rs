//! The failed-invocation records under `aws/lambda/` (docs/SPEC.md §3): what a Kinesis or MSK trigger
//! keeps of a batch it gave up on, through its S3 on-failure destination. Lambda writes them on AWS;
//! `pinpipe run`/`serve` write the same records where their event-source loops give up; `pinpipe
//! replay` reads them and sends `payload` (the whole event) through the handler again.
//!
//! Only the fields pinpipe reads or writes are typed; every other field Lambda adds is ignored. The
//! batch information is optional throughout: replay needs only the payload.

use serde::{Deserialize, Deserializer, Serialize};

/// One failed-invocation record: one object under [`crate::layout::FAILED_PREFIX`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedInvocation {
    /// The invocation: why the trigger gave up, and how often it tried.
    #[serde(rename = "requestContext", default)]
    pub request_context: RequestContext,
    /// The function's answer to the last attempt.
    #[serde(rename = "responseContext", default)]
    pub response_context: ResponseContext,
    /// The record format's version (`1.0`).
    #[serde(default)]
    pub version: String,
    /// When the trigger gave up (RFC 3339).
    #[serde(default)]
    pub timestamp: String,
    /// For a Kinesis trigger: the shard and the batch's sequence numbers.
    #[serde(rename = "KinesisBatchInfo", default, skip_serializing_if = "Option::is_none")]
    pub kinesis_batch_info: Option<KinesisBatchInfo>,
    /// For an MSK trigger: the topic partition and the batch's offsets.
    #[serde(rename = "KafkaBatchInfo", default, skip_serializing_if = "Option::is_none")]
    pub kafka_batch_info: Option<KafkaBatchInfo>,
    /// The invocation's whole event, as JSON text. Read from a JSON string (as Lambda writes it) or
    /// from the event object itself.
    #[serde(deserialize_with = "event_text")]
    pub payload: String,
}

/// Why and how often a trigger invoked the function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    /// The last invocation's request id.
    #[serde(default)]
    pub request_id: String,
    /// The function invoked.
    #[serde(default)]
    pub function_arn: String,
    /// Why the trigger gave up: `RetryAttemptsExhausted`, `RecordAgeExceeded`, …
    #[serde(default)]
    pub condition: String,
    /// How many times the batch was tried.
    #[serde(default)]
    pub approximate_invoke_count: u32,
}

/// How the function answered the last attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseContext {
    /// The invoke API's status code.
    #[serde(default)]
    pub status_code: u16,
    /// The function version that ran.
    #[serde(default)]
    pub executed_version: String,
    /// `Unhandled` or `Handled` when the function failed; absent when it answered with failed items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_error: Option<String>,
}

/// The batch a Kinesis trigger gave up on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisBatchInfo {
    /// The shard.
    #[serde(default)]
    pub shard_id: String,
    /// The batch's first sequence number.
    #[serde(default)]
    pub start_sequence_number: String,
    /// The batch's last sequence number.
    #[serde(default)]
    pub end_sequence_number: String,
    /// When the first record arrived (RFC 3339).
    #[serde(default)]
    pub approximate_arrival_of_first_record: String,
    /// When the last record arrived (RFC 3339).
    #[serde(default)]
    pub approximate_arrival_of_last_record: String,
    /// Records in the batch.
    #[serde(default)]
    pub batch_size: usize,
    /// The stream's ARN.
    #[serde(default)]
    pub stream_arn: String,
}

/// The batch an MSK trigger gave up on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaBatchInfo {
    /// Records in the batch.
    #[serde(default)]
    pub batch_size: usize,
    /// The topic (of the batch's first record).
    #[serde(default)]
    pub topic: String,
    /// The partition (of the batch's first record).
    #[serde(default)]
    pub partition: i64,
    /// The batch's first offset in that partition.
    #[serde(default)]
    pub start_offset: i64,
    /// The batch's last offset in that partition.
    #[serde(default)]
    pub end_offset: i64,
}

/// Which function's event a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedTrigger {
    /// A Kinesis batch (`stream-processor`).
    Kinesis,
    /// An MSK batch (`kafka-to-s3`).
    Kafka,
}

impl FailedInvocation {
    /// Reads one record (an object's body).
    pub fn parse(body: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(body)
    }

    /// The record as JSON, the body of its object.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a failed-invocation record is plain JSON")
    }

    /// Which trigger gave up: from the batch information, else from the event's own `eventSource`
    /// (`aws:kinesis` records, or an `aws:kafka` event).
    pub fn trigger(&self) -> Option<FailedTrigger> {
        if self.kinesis_batch_info.is_some() {
            return Some(FailedTrigger::Kinesis);
        }
        if self.kafka_batch_info.is_some() {
            return Some(FailedTrigger::Kafka);
        }
        let event: serde_json::Value = serde_json::from_str(&self.payload).ok()?;
        if event.get("eventSource").and_then(|source| source.as_str()) == Some("aws:kafka") {
            return Some(FailedTrigger::Kafka);
        }
        let first = event.get("Records")?.as_array()?.first()?;
        (first.get("eventSource").and_then(|source| source.as_str()) == Some("aws:kinesis"))
            .then_some(FailedTrigger::Kinesis)
    }
}

/// The event as JSON text, whether the record holds it as a string or as an object.
fn event_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Ok(text),
        event @ serde_json::Value::Object(_) => Ok(event.to_string()),
        other => Err(serde::de::Error::custom(format!("payload is neither the event nor its JSON text: {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_its_payload_as_text_or_object_and_names_its_trigger() {
        let kinesis_event = r#"{"Records":[{"eventSource":"aws:kinesis","kinesis":{"data":"e30="}}]}"#;
        let as_text = serde_json::json!({
            "requestContext": {"requestId": "r", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-12-02T10:00:00.000Z",
            "KinesisBatchInfo": {"shardId": "shardId-000000000000", "batchSize": 1, "extra": true},
            "payload": kinesis_event,
        });
        let record = FailedInvocation::parse(as_text.to_string().as_bytes()).unwrap();
        assert_eq!(record.payload, kinesis_event);
        assert_eq!(record.request_context.approximate_invoke_count, 3);
        assert_eq!(record.trigger(), Some(FailedTrigger::Kinesis));
        assert_eq!(FailedInvocation::parse(&record.to_json()).unwrap(), record, "it reads back what it writes");

        let as_object = serde_json::json!({
            "payload": {"eventSource": "aws:kafka", "records": {}},
        });
        let record = FailedInvocation::parse(as_object.to_string().as_bytes()).unwrap();
        assert_eq!(record.trigger(), Some(FailedTrigger::Kafka));
        let event: serde_json::Value = serde_json::from_str(&record.payload).unwrap();
        assert_eq!(event["eventSource"], "aws:kafka");

        let Err(error) = FailedInvocation::parse(br#"{"payload": 7}"#) else { panic!("a number is no event") };
        assert!(error.to_string().contains("payload is neither the event nor its JSON text"), "{error}");
        assert!(FailedInvocation::parse(br#"{"version": "1.0"}"#).is_err(), "a record without payload");
    }
}
