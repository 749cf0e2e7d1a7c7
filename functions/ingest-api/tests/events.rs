//! The good `events/ingest-*.json` samples (API Gateway HTTP API v2 requests, as the Lambda receives
//! them) through the function's handler, with prefix `pinpipe`, Kafka on the local broker (tansu) and
//! Kinesis on moto: each stores exactly its records. Needs both: feature `local-servers` (the refused
//! samples are `refused.rs`, which needs no server).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{body_of, raw_body, PREFIX};
use pinpipe_contract::Table;
use pinpipe_ingest::testing::{
    create_streams, create_topics, kafka_bootstrap, local_ingest, local_producer, read_stream, read_topic,
};
use pinpipe_ingest::{compact, Ingest, Names, StreamWriter, TopicProducer};
use serde_json::Value;
use tokio::sync::OnceCell;

/// The API of prefix `pinpipe`, its topics and streams created once for the whole test binary.
async fn api() -> Ingest {
    static READY: OnceCell<()> = OnceCell::const_new();
    let bootstrap = kafka_bootstrap();
    let (ingest, kinesis) = local_ingest(PREFIX, None).await;
    READY
        .get_or_init(|| async {
            create_topics(&bootstrap, ingest.names().topics(), 1).await;
            create_streams(&kinesis, ingest.names().streams()).await;
        })
        .await;
    let producer: Arc<dyn TopicProducer> = Arc::new(local_producer(&bootstrap, Duration::from_secs(10)));
    let writer: Arc<dyn StreamWriter> = Arc::new(kinesis);
    Ingest::new(Names::new(PREFIX), Some(producer), Some(writer))
}

async fn invoke(name: &str) -> (Value, u16, String, Value) {
    common::invoke(&api().await, name).await
}

/// Checks a produce answer and reads the records back from the broker at the offsets it names.
async fn assert_produced(event: &Value, status: u16, content_type: &str, answer: &Value) {
    assert_eq!(status, 200, "{answer}");
    assert_eq!(content_type, "application/vnd.kafka.v2+json");
    let topic = event["pathParameters"]["topic"].as_str().unwrap();
    let mut expected = Vec::new();
    for record in body_of(event)["records"].as_array().unwrap() {
        match &record["value"] {
            Value::Array(values) => {
                expected.extend(values.iter().map(|value| (value.clone(), record.get("key").cloned())))
            }
            value => expected.push((value.clone(), record.get("key").cloned())),
        }
    }
    let offsets = answer["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), expected.len(), "{answer}");
    let first = offsets[0]["offset"].as_i64().unwrap();
    for (index, entry) in offsets.iter().enumerate() {
        assert_eq!(entry["offset"].as_i64(), Some(first + index as i64), "consecutive offsets: {answer}");
        assert_eq!(entry["error_code"], Value::Null);
    }
    let stored = read_topic(&kafka_bootstrap(), topic, 0, first, expected.len()).await;
    let raw_body = compact(&raw_body(event));
    for ((value, key), record) in expected.iter().zip(&stored) {
        assert_eq!(serde_json::from_str::<Value>(&record.value).unwrap(), *value);
        // Stored exactly as sent, whitespace aside: the compact text appears in the compact body.
        assert!(raw_body.contains(&record.value), "{}", record.value);
        assert_eq!(record.key.as_deref(), key.as_ref().map(|key| key.to_string().into_bytes()).as_deref());
    }
    assert_eq!(stored.len(), expected.len());
}

#[tokio::test]
async fn topic_pin_base64_body_with_an_array_value() {
    let (event, status, content_type, answer) = invoke("ingest-topic-pin").await;
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(answer["offsets"].as_array().unwrap().len(), 3);
    assert_eq!(answer["key_schema_id"], Value::Null);
    assert_eq!(answer["value_schema_id"], Value::Null);
    assert_produced(&event, status, &content_type, &answer).await;
}

#[tokio::test]
async fn topic_geo_application_json_with_a_key() {
    let (event, status, content_type, answer) = invoke("ingest-topic-geo-json").await;
    assert_produced(&event, status, &content_type, &answer).await;
}

/// Checks that each stored sequence number holds the compact text of its record, as the event sent it.
async fn assert_stored(event: &Value, stream: &str, entries: &[(&Value, &Value, &Value)]) {
    let raw_body = compact(&raw_body(event));
    let (_, kinesis) = local_ingest(PREFIX, None).await;
    let stored = read_stream(&kinesis, stream).await;
    for (answer, data, partition_key) in entries {
        let sequence_number = answer["SequenceNumber"].as_str().unwrap();
        assert!(answer["ShardId"].as_str().unwrap().starts_with("shardId-"));
        let record = stored
            .iter()
            .find(|record| record.sequence_number == sequence_number)
            .unwrap_or_else(|| panic!("{sequence_number} is not in {stream}"));
        assert_eq!(serde_json::from_str::<Value>(&record.data).unwrap(), **data);
        assert!(raw_body.contains(&record.data), "{}", record.data);
        assert_eq!(record.partition_key, partition_key.as_str().unwrap());
    }
}

#[tokio::test]
async fn stream_record() {
    let (event, status, content_type, answer) = invoke("ingest-stream-record").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(content_type, "application/json");
    let body = body_of(&event);
    assert_stored(&event, Names::new(PREFIX).stream(Table::Pin), &[(&answer, &body["Data"], &body["PartitionKey"])])
        .await;
}

#[tokio::test]
async fn stream_record_under_a_named_stage() {
    let (event, status, _, answer) = invoke("ingest-stream-record-stage").await;
    assert_eq!(event["requestContext"]["stage"], "prod");
    assert_eq!(status, 200, "{answer}");
    let body = body_of(&event);
    assert_stored(&event, Names::new(PREFIX).stream(Table::User), &[(&answer, &body["Data"], &body["PartitionKey"])])
        .await;
}

#[tokio::test]
async fn stream_records() {
    let (event, status, _, answer) = invoke("ingest-stream-records").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["FailedRecordCount"], 0);
    let body = body_of(&event);
    let records = body["records"].as_array().unwrap();
    let entries: Vec<(&Value, &Value, &Value)> = answer["Records"]
        .as_array()
        .unwrap()
        .iter()
        .zip(records)
        .map(|(entry, record)| (entry, &record["data"], &record["partition-key"]))
        .collect();
    assert_eq!(entries.len(), 3);
    assert_stored(&event, Names::new(PREFIX).stream(Table::Geo), &entries).await;
}
