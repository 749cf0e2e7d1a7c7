//! The Kinesis event as the stream processor reads it: the same JSON as `aws_lambda_events`'
//! `KinesisEvent` (the samples in `events/` read as both), but only the four fields the processor
//! uses. The runtime deserialises every event into this type and the handler drops it, so the seven
//! per-record strings it would not read (region, event name and source, versions, identity, partition
//! key) are skipped instead of allocated, parsed and freed 10,000 times a batch, and the data is decoded
//! with SIMD base64 (`benches/stream.rs`, `stream/stage/event_json`).

use pinpipe_events::Base64Bytes;
use serde::Deserialize;

/// A batch of Kinesis records from one shard, as Lambda delivers it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KinesisBatch {
    /// The records, in shard order.
    #[serde(rename = "Records")]
    pub records: Vec<KinesisBatchRecord>,
}

/// One record of a [`KinesisBatch`].
#[derive(Debug, Clone, Deserialize)]
pub struct KinesisBatchRecord {
    /// The ARN of the stream the record was read from: it names the record's table.
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: Option<String>,
    /// `<shard id>:<sequence number>`.
    #[serde(rename = "eventID", default)]
    pub event_id: Option<String>,
    /// The Kinesis part of the record.
    pub kinesis: KinesisPayload,
}

/// The Kinesis part of a [`KinesisBatchRecord`].
#[derive(Debug, Clone, Deserialize)]
pub struct KinesisPayload {
    /// The record's sequence number in its shard.
    #[serde(rename = "sequenceNumber", default)]
    pub sequence_number: String,
    /// The record's data (base64 in the JSON, decoded with SIMD).
    pub data: Base64Bytes,
    /// When Kinesis stored the record, in seconds since 1970 (with milliseconds); 0 when unknown.
    #[serde(rename = "approximateArrivalTimestamp", default)]
    pub approximate_arrival_timestamp: f64,
}

impl KinesisBatchRecord {
    /// When Kinesis stored the record, in milliseconds since 1970 (0 when the event does not say).
    pub fn arrival_ms(&self) -> i64 {
        (self.kinesis.approximate_arrival_timestamp * 1000.0).round() as i64
    }

    /// The record's shard: its `eventID` is `<shard id>:<sequence number>`.
    pub fn shard(&self) -> &str {
        self.event_id
            .as_deref()
            .and_then(|id| id.split_once(':').map(|(shard, _)| shard))
            .filter(|shard| !shard.is_empty())
            .unwrap_or("unknown-shard")
    }
}
