//! The events AWS sends pinpipe's Lambda functions, built as JSON exactly as AWS shapes them (the
//! same JSON as the samples in `events/`), and read into the types the handlers take: the MSK event
//! of Kafka records ([`kafka_event`]), the Kinesis event of one shard's records ([`kinesis_event`],
//! into any type that reads that JSON: `aws_lambda_events`' or the stream processor's leaner one) and
//! the daily schedule's EventBridge event ([`scheduled_event`]). Their base64 fields are read with
//! [`decode_base64`] ([`Base64Bytes`] in a serde type).
//!
//! `pinpipe run` builds its invocations with these, and the functions' tests and benchmarks build
//! their generated events with them ([`kafka_event_within`], [`ShardRecord::numbered`]).

mod base64_data;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::kafka::KafkaEvent;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

pub use base64_data::{decode_base64, Base64Bytes, Base64Error};

/// The account id local ARNs carry.
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// One Kafka record as a consumer reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMessage {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The producer's timestamp, milliseconds since 1970.
    pub timestamp_ms: i64,
    /// The key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// The value bytes (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
}

impl TopicMessage {
    /// The `position`-th record of a made-up topic of `partitions` partitions, without a key: the
    /// records take the partitions in turn, offsets from 1,000,000 on, timestamps 1 ms apart.
    pub fn numbered(topic: &str, partitions: usize, position: usize, value: impl Into<Vec<u8>>) -> Self {
        Self {
            topic: topic.to_string(),
            partition: (position % partitions) as i32,
            offset: 1_000_000 + (position / partitions) as i64,
            timestamp_ms: 1_732_497_000_000 + position as i64,
            key: None,
            value: Some(value.into()),
        }
    }
}

/// One Kinesis record as a shard reader gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardRecord {
    /// The stream.
    pub stream: String,
    /// The shard.
    pub shard: String,
    /// The sequence number.
    pub sequence_number: String,
    /// The partition key.
    pub partition_key: String,
    /// The payload.
    pub data: Vec<u8>,
    /// When Kinesis stored it, milliseconds since 1970.
    pub arrival_ms: i64,
}

impl ShardRecord {
    /// The `position`-th record of a made-up shard: a 56-digit sequence number as Kinesis writes
    /// them, increasing with `position`, partition key `key-<position>`, arrivals 1 ms apart.
    pub fn numbered(stream: &str, shard: &str, position: usize, data: impl Into<Vec<u8>>) -> Self {
        Self {
            stream: stream.to_string(),
            shard: shard.to_string(),
            sequence_number: format!(
                "4965837012274682395821452745193218713641256348{:010}",
                1_000_000_000 + position * 4_096
            ),
            partition_key: format!("key-{position}"),
            data: data.into(),
            arrival_ms: 1_732_497_000_125 + position as i64,
        }
    }
}

/// Where the events say they come from.
#[derive(Clone, Debug)]
pub struct EventOrigin {
    /// The region ARNs name.
    pub region: String,
    /// The Kafka bootstrap list the MSK event names.
    pub bootstrap_servers: String,
}

impl EventOrigin {
    /// The origin for a Kafka bootstrap list, the region from `AWS_REGION` (else `us-east-1`).
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        let region = std::env::var("AWS_REGION").ok().filter(|region| !region.is_empty());
        Self { region: region.unwrap_or_else(|| "us-east-1".to_string()), bootstrap_servers: bootstrap_servers.into() }
    }

    fn cluster_arn(&self) -> String {
        format!(
            "arn:aws:kafka:{}:{LOCAL_ACCOUNT}:cluster/pinpipe-local/00000000-0000-0000-0000-000000000000-1",
            self.region
        )
    }

    /// The ARN of stream `name`.
    pub fn stream_arn(&self, name: &str) -> String {
        format!("arn:aws:kinesis:{}:{LOCAL_ACCOUNT}:stream/{name}", self.region)
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The MSK event for `messages`, grouped by `<topic>-<partition>` as MSK groups them.
pub fn kafka_event(origin: &EventOrigin, messages: &[TopicMessage]) -> serde_json::Result<KafkaEvent> {
    serde_json::from_value(kafka_event_json(origin, messages))
}

/// The JSON of [`kafka_event`].
pub fn kafka_event_json(origin: &EventOrigin, messages: &[TopicMessage]) -> Value {
    let mut records = Map::new();
    for message in messages {
        let group = format!("{}-{}", message.topic, message.partition);
        let entry = records.entry(group).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(kafka_record_json(message));
        }
    }
    json!({
        "eventSource": "aws:kafka",
        "eventSourceArn": origin.cluster_arn(),
        "bootstrapServers": origin.bootstrap_servers,
        "records": records,
    })
}

