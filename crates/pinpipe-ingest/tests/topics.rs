//! `POST /topics/{topic}` against a real Kafka-protocol broker (tansu on 127.0.0.1, see
//! `scripts/services.sh`): records produced through the handler are read back with their exact values,
//! keys and offsets; every error case answers its envelope; a stopped broker gets 503 and no record is
//! claimed stored. Needs the broker: feature `local-servers` (the handler's answers without one are in
//! `tests/api.rs`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assert_envelope, call, post_topic};
use pinpipe_ingest::error::codes;
use pinpipe_ingest::testing::{
    create_topics, kafka_bootstrap, local_producer, read_topic, unique_prefix, PrivateBroker,
};
use pinpipe_ingest::{Ingest, Names, TopicProducer};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{json, Value};

/// The API for a fresh prefix whose three topics exist with `partitions` partitions.
async fn api(test: &str, partitions: i32) -> (Ingest, Names) {
    let bootstrap = kafka_bootstrap();
    let names = Names::new(&unique_prefix(test));
    create_topics(&bootstrap, names.topics(), partitions).await;
    let producer: Arc<dyn TopicProducer> = Arc::new(local_producer(&bootstrap, Duration::from_secs(10)));
    (Ingest::new(names.clone(), Some(producer), None), names)
}

fn offsets(body: &Value) -> Vec<(i64, i64)> {
    body["offsets"]
        .as_array()
        .unwrap_or_else(|| panic!("no offsets: {body}"))
        .iter()
        .map(|entry| {
            assert_eq!(entry["error_code"], Value::Null, "{entry}");
            assert_eq!(entry["error"], Value::Null, "{entry}");
            (entry["partition"].as_i64().unwrap(), entry["offset"].as_i64().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn records_and_array_values_are_produced_in_order_with_exact_values_and_offsets() {
    let (api, names) = api("produce", 1).await;
    let topic = &names.topics()[0];
    let pins: Vec<String> =
        pinpipe_emulate::Generator::new(11).take(3).map(|post| post.json_texts()[0].clone()).collect();
    // As-posted records (", " and ": " separators), a pretty-printed one, an array value of two, a key.
    let body = format!(
        "{{\"records\": [{{\"value\": {}}}, {{\"value\": {{\n  \"index\": 1,\n  \"title\": \"a\\nb \\\"c\\\"\"\n}}}}, {{\"value\": [{}, {}], \"key\": \"k-1\"}}]}}",
        pins[0], pins[1], pins[2]
    );
    let (status, answer) = post_topic(&api, topic, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["key_schema_id"], Value::Null);
    assert_eq!(answer["value_schema_id"], Value::Null);
    assert_eq!(offsets(&answer), [(0, 0), (0, 1), (0, 2), (0, 3)]);

    let expected = [
        pinpipe_ingest::compact(&pins[0]),
        r#"{"index":1,"title":"a\nb \"c\""}"#.to_string(),
        pinpipe_ingest::compact(&pins[1]),
        pinpipe_ingest::compact(&pins[2]),
    ];
    let stored = read_topic(&kafka_bootstrap(), topic, 0, 0, 4).await;
    let values: Vec<&str> = stored.iter().map(|record| record.value.as_str()).collect();
    assert_eq!(values, expected);
    assert_eq!(stored.iter().map(|record| record.offset).collect::<Vec<_>>(), [0, 1, 2, 3]);
    let keys: Vec<Option<&[u8]>> = stored.iter().map(|record| record.key.as_deref()).collect();
    assert_eq!(keys, [None, None, Some(&b"\"k-1\""[..]), Some(&b"\"k-1\""[..])]);
    // The compact text of an as-posted record is exactly serde_json's compact text of it.
    let post = pinpipe_emulate::Generator::new(11).next_post();
    assert_eq!(values[0], serde_json::to_string(&post.pin).unwrap());

    // The next request continues the offsets; application/json is accepted too.
    let (status, _, answer) = call(
        &api,
        "POST",
        &format!("/topics/{topic}"),
        Some("application/json; charset=utf-8"),
        br#"{"records":[{"value":{"index":5}}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(offsets(&answer), [(0, 4)]);
}

#[tokio::test]
async fn records_go_to_the_partition_asked_for() {
    let (api, names) = api("partition", 3).await;
    let topic = &names.topics()[1];
    let (status, answer) = post_topic(
        &api,
        topic,
        r#"{"records":[{"value":{"ind":1},"partition":2},{"value":[{"ind":2},{"ind":3}],"partition":1}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(offsets(&answer), [(2, 0), (1, 0), (1, 1)]);
    let stored = read_topic(&kafka_bootstrap(), topic, 1, 0, 2).await;
    assert_eq!(stored[1].value, r#"{"ind":3}"#);

    let (status, answer) = post_topic(&api, topic, r#"{"records":[{"value":{"ind":4},"partition":7}]}"#).await;
    let message = assert_envelope(status, &answer, 404, codes::UNKNOWN_PARTITION as u64);
    assert!(message.contains("records[0]"), "{message}");
    assert_eq!(answer["offsets"][0]["offset"], Value::Null, "{answer}");
}

/// Whether the broker knows `topic`.
fn topic_exists(bootstrap: &str, topic: &str) -> bool {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    metadata.topics().iter().any(|known| known.name() == topic)
}

/// Every refusal's envelope is checked without a broker (`api.rs`, whose ports fail the test when a
/// refused request reaches them); here the broker shows that a refused request leaves no trace.
#[tokio::test]
async fn unknown_topics_are_not_created_and_refused_requests_produce_nothing() {
    let (api, names) = api("errors", 1).await;
    let topic = names.topics()[2].clone();

    let unknown = format!("{}.comments", names.prefix());
    let (status, answer) = post_topic(&api, &unknown, r#"{"records":[{"value":{}}]}"#).await;
    assert_envelope(status, &answer, 404, codes::UNKNOWN_TOPIC as u64);
    let bootstrap = kafka_bootstrap();
    let check = bootstrap.clone();
    assert!(!tokio::task::spawn_blocking(move || topic_exists(&check, &unknown)).await.unwrap());

    for (body, status_code, code) in [
        (r#"{"records":[{"value":{}}"#, 400, codes::BAD_JSON),
        (r#"{"records":[{"value":{}},{"value":null}]}"#, 422, codes::NO_VALUE),
    ] {
        let (status, answer) = post_topic(&api, &topic, body).await;
        assert_envelope(status, &answer, status_code, code as u64);
    }
    // The first record of the topic is the next good one.
    let (status, answer) = post_topic(&api, &topic, r#"{"records":[{"value":{"ok":true}}]}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(offsets(&answer), [(0, 0)]);
    assert_eq!(read_topic(&bootstrap, &topic, 0, 0, 1).await[0].value, r#"{"ok":true}"#);
}

#[tokio::test]
async fn a_topic_missing_from_the_broker_is_404_and_not_created() {
    let bootstrap = kafka_bootstrap();
    let names = Names::new(&unique_prefix("missing"));
    let producer: Arc<dyn TopicProducer> = Arc::new(local_producer(&bootstrap, Duration::from_secs(10)));
    let api = Ingest::new(names.clone(), Some(producer), None);
    let started = Instant::now();
    let (status, answer) = post_topic(&api, &names.topics()[0], r#"{"records":[{"value":{}}]}"#).await;
    let message = assert_envelope(status, &answer, 404, codes::UNKNOWN_TOPIC as u64);
    assert!(message.contains("does not exist"), "{message}");
    assert_eq!(answer["offsets"][0]["offset"], Value::Null, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(12), "{:?}", started.elapsed());
    let topic = names.topics()[0].clone();
    assert!(!tokio::task::spawn_blocking(move || topic_exists(&bootstrap, &topic)).await.unwrap());
}

#[tokio::test]
async fn a_stopped_broker_gets_503_and_no_record_is_claimed_stored() {
    let mut broker = PrivateBroker::start();
    let names = Names::new("stopped");
    create_topics(&broker.bootstrap, names.topics(), 1).await;
    let producer: Arc<dyn TopicProducer> = Arc::new(local_producer(&broker.bootstrap, Duration::from_secs(3)));
    let api = Ingest::new(names.clone(), Some(producer), None);
    let topic = &names.topics()[0];
    let (status, answer) = post_topic(&api, topic, r#"{"records":[{"value":{"n":1}}]}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(offsets(&answer), [(0, 0)]);

    broker.stop();
    let started = Instant::now();
    let (status, answer) =
        post_topic(&api, topic, r#"{"records":[{"value":{"n":2}},{"value":[{"n":3},{"n":4}]}]}"#).await;
    let waited = started.elapsed();
    let message = assert_envelope(status, &answer, 503, codes::UNAVAILABLE as u64);
    assert!(message.starts_with("3 of 3 records were not acknowledged by Kafka"), "{message}");
    let entries = answer["offsets"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        assert_eq!(entry["offset"], Value::Null, "{entry}");
        assert_eq!(entry["partition"], Value::Null, "{entry}");
        assert_eq!(entry["error_code"], json!(codes::UNAVAILABLE), "{entry}");
    }
    // The answer comes within the delivery timeout (3 s) and the reconnect backoff cap (1 s, which bounds how
    // late librdkafka notices the timeout while the broker is down; it took 8-11 s with the default 10 s cap),
    // plus 1 s for a loaded machine.
    eprintln!("a stopped broker answered 503 after {waited:?}");
    assert!(waited >= Duration::from_secs(3), "{waited:?}: before the delivery timeout");
    assert!(
        waited < Duration::from_secs(3) + pinpipe_ingest::kafka::RECONNECT_BACKOFF_MAX + Duration::from_secs(1),
        "{waited:?}"
    );
}
