//! The kafka-to-s3 handler, fed the sample MSK events of `events/`, on a local-folder lake and (feature
//! `local-servers`) a real S3 server (moto): exact keys and bytes, idempotent redelivery, refused values,
//! the largest Lambda payload, and (S3 only) an S3 failure failing the invocation.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::kafka::KafkaEvent;
use bytes::Bytes;
use kafka_to_s3::LandingSummary;
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_contract::{layout, Origin, Payload, RejectKind, RejectedRecord, Stage, Table, TopicPosition};
use pinpipe_events::{kafka_event_within, EventOrigin, TopicMessage};
use pinpipe_lake::testing::{on_each_lake, real_sample_dir, snapshot};
use pinpipe_lake::{ObjectStore, StoreError};

/// A sample event of `events/`, by file stem.
fn sample_event(name: &str) -> KafkaEvent {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is no KafkaEvent: {e}"))
}

async fn deliver(store: &Arc<dyn ObjectStore>, event: KafkaEvent) -> Result<LandingSummary, StoreError> {
    kafka_to_s3::handle(store.clone(), LambdaEvent::new(event, Context::default())).await
}

/// The real-sample line of `table` with key `key`, exactly as in the file.
fn sample_line(table: &str, key: i64) -> String {
    let path = real_sample_dir().join(format!("{table}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let field = if table == "pin" { "index" } else { "ind" };
    text.lines()
        .find(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()[field] == key)
        .unwrap_or_else(|| panic!("no {table} record {key}"))
        .to_string()
}

/// Lines joined as a JSON-lines object.
fn jsonl(lines: &[String]) -> Bytes {
    lines.iter().flat_map(|line| [line.as_str(), "\n"]).collect::<String>().into()
}

fn summary(objects: usize, landed: usize, rejected: usize, rejected_objects: usize) -> LandingSummary {
    LandingSummary { objects_written: objects, records_landed: landed, records_rejected: rejected, rejected_objects }
}

#[tokio::test]
async fn each_table_lands_at_kafka_connect_keys_with_the_values_as_produced() {
    on_each_lake("k2s-tables", |store| async move {
        // The sample events hold the real records 4, 12 and 525 of each table: pin over two partitions,
        // geo with a gap in its offsets (41, 42, 44), user as one contiguous run.
        let line = |table: &str, key| sample_line(table, key);
        let expected: BTreeMap<String, Bytes> = [
            ("topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000041.json", jsonl(&[line("pin", 4), line("pin", 12)])),
            ("topics/pinpipe.pin/partition=1/pinpipe.pin+1+0000000017.json", jsonl(&[line("pin", 525)])),
            ("topics/pinpipe.geo/partition=0/pinpipe.geo+0+0000000041.json", jsonl(&[line("geo", 4), line("geo", 12)])),
            ("topics/pinpipe.geo/partition=0/pinpipe.geo+0+0000000044.json", jsonl(&[line("geo", 525)])),
            (
                "topics/pinpipe.user/partition=0/pinpipe.user+0+0000000041.json",
                jsonl(&[line("user", 4), line("user", 12), line("user", 525)]),
            ),
        ]
        .into_iter()
        .map(|(key, body)| (key.to_string(), body))
        .collect();

        assert_eq!(deliver(&store, sample_event("kafka-to-s3-pin")).await.unwrap(), summary(2, 3, 0, 0));
        assert_eq!(deliver(&store, sample_event("kafka-to-s3-geo")).await.unwrap(), summary(2, 3, 0, 0));
        assert_eq!(deliver(&store, sample_event("kafka-to-s3-user")).await.unwrap(), summary(1, 3, 0, 0));
        assert_eq!(snapshot(store.as_ref(), "").await, expected);
        for key in expected.keys() {
            assert!(layout::parse_raw_key(key).is_some(), "{key} is a raw key the batch transform reads");
        }
    })
    .await;
}

#[tokio::test]
async fn a_redelivered_batch_rewrites_the_same_objects() {
    on_each_lake("k2s-redelivery", |store| async move {
        deliver(&store, sample_event("kafka-to-s3-pin")).await.unwrap();
        deliver(&store, sample_event("kafka-to-s3-bad-values")).await.unwrap();
        let first = snapshot(store.as_ref(), "").await;
        // Two raw objects of the pin batch; two around the refusals of the other, and its refusals.
        assert_eq!(first.len(), 5, "{:?}", first.keys());

        // The same events again, and the pin batch redelivered with its partitions and records in
        // another order: the same keys, the same bytes, nothing added.
        deliver(&store, sample_event("kafka-to-s3-pin")).await.unwrap();
        deliver(&store, sample_event("kafka-to-s3-bad-values")).await.unwrap();
        assert_eq!(snapshot(store.as_ref(), "").await, first);
        let redelivered = deliver(&store, sample_event("kafka-to-s3-redelivery")).await.unwrap();
        assert_eq!(redelivered, summary(2, 3, 0, 0));
        assert_eq!(snapshot(store.as_ref(), "").await, first);
    })
    .await;
}

#[tokio::test]
async fn bad_values_go_to_rejected_without_failing_the_batch() {
    on_each_lake("k2s-bad", |store| async move {
        // Offsets 100..=105: two good records around a truncated value, a null value, a pretty-printed
        // (multi-line) value and a Latin-1 value. One run: a raw object for each stretch of landed
        // offsets (line i of an object is offset first + i), and one rejected object.
        let landed = deliver(&store, sample_event("kafka-to-s3-bad-values")).await.unwrap();
        assert_eq!(landed, summary(2, 2, 4, 1));
        let raw = store.get("topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000100.json").await.unwrap();
        assert_eq!(raw, jsonl(&[sample_line("pin", 4)]));
        let raw = store.get("topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000105.json").await.unwrap();
        assert_eq!(raw, jsonl(&[sample_line("pin", 525)]));

        let rejected = store.get(&layout::landing_rejected_key("pinpipe.pin", 0, 100)).await.unwrap();
        let records: Vec<RejectedRecord> = RejectedRecord::parse_lines(&rejected).map(Result::unwrap).collect();
        let position = |offset| Origin::Kafka(TopicPosition { topic: "pinpipe.pin".into(), partition: 0, offset });
        assert_eq!(
            records.iter().map(|r| r.origin.clone()).collect::<Vec<_>>(),
            (101..=104).map(position).collect::<Vec<_>>()
        );
        assert!(records.iter().all(|r| r.stage == Stage::KafkaToS3 && r.table == Some(Table::Pin)));
        let kinds: Vec<RejectKind> = records.iter().map(|r| r.kind).collect();
        use RejectKind::{LineBreak, MissingValue, NotJson, NotUtf8};
        assert_eq!(kinds, [NotJson, MissingValue, LineBreak, NotUtf8]);
        assert!(records[0].reason.starts_with("the value is not valid JSON"), "{}", records[0].reason);
        assert_eq!(records[1].reason, "the record has no value (null)");
        assert!(records[2].reason.contains("raw line break"), "{}", records[2].reason);
        assert!(records[3].reason.starts_with("the value is not UTF-8"), "{}", records[3].reason);
        // Each value as received: the truncated text, none, the multi-line text, the Latin-1 bytes.
        let pin_12 = sample_line("pin", 12);
        assert_eq!(records[0].payload, Some(Payload::Text(pin_12[..157].to_string())));
        assert_eq!(records[1].payload, None);
        assert!(matches!(&records[2].payload, Some(Payload::Text(text)) if text.starts_with("{\n  \"index\": 12,")));
        let latin1 = records[3].payload.as_ref().unwrap().to_bytes().unwrap();
        assert!(matches!(records[3].payload, Some(Payload::Base64(_))));
        assert!(latin1.windows(14).any(|window| window == b"Botanical Mus\xe9"), "{latin1:?}");

        // A topic that feeds no table: every record refused, nothing under topics/.
        let other = deliver(&store, sample_event("kafka-to-s3-wrong-topic")).await.unwrap();
        assert_eq!(other, summary(0, 0, 2, 1));
        assert!(store.list("topics/pinpipe.clicks/").await.unwrap().is_empty());
        let rejected = store.get(&layout::landing_rejected_key("pinpipe.clicks", 0, 7)).await.unwrap();
        let first = RejectedRecord::parse_lines(&rejected).next().unwrap().unwrap();
        assert_eq!(
            first.origin,
            Origin::Kafka(TopicPosition { topic: "pinpipe.clicks".into(), partition: 0, offset: 7 })
        );
        assert_eq!((first.kind, first.table), (RejectKind::UnknownTopic, None));
        assert!(first.reason.contains("feeds no table"), "{first:?}");
        assert_eq!(first.payload, Some(Payload::Text(sample_line("geo", 4))));
    })
    .await;
}

#[tokio::test]
async fn an_empty_batch_writes_nothing() {
    on_each_lake("k2s-empty", |store| async move {
        let landed = deliver(&store, sample_event("kafka-to-s3-empty")).await.unwrap();
        assert_eq!(landed, LandingSummary::default());
        assert!(store.list("").await.unwrap().is_empty());
    })
    .await;
}

/// The largest request Lambda accepts for a synchronous invoke.
const MAX_LAMBDA_PAYLOAD: usize = 6 * 1024 * 1024;

#[tokio::test]
async fn a_batch_of_the_largest_lambda_payload_lands_whole() {
    on_each_lake("k2s-6mb", |store| async move {
        // Generated pin records over 4 partitions, filling a 6 MB event (base64 values).
        let messages = pinpipe_emulate::Generator::new(11)
            .enumerate()
            .map(|(i, post)| TopicMessage::numbered("pinpipe.pin", 4, i, pinpipe_emulate::json_text(&post.pin)));
        let (event, messages) = kafka_event_within(&EventOrigin::new("127.0.0.1:9092"), messages, MAX_LAMBDA_PAYLOAD);
        assert!((MAX_LAMBDA_PAYLOAD - 64 * 1024..=MAX_LAMBDA_PAYLOAD).contains(&event.len()), "{} bytes", event.len());
        let records = messages.len();
        let mut expected: BTreeMap<String, String> = BTreeMap::new();
        for message in &messages {
            let key = layout::raw_key(&message.topic, message.partition as i64, 1_000_000);
            let object = expected.entry(key).or_default();
            object.push_str(std::str::from_utf8(message.value.as_deref().unwrap()).unwrap());
            object.push('\n');
        }

        let landed = deliver(&store, serde_json::from_str(&event).unwrap()).await.unwrap();
        assert_eq!(landed, summary(4, records, 0, 0));
        let objects = snapshot(store.as_ref(), layout::RAW_PREFIX).await;
        let expected: BTreeMap<String, Bytes> =
            expected.into_iter().map(|(key, body)| (key, Bytes::from(body))).collect();
        assert_eq!(objects.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
        assert!(objects == expected, "landed bytes differ from the produced values");
    })
    .await;
}

#[cfg(feature = "local-servers")]
#[tokio::test]
async fn an_s3_failure_fails_the_invocation() {
    let missing = pinpipe_lake::testing::missing_s3_store().await;
    let name = missing.location();
    let store: Arc<dyn ObjectStore> = Arc::new(missing);
    let error = deliver(&store, sample_event("kafka-to-s3-pin")).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(name.trim_end_matches('/')) && message.contains("does not exist"), "{message}");
}