fn kafka_record_json(message: &TopicMessage) -> Value {
    json!({
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "timestamp": message.timestamp_ms,
        "timestampType": "CREATE_TIME",
        "key": message.key.as_deref().map(base64),
        "value": message.value.as_deref().map(base64),
        "headers": [],
    })
}

/// The JSON text of an MSK event of the first of `messages`, as many as fit in `max_bytes` with
/// about 4 KiB left for the envelope, and those messages: close to the largest event Lambda would
/// send from them (6 MiB is the largest synchronous payload). The text is never longer than
/// `max_bytes`, unless an event without records already is.
pub fn kafka_event_within(
    origin: &EventOrigin,
    messages: impl IntoIterator<Item = TopicMessage>,
    max_bytes: usize,
) -> (String, Vec<TopicMessage>) {
    // The envelope and the group names take far less than this with a few partitions; each record
    // adds its own text and a comma.
    const ENVELOPE: usize = 4_096;
    let mut taken = Vec::new();
    let mut size = ENVELOPE;
    for message in messages {
        size += kafka_record_json(&message).to_string().len() + 1;
        if size > max_bytes {
            break;
        }
        taken.push(message);
    }
    let mut text = kafka_event_json(origin, &taken).to_string();
    // Many partitions' group names can outgrow the reserve: then fewer records.
    while text.len() > max_bytes && taken.pop().is_some() {
        text = kafka_event_json(origin, &taken).to_string();
    }
    (text, taken)
}

/// The Kinesis event for one shard's `records`, read as `E` (the handler's event type).
pub fn kinesis_event<E: DeserializeOwned>(origin: &EventOrigin, records: &[ShardRecord]) -> serde_json::Result<E> {
    serde_json::from_value(kinesis_event_json(origin, records))
}

/// The JSON of [`kinesis_event`].
pub fn kinesis_event_json(origin: &EventOrigin, records: &[ShardRecord]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key,
                    "sequenceNumber": record.sequence_number,
                    "data": base64(&record.data),
                    "approximateArrivalTimestamp": record.arrival_ms as f64 / 1000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{}:{}", record.shard, record.sequence_number),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/pinpipe-stream-processor-role"),
                "awsRegion": origin.region,
                "eventSourceARN": origin.stream_arn(&record.stream),
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The daily schedule's event, fired at `time`.
pub fn scheduled_event(origin: &EventOrigin, time: DateTime<Utc>) -> serde_json::Result<EventBridgeEvent> {
    serde_json::from_value(scheduled_event_json(origin, time))
}

