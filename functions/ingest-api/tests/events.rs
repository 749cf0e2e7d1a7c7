//! Every `events/ingest-*.json` sample (API Gateway HTTP API v2 requests, as the Lambda receives them)
//! through the function's handler, with prefix `pinpipe`, Kafka on the local broker (tansu) and Kinesis
//! on moto: good requests store exactly their records, bad ones get their REST-proxy envelope.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use lambda_http::{Body, Response};
use pinpipe_ingest::testing::{
    create_streams, create_topics, kafka_bootstrap, local_ingest, local_producer, read_stream, read_topic,
};
use pinpipe_ingest::{compact, Ingest, Names, StreamWriter, TopicProducer};
use serde_json::Value;
use tokio::sync::OnceCell;

const PREFIX: &str = "pinpipe";

/// The sample event `events/<name>.json`, parsed as the Lambda runtime does.
fn event(name: &str) -> (Value, lambda_http::Request) {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    let json = serde_json::from_str(&text).unwrap();
    (json, lambda_http::request::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}")))
}

/// The records the event's body holds (decoding API Gateway's base64 where it encoded the body).
fn body_of(event: &Value) -> Value {
    serde_json::from_str(&raw_body(event)).unwrap()
}

/// The event's body text, base64-decoded where API Gateway encoded it.
fn raw_body(event: &Value) -> String {
    let body = event["body"].as_str().unwrap();
    if event["isBase64Encoded"] == true {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap()
    } else {
        body.to_string()
    }
}

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
    let (event, request) = event(name);
    let response: Response<Body> = ingest_api::handle(&api().await, request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap();
    (event, status, content_type, body)
}

fn assert_envelope(status: u16, body: &Value, expected_status: u16, code: u64, named: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(named), "{message}");
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

#[tokio::test]
async fn topic_unknown() {
    let (_, status, _, answer) = invoke("ingest-topic-unknown").await;
    assert_envelope(status, &answer, 404, 40401, "pinpipe.comments");
}

#[tokio::test]
async fn topic_bad_json() {
    let (_, status, _, answer) = invoke("ingest-topic-bad-json").await;
    assert_envelope(status, &answer, 400, 40001, "not valid JSON");
}

#[tokio::test]
async fn topic_wrong_content_type() {
    let (_, status, _, answer) = invoke("ingest-topic-wrong-content-type").await;
    assert_envelope(status, &answer, 415, 41501, "application/vnd.kafka.binary.v2+json");
}

#[tokio::test]
async fn topic_malformed_record() {
    let (_, status, _, answer) = invoke("ingest-topic-malformed").await;
    assert_envelope(status, &answer, 422, 42203, "records[1] has no `value`");
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
    assert_stored(&event, "streaming-pinpipe-pin", &[(&answer, &body["Data"], &body["PartitionKey"])]).await;
}

#[tokio::test]
async fn stream_record_under_a_named_stage() {
    let (event, status, _, answer) = invoke("ingest-stream-record-stage").await;
    assert_eq!(event["requestContext"]["stage"], "prod");
    assert_eq!(status, 200, "{answer}");
    let body = body_of(&event);
    assert_stored(&event, "streaming-pinpipe-user", &[(&answer, &body["Data"], &body["PartitionKey"])]).await;
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
    assert_stored(&event, "streaming-pinpipe-geo", &entries).await;
}

#[tokio::test]
async fn stream_unknown() {
    let (_, status, _, answer) = invoke("ingest-stream-unknown").await;
    assert_envelope(status, &answer, 404, 40401, "streaming-other-pin");
}

#[tokio::test]
async fn stream_records_malformed() {
    let (_, status, _, answer) = invoke("ingest-stream-records-malformed").await;
    assert_envelope(status, &answer, 422, 42206, "records[1] has no `partition-key`");
}
