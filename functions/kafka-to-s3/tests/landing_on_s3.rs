//! The kafka-to-s3 handler against a real S3 server (moto), fed the sample MSK events of `events/`:
//! exact keys and bytes, idempotent redelivery, refused values, the largest Lambda payload, and an S3
//! failure failing the invocation.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::kafka::KafkaEvent;
use bytes::Bytes;
use kafka_to_s3::LandingSummary;
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_events::{kafka_event_within, EventOrigin, TopicMessage};
use pinpipe_lake::testing::{fresh_s3_store, real_sample_dir, snapshot};
use pinpipe_lake::{layout, ObjectStore};

/// A sample event of `events/`, by file stem.
fn sample_event(name: &str) -> KafkaEvent {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is no KafkaEvent: {e}"))
}

async fn deliver(store: &Arc<dyn ObjectStore>, event: KafkaEvent) -> anyhow::Result<LandingSummary> {
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
    let store: Arc<dyn ObjectStore> = Arc::new(fresh_s3_store("k2s-tables").await);
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
}

#[tokio::test]
async fn a_redelivered_batch_rewrites_the_same_objects() {
    let store: Arc<dyn ObjectStore> = Arc::new(fresh_s3_store("k2s-redelivery").await);
    deliver(&store, sample_event("kafka-to-s3-pin")).await.unwrap();
    deliver(&store, sample_event("kafka-to-s3-bad-values")).await.unwrap();
    let first = snapshot(store.as_ref(), "").await;
    assert_eq!(first.len(), 4, "{:?}", first.keys());

    // The same events again, and the pin batch redelivered with its partitions and records in
    // another order: the same keys, the same bytes, nothing added.
    deliver(&store, sample_event("kafka-to-s3-pin")).await.unwrap();
    deliver(&store, sample_event("kafka-to-s3-bad-values")).await.unwrap();
    assert_eq!(snapshot(store.as_ref(), "").await, first);
    let redelivered = deliver(&store, sample_event("kafka-to-s3-redelivery")).await.unwrap();
    assert_eq!(redelivered, summary(2, 3, 0, 0));
    assert_eq!(snapshot(store.as_ref(), "").await, first);
}

#[tokio::test]
async fn bad_values_go_to_rejected_without_failing_the_batch() {
    let store: Arc<dyn ObjectStore> = Arc::new(fresh_s3_store("k2s-bad").await);
    // Offsets 100..=105: two good records around a truncated value, a null value, a pretty-printed
    // (multi-line) value and a Latin-1 value. One run: one raw object and one rejected object.
    let landed = deliver(&store, sample_event("kafka-to-s3-bad-values")).await.unwrap();
    assert_eq!(landed, summary(1, 2, 4, 1));
    let raw = store.get("topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000100.json").await.unwrap();
    assert_eq!(raw, jsonl(&[sample_line("pin", 4), sample_line("pin", 525)]));

    let key = "rejected/kafka-to-s3/pinpipe.pin/partition=0/pinpipe.pin+0+0000000100.jsonl";
    let rejected = store.get(key).await.unwrap();
    let lines: Vec<serde_json::Value> = rejected
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let summary_of = |line: &serde_json::Value| {
        (
            line["topic"].as_str().unwrap().to_string(),
            line["partition"].as_i64().unwrap(),
            line["offset"].as_i64().unwrap(),
        )
    };
    assert_eq!(
        lines.iter().map(summary_of).collect::<Vec<_>>(),
        (101..=104).map(|o| ("pinpipe.pin".to_string(), 0, o)).collect::<Vec<_>>()
    );
    let reasons: Vec<&str> = lines.iter().map(|line| line["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("the value is not valid JSON"), "{}", reasons[0]);
    assert_eq!(reasons[1], "the record has no value (null)");
    assert!(reasons[2].contains("raw line break"), "{}", reasons[2]);
    assert!(reasons[3].starts_with("the value is not UTF-8"), "{}", reasons[3]);
    let pin_12 = sample_line("pin", 12);
    assert_eq!(lines[0]["value"], pin_12[..157]);
    assert_eq!(lines[1]["value"], serde_json::Value::Null);
    assert!(lines[2]["value"].as_str().unwrap().starts_with("{\n  \"index\": 12,"));
    assert!(lines[3]["value"].as_str().unwrap().contains("Botanical Mus\u{FFFD}"));

    // A topic that feeds no table: every record refused, nothing under topics/.
    let other = deliver(&store, sample_event("kafka-to-s3-wrong-topic")).await.unwrap();
    assert_eq!(other, summary(0, 0, 2, 1));
    assert!(store.list("topics/pinpipe.clicks/").await.unwrap().is_empty());
    let rejected =
        store.get("rejected/kafka-to-s3/pinpipe.clicks/partition=0/pinpipe.clicks+0+0000000007.jsonl").await.unwrap();
    let first: serde_json::Value = serde_json::from_slice(rejected.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["offset"], 7);
    assert!(first["reason"].as_str().unwrap().contains("feeds no table"), "{first}");
    assert_eq!(first["value"], sample_line("geo", 4));
}

#[tokio::test]
async fn an_empty_batch_writes_nothing() {
    let store: Arc<dyn ObjectStore> = Arc::new(fresh_s3_store("k2s-empty").await);
    let landed = deliver(&store, sample_event("kafka-to-s3-empty")).await.unwrap();
    assert_eq!(landed, LandingSummary::default());
    assert!(store.list("").await.unwrap().is_empty());
}

/// The largest request Lambda accepts for a synchronous invoke.
const MAX_LAMBDA_PAYLOAD: usize = 6 * 1024 * 1024;

#[tokio::test]
async fn a_batch_of_the_largest_lambda_payload_lands_whole() {
    let store: Arc<dyn ObjectStore> = Arc::new(fresh_s3_store("k2s-6mb").await);
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
    let expected: BTreeMap<String, Bytes> = expected.into_iter().map(|(key, body)| (key, Bytes::from(body))).collect();
    assert_eq!(objects.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    assert!(objects == expected, "landed bytes differ from the produced values");
}

#[tokio::test]
async fn an_s3_failure_fails_the_invocation() {
    pinpipe_lake::testing::local_environment();
    let missing = pinpipe_lake::S3Store::new(
        pinpipe_lake::S3Store::client_from_env().await,
        pinpipe_lake::testing::unique_bucket("absent"),
    );
    let name = missing.location();
    let store: Arc<dyn ObjectStore> = Arc::new(missing);
    let error = deliver(&store, sample_event("kafka-to-s3-pin")).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains(name.trim_end_matches('/')) && message.contains("does not exist"), "{message}");
}