/// The JSON of [`scheduled_event`].
fn scheduled_event_json(origin: &EventOrigin, time: DateTime<Utc>) -> Value {
    json!({
        "version": "0",
        "id": format!("local-{}", time.timestamp_millis()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": origin.region,
        "resources": [format!("arn:aws:events:{}:{LOCAL_ACCOUNT}:rule/pinpipe-daily-batch", origin.region)],
        "detail": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The keys of every object in `value`, recursively, with their paths (array items as `[]`).
    fn shape(value: &Value, path: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    let path = format!("{path}.{key}");
                    out.insert(path.clone());
                    shape(item, &path, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| shape(item, &format!("{path}[]"), out)),
            _ => {}
        }
    }

    fn shape_of(value: &Value, group_names: &[&str]) -> std::collections::BTreeSet<String> {
        let mut text = value.to_string();
        for name in group_names {
            text = text.replace(name, "GROUP");
        }
        let mut out = Default::default();
        shape(&serde_json::from_str(&text).unwrap(), "", &mut out);
        out
    }

    #[test]
    fn built_events_have_the_shape_of_the_samples() {
        let origin = EventOrigin::new("127.0.0.1:9092");
        let message = TopicMessage {
            topic: "pinpipe.pin".into(),
            partition: 0,
            offset: 100,
            timestamp_ms: 1_732_497_000_000,
            key: None,
            value: Some(b"{\"index\": 4}".to_vec()),
        };
        kafka_event(&origin, std::slice::from_ref(&message)).unwrap();
        let built = kafka_event_json(&origin, &[message]);
        let msk_sample = sample("kafka-to-s3-pin");
        let groups = ["pinpipe.pin-0", "pinpipe.pin-1"];
        assert_eq!(shape_of(&built, &groups), shape_of(&msk_sample, &groups));
        assert_eq!(built["records"]["pinpipe.pin-0"][0]["value"], base64(b"{\"index\": 4}"));

        let record = ShardRecord {
            stream: "streaming-pinpipe-pin".into(),
            shard: "shardId-000000000000".into(),
            sequence_number: "42".into(),
            partition_key: "pin-4".into(),
            data: b"{}".to_vec(),
            arrival_ms: 1_732_497_000_125,
        };
        kinesis_event::<aws_lambda_events::kinesis::KinesisEvent>(&origin, std::slice::from_ref(&record)).unwrap();
        let built = kinesis_event_json(&origin, &[record]);
        assert_eq!(shape_of(&built, &[]), shape_of(&sample("stream-processor-pin"), &[]));
        assert_eq!(built["Records"][0]["eventID"], "shardId-000000000000:42");
        assert_eq!(built["Records"][0]["eventSourceARN"], origin.stream_arn("streaming-pinpipe-pin"));

        let time = DateTime::parse_from_rfc3339("2026-11-25T01:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(scheduled_event(&origin, time).unwrap().time, Some(time));
        let built = scheduled_event_json(&origin, time);
        assert_eq!(shape_of(&built, &[]), shape_of(&sample("batch-transform-scheduled"), &[]));
        assert_eq!(built["time"], "2026-11-25T01:30:00Z");
    }

    #[test]
    fn an_event_within_a_size_takes_the_first_messages_that_fit() {
        let origin = EventOrigin::new("127.0.0.1:9092");
        let message =
            |position: usize| TopicMessage::numbered("pinpipe.pin", 3, position, format!("{{\"index\": {position}}}"));
        let (text, taken) = kafka_event_within(&origin, (0..10_000).map(message), 64 * 1024);
        assert!(text.len() <= 64 * 1024 && text.len() > 60 * 1024, "{} bytes", text.len());
        assert_eq!(taken, (0..taken.len()).map(message).collect::<Vec<_>>());
        assert_eq!((taken[4].partition, taken[4].offset), (1, 1_000_001));
        // A group per record (long topic names, 2,000 partitions) outgrows the envelope's reserve.
        let topic = "t".repeat(200);
        let spread = |position: usize| TopicMessage::numbered(&topic, 2_000, position, "{}");
        let (text, taken) = kafka_event_within(&origin, (0..2_000).map(spread), 64 * 1024);
        assert!(text.len() <= 64 * 1024, "{} bytes", text.len());
        assert!(!taken.is_empty());
        let event: KafkaEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(event.records.values().map(Vec::len).sum::<usize>(), taken.len());

        let record = ShardRecord::numbered("streaming-pinpipe-pin", "shardId-000000000003", 7, "{}");
        let next = ShardRecord::numbered("streaming-pinpipe-pin", "shardId-000000000003", 8, "{}");
        assert_eq!(record.sequence_number.len(), 56);
        assert!(record.sequence_number < next.sequence_number);
    }
}
