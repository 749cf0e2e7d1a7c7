//! The event-source loops' on-failure destination: a batch a loop gives up on (after
//! [`crate::delivery::Batching::max_retry_attempts`] retries) is kept whole in the lake under
//! `aws/lambda/`, as the one Lambda's S3 on-failure destination writes (docs/SPEC.md §3), so that
//! `pinpipe replay` treats the two alike.

use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use pinpipe_contract::failed::{FailedInvocation, KafkaBatchInfo, KinesisBatchInfo, RequestContext, ResponseContext};
use pinpipe_contract::layout;
use pinpipe_events::{kafka_event_json, kinesis_event_json, EventOrigin, ShardRecord, TopicMessage, LOCAL_ACCOUNT};
use pinpipe_lake::{ObjectStore, StoreError};
use xxhash_rust::xxh3::xxh3_128;

/// Where one loop keeps the batches it gives up on.
#[derive(Clone)]
pub struct FailureDestination {
    store: Arc<dyn ObjectStore>,
    origin: EventOrigin,
    function: String,
    /// Stands for the event source mapping's UUID: one per function and naming prefix.
    trigger_uuid: String,
}

impl FailureDestination {
    /// The destination of the loop feeding `function` (`kafka-to-s3`, `stream-processor`) for the
    /// topics or streams of `prefix`: the lake in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, origin: EventOrigin, function: &str, prefix: &str) -> Self {
        let trigger_uuid = uuid_of(format!("{function}/{prefix}").as_bytes());
        Self { store, origin, function: function.to_string(), trigger_uuid }
    }

    /// The record of a Kinesis batch (one shard's `records`, not empty) given up after `attempts`.
    pub fn kinesis(&self, records: &[ShardRecord], attempts: u32, error: &str) -> (String, FailedInvocation) {
        let (first, last) = (&records[0], &records[records.len() - 1]);
        let info = KinesisBatchInfo {
            shard_id: first.shard.clone(),
            start_sequence_number: first.sequence_number.clone(),
            end_sequence_number: last.sequence_number.clone(),
            approximate_arrival_of_first_record: rfc3339(first.arrival_ms),
            approximate_arrival_of_last_record: rfc3339(last.arrival_ms),
            batch_size: records.len(),
            stream_arn: self.origin.stream_arn(&first.stream),
        };
        let mut record = self.record(kinesis_event_json(&self.origin, records).to_string(), attempts, error);
        record.kinesis_batch_info = Some(info);
        (self.key(&first.shard, &record), record)
    }

    /// The record of an MSK batch (`messages`, not empty) given up after `attempts`.
    pub fn kafka(&self, messages: &[TopicMessage], attempts: u32, error: &str) -> (String, FailedInvocation) {
        let first = &messages[0];
        let of_partition = messages.iter().filter(|m| m.topic == first.topic && m.partition == first.partition);
        let info = KafkaBatchInfo {
            batch_size: messages.len(),
            topic: first.topic.clone(),
            partition: i64::from(first.partition),
            start_offset: of_partition.clone().map(|m| m.offset).min().unwrap_or(first.offset),
            end_offset: of_partition.map(|m| m.offset).max().unwrap_or(first.offset),
        };
        let mut record = self.record(kafka_event_json(&self.origin, messages).to_string(), attempts, error);
        record.kafka_batch_info = Some(info);
        (self.key(&format!("{}-{}", first.topic, first.partition), &record), record)
    }

    /// Writes `record` at `key`.
    pub async fn keep(&self, key: &str, record: &FailedInvocation) -> Result<(), StoreError> {
        self.store.put(key, record.to_json().into()).await
    }

    fn record(&self, payload: String, attempts: u32, error: &str) -> FailedInvocation {
        let timestamp = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        FailedInvocation {
            request_context: RequestContext {
                request_id: uuid_of(format!("{timestamp}/{payload}").as_bytes()),
                function_arn: format!(
                    "arn:aws:lambda:{}:{LOCAL_ACCOUNT}:function:{}",
                    self.origin.region, self.function
                ),
                condition: "RetryAttemptsExhausted".to_string(),
                approximate_invoke_count: attempts,
            },
            response_context: ResponseContext {
                status_code: 200,
                executed_version: "$LATEST".to_string(),
                function_error: Some(format!("Unhandled: {error}")),
            },
            version: "1.0".to_string(),
            timestamp,
            kinesis_batch_info: None,
            kafka_batch_info: None,
            payload,
        }
    }

    /// Lambda's key for `record` of `shard_or_partition`: its time, and a UUID of its own.
    fn key(&self, shard_or_partition: &str, record: &FailedInvocation) -> String {
        let time = record.timestamp.get(..19).unwrap_or_default().replace(':', ".");
        let uuid = uuid_of(format!("{}/{}", record.request_context.request_id, record.payload).as_bytes());
        layout::failed_key(&self.trigger_uuid, shard_or_partition, &time, &uuid)
    }
}

/// A UUID-shaped name of `bytes` (8-4-4-4-12 hex digits of their 128-bit hash).
fn uuid_of(bytes: &[u8]) -> String {
    let hex = format!("{:032x}", xxh3_128(bytes));
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinpipe_contract::failed::FailedTrigger;
    use pinpipe_lake::LocalStore;

    #[test]
    fn a_kept_batch_is_a_lambda_failure_record_whose_payload_is_the_event() {
        let lake = tempfile::tempdir().unwrap();
        let destination = FailureDestination::new(
            Arc::new(LocalStore::new(lake.path())),
            EventOrigin::new("127.0.0.1:9092"),
            "stream-processor",
            "p",
        );
        let records: Vec<ShardRecord> =
            (0..3).map(|i| ShardRecord::numbered("streaming-p-pin", "shardId-000000000001", i, "{}")).collect();
        let (key, record) = destination.kinesis(&records, 3, "S3 is down");
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts[..2], ["aws", "lambda"]);
        assert_eq!(parts[3], "shardId-000000000001");
        assert_eq!(parts[4..7].join("-"), record.timestamp[..10], "filed by day");
        assert_eq!(record.trigger(), Some(FailedTrigger::Kinesis));
        let info = record.kinesis_batch_info.as_ref().unwrap();
        assert_eq!((info.batch_size, &info.end_sequence_number), (3, &records[2].sequence_number));
        let event: stream_processor::KinesisBatch = serde_json::from_str(&record.payload).unwrap();
        assert_eq!(event.records.len(), 3);

        let messages = [TopicMessage::numbered("p.geo", 2, 1, "{}")];
        let (key, record) = destination.kafka(&messages, 2, "S3 is down");
        assert!(key.contains("/p.geo-1/"), "{key}");
        assert_eq!(record.trigger(), Some(FailedTrigger::Kafka));
        assert_eq!(record.kafka_batch_info.as_ref().unwrap().start_offset, 1_000_000);
        assert!(record.response_context.function_error.as_deref().unwrap().contains("S3 is down"));
    }
}
