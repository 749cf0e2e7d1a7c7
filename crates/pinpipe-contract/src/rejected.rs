//! The one schema of a refused record (docs/SPEC.md §3), written by every stage as one JSON line
//! under `rejected/<stage>/…` and read back by the accounting and by anyone replaying records:
//!
//! ```json
//! {"stage":"kafka-to-s3","table":"pin","origin":{"kafka":{"topic":"p.pin","partition":0,"offset":42}},
//!  "kind":"not_json","reason":"the value is not valid JSON: …","payload":{"text":"{\"ind\": 1"}}
//! ```
//!
//! The origin says exactly where the record was (a line of an input, a Kafka or a Kinesis position)
//! and the payload holds the record as received, so that it can be replayed once its rule is fixed.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::table::Table;

/// The stage that refused a record; also the folder of its refusals (`rejected/<stage>/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The daily batch, decoding raw objects.
    BatchTransform,
    /// The MSK-triggered landing function.
    KafkaToS3,
    /// The Kinesis-triggered stream processor.
    StreamProcessor,
}

impl Stage {
    /// The stage's name, as in the lake (`batch-transform`, `kafka-to-s3`, `stream-processor`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::BatchTransform => "batch-transform",
            Stage::KafkaToS3 => "kafka-to-s3",
            Stage::StreamProcessor => "stream-processor",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a Kafka record is: topic, partition, offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPosition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i64,
    /// The record's offset in its partition.
    pub offset: i64,
}

/// Where a Kinesis record is: stream, shard, sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamPosition {
    /// The stream's name (or, for a record whose event named no Kinesis stream, what it named).
    pub stream: String,
    /// The shard.
    pub shard_id: String,
    /// The record's sequence number in its shard.
    pub sequence_number: String,
}

/// Where a refused record was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A line of an input: a raw object's key or a file's path, and the 1-based line number.
    Line {
        /// The object key or file path.
        source: String,
        /// The 1-based line number.
        line: u64,
    },
    /// A Kafka record.
    Kafka(TopicPosition),
    /// A Kinesis record.
    Kinesis(StreamPosition),
}

/// Why a record was refused, for counting; the refusal's `reason` says it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// Not valid JSON.
    NotJson,
    /// JSON, but not an object.
    NotObject,
    /// The object has no key field (or it is null).
    MissingKey,
    /// The key is not a JSON integer.
    KeyNotInteger,
    /// The key is an integer outside the int32 range.
    KeyOutOfRange,
    /// A field appears twice in the object, so its value is ambiguous.
    DuplicateField,
    /// A Kafka record with no value.
    MissingValue,
    /// A Kafka value that is not base64 (as Lambda's MSK event must carry it).
    NotBase64,
    /// Bytes that are not UTF-8.
    NotUtf8,
    /// A value holding a raw line break, so it cannot be one JSON line of a raw object.
    LineBreak,
    /// A topic that feeds no table.
    UnknownTopic,
    /// A stream that feeds no table (or a record that names no Kinesis stream).
    UnknownStream,
}

/// A record's bytes as received: text when they are UTF-8, base64 when they are not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// The bytes, which are UTF-8.
    Text(String),
    /// The bytes in standard base64, when they are not UTF-8.
    Base64(String),
}

impl Payload {
    /// The payload of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Payload::Text(text.to_string()),
            Err(_) => Payload::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// The bytes as received.
    pub fn to_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match self {
            Payload::Text(text) => Ok(text.as_bytes().to_vec()),
            Payload::Base64(encoded) => base64::engine::general_purpose::STANDARD.decode(encoded),
        }
    }
}

/// One refused record: a line of a `rejected/<stage>/…` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecord {
    /// The stage that refused it.
    pub stage: Stage,
    /// The table it was meant for, when that is known.
    pub table: Option<Table>,
    /// Where it was.
    pub origin: Origin,
    /// Why, for counting.
    pub kind: RejectKind,
    /// Why, in words.
    pub reason: String,
    /// The record as received; `None` when it had no value.
    pub payload: Option<Payload>,
}

impl RejectedRecord {
    /// `records` as JSON lines, each ending in `\n`: the body of a `rejected/` object.
    pub fn to_json_lines<'a>(records: impl IntoIterator<Item = &'a RejectedRecord>) -> Vec<u8> {
        let mut out = Vec::new();
        for record in records {
            serde_json::to_writer(&mut out, record).expect("a rejected record is plain JSON");
            out.push(b'\n');
        }
        out
    }

    /// The records of a `rejected/` object, in order; blank lines are skipped.
    pub fn parse_lines(body: &[u8]) -> impl Iterator<Item = serde_json::Result<RejectedRecord>> + '_ {
        body.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).map(serde_json::from_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_schema_is_as_documented() {
        let record = RejectedRecord {
            stage: Stage::KafkaToS3,
            table: Some(Table::Pin),
            origin: Origin::Kafka(TopicPosition { topic: "p.pin".into(), partition: 0, offset: 42 }),
            kind: RejectKind::NotJson,
            reason: "the value is not valid JSON".into(),
            payload: Some(Payload::Text("{\"ind\": 1".into())),
        };
        let line = String::from_utf8(RejectedRecord::to_json_lines([&record])).unwrap();
        assert_eq!(
            line,
            concat!(
                r#"{"stage":"kafka-to-s3","table":"pin","origin":{"kafka":{"topic":"p.pin","partition":0,"offset":42}},"#,
                r#""kind":"not_json","reason":"the value is not valid JSON","payload":{"text":"{\"ind\": 1"}}"#,
                "\n"
            )
        );
        let parsed: Vec<RejectedRecord> = RejectedRecord::parse_lines(line.as_bytes()).map(Result::unwrap).collect();
        assert_eq!(parsed, [record]);
    }

    #[test]
    fn every_origin_round_trips() {
        let origins = [
            Origin::Line { source: "topics/p.pin/partition=0/p.pin+0+0000000000.json".into(), line: 3 },
            Origin::Kafka(TopicPosition { topic: "p.geo".into(), partition: 2, offset: 7 }),
            Origin::Kinesis(StreamPosition {
                stream: "streaming-p-user".into(),
                shard_id: "shardId-000000000001".into(),
                sequence_number: "49590338271490256608559692538361571095921575989136588898".into(),
            }),
        ];
        for origin in origins {
            let record = RejectedRecord {
                stage: Stage::StreamProcessor,
                table: None,
                origin,
                kind: RejectKind::UnknownStream,
                reason: "no table".into(),
                payload: None,
            };
            let text = serde_json::to_string(&record).unwrap();
            assert_eq!(serde_json::from_str::<RejectedRecord>(&text).unwrap(), record, "{text}");
        }
        let line = serde_json::to_value(Origin::Line { source: "a".into(), line: 1 }).unwrap();
        assert_eq!(line, serde_json::json!({"line": {"source": "a", "line": 1}}));
    }

    #[test]
    fn payloads_keep_the_bytes_as_received() {
        assert_eq!(Payload::of_bytes(b"{\"a\": 1}"), Payload::Text("{\"a\": 1}".into()));
        let latin1 = b"{\"a\": \"\xe9\"}";
        let payload = Payload::of_bytes(latin1);
        assert!(matches!(payload, Payload::Base64(_)));
        assert_eq!(payload.to_bytes().unwrap(), latin1);
        assert_eq!(serde_json::to_value(&payload).unwrap(), serde_json::json!({"base64": "eyJhIjogIukifQ=="}));
    }
}
