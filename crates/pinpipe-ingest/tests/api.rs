//! The handler's answers that need no Kafka and no Kinesis: refused requests (which never reach
//! either), a missing adapter, and how the failures of Kinesis (played by in-process writers) become
//! answers. Runs with no server; the tests against tansu and moto are `topics.rs`, `streams.rs` and
//! `emulate.rs` (feature `local-servers`).

mod common;

use std::sync::Arc;

use common::{assert_envelope, call, post_topic, put_stream};
use pinpipe_emulate::post::{post, ErrorCode, FailReason, Mode, PostOptions};
use pinpipe_ingest::error::codes;
use pinpipe_ingest::{
    Ingest, Names, Offset, ProduceError, RecordFailure, Stored, StreamError, StreamRecord, StreamWriter, TopicProducer,
    TopicRecord,
};

/// A Kafka and a Kinesis that fail the test when a request reaches them.
struct Unreachable;

#[async_trait::async_trait]
impl TopicProducer for Unreachable {
    async fn produce(&self, topic: &str, _records: &[TopicRecord]) -> Vec<Result<Offset, ProduceError>> {
        panic!("a refused request reached Kafka ({topic})")
    }
}

#[async_trait::async_trait]
impl StreamWriter for Unreachable {
    async fn put_record(&self, stream: &str, _record: &StreamRecord) -> Result<Stored, StreamError> {
        panic!("a refused request reached Kinesis ({stream})")
    }

    async fn put_records(
        &self,
        stream: &str,
        _records: &[StreamRecord],
    ) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError> {
        panic!("a refused request reached Kinesis ({stream})")
    }
}

/// The API of `prefix` in front of [`Unreachable`].
fn refusing(prefix: &str) -> (Ingest, Names) {
    let names = Names::new(prefix);
    (Ingest::new(names.clone(), Some(Arc::new(Unreachable)), Some(Arc::new(Unreachable))), names)
}

#[tokio::test]
async fn unknown_topics_and_streams_are_404_and_name_the_served_ones() {
    let (api, names) = refusing("served");
    let unknown = format!("{}.comments", names.prefix());
    let (status, answer) = post_topic(&api, &unknown, r#"{"records":[{"value":{}}]}"#).await;
    let message = assert_envelope(status, &answer, 404, codes::UNKNOWN_TOPIC as u64);
    assert!(message.contains(&unknown) && message.contains(&names.topics()[0]), "{message}");

    let unknown = format!("streaming-{}-comments", names.prefix());
    let (status, answer) = put_stream(&api, &unknown, "record", r#"{"Data":{},"PartitionKey":"p"}"#).await;
    let message = assert_envelope(status, &answer, 404, codes::UNKNOWN_STREAM as u64);
    assert!(message.contains(&unknown) && message.contains(&names.streams()[0]), "{message}");
    // A topic name on the stream routes is no stream.
    let (status, answer) = put_stream(&api, &names.topics()[0], "records", r#"{"records":[]}"#).await;
    assert_envelope(status, &answer, 404, codes::UNKNOWN_STREAM as u64);
}

#[tokio::test]
async fn refused_topic_requests_answer_their_envelopes() {
    let (api, names) = refusing("topicerr");
    let topic = &names.topics()[2];
    for content_type in [Some("application/vnd.kafka.binary.v2+json"), Some("text/plain"), None] {
        let (status, _, answer) =
            call(&api, "POST", &format!("/topics/{topic}"), content_type, br#"{"records":[{"value":{}}]}"#).await;
        assert_envelope(status, &answer, 415, codes::UNSUPPORTED_MEDIA_TYPE as u64);
    }
    let (status, answer) = post_topic(&api, topic, r#"{"records":[{"value":{}}"#).await;
    let message = assert_envelope(status, &answer, 400, codes::BAD_JSON as u64);
    assert!(message.contains("not valid JSON"), "{message}");
    for (body, code, named) in [
        (r#"{"value":{}}"#, codes::NO_RECORDS, "`records` is missing"),
        (r#"{"records":[]}"#, codes::NO_RECORDS, "`records` is empty"),
        (r#"{"records":[{"value":{}},{"key":"k"}]}"#, codes::NO_VALUE, "records[1] has no `value`"),
        (r#"{"records":[{"value":{}},{"value":null}]}"#, codes::NO_VALUE, "records[1] has no `value`"),
        (r#"{"records":[{"value":{},"value":{}}]}"#, codes::NO_VALUE, "records[0] is malformed"),
        (r#"{"records":[{"value":[]}]}"#, codes::BAD_VALUE_ARRAY, "records[0].value is an empty array"),
        (r#"{"records":[{"value":[{},{},null]}]}"#, codes::BAD_VALUE_ARRAY, "records[0].value[2] is null"),
        (r#"{"records":[{"value":{},"partition":-3}]}"#, codes::BAD_PARTITION, "records[0].partition is -3"),
    ] {
        let (status, answer) = post_topic(&api, topic, body).await;
        let message = assert_envelope(status, &answer, 422, code as u64);
        assert!(message.contains(named), "{body}: {message}");
    }
    let big = format!(r#"{{"records":[{{"value":{{}}}},{{"value":"{}"}}]}}"#, "x".repeat(1_000_001));
    let (status, answer) = post_topic(&api, topic, &big).await;
    let message = assert_envelope(status, &answer, 422, codes::RECORD_TOO_LARGE as u64);
    assert!(message.starts_with("records[1] is too large"), "{message}");
    let (status, _, answer) = call(&api, "GET", &format!("/topics/{topic}"), None, b"").await;
    assert_envelope(status, &answer, 405, codes::METHOD_NOT_ALLOWED as u64);
    let (status, _, answer) = call(&api, "POST", "/consumers/x", None, b"").await;
    assert_envelope(status, &answer, 404, codes::NO_ROUTE as u64);
}

#[tokio::test]
async fn refused_stream_requests_answer_their_envelopes() {
    let (api, names) = refusing("streamerr");
    let stream = &names.streams()[0];
    let path = format!("/streams/{stream}/record");
    let (status, _, answer) = call(&api, "PUT", &path, Some("text/plain"), br#"{"Data":{},"PartitionKey":"p"}"#).await;
    assert_envelope(status, &answer, 415, codes::UNSUPPORTED_MEDIA_TYPE as u64);
    let (status, _, answer) =
        call(&api, "POST", &format!("/streams/{stream}/records"), Some("application/json"), b"{}").await;
    assert_envelope(status, &answer, 405, codes::METHOD_NOT_ALLOWED as u64);
    let elsewhere = r#"{"StreamName":"elsewhere","Data":{},"PartitionKey":"p"}"#;
    let big = format!(r#"{{"Data":"{}","PartitionKey":"p"}}"#, "x".repeat(1 << 20));
    for (route, body, status_code, code, named) in [
        ("record", "{\"Data\":", 400, codes::BAD_JSON, "not valid JSON"),
        ("record", "[1]", 422, codes::NO_VALUE, "a JSON object with `Data`"),
        ("record", r#"{"PartitionKey":"p"}"#, 422, codes::NO_VALUE, "no `Data`"),
        ("record", r#"{"Data":{}}"#, 422, codes::BAD_PARTITION_KEY, "no `PartitionKey`"),
        ("record", elsewhere, 422, codes::STREAM_NAME_MISMATCH, "elsewhere"),
        ("record", &big, 422, codes::RECORD_TOO_LARGE, "the record is too large"),
        (
            "records",
            r#"{"records":[{"data":{},"partition-key":"p"},{"data":{}}]}"#,
            422,
            codes::BAD_PARTITION_KEY,
            "records[1] has no `partition-key`",
        ),
        (
            "records",
            r#"{"records":[{"data":{},"partition-key":"p"},{"partition-key":"q"}]}"#,
            422,
            codes::NO_VALUE,
            "records[1] has no `data`",
        ),
        ("records", r#"{"records":{}}"#, 422, codes::NO_RECORDS, "not an array"),
    ] {
        let (status, answer) = put_stream(&api, stream, route, body).await;
        let message = assert_envelope(status, &answer, status_code, code as u64);
        assert!(message.contains(named), "{route} {body}: {message}");
    }
}

#[tokio::test]
async fn without_kafka_the_topic_route_answers_503() {
    let names = Names::new("nokafka");
    let api = Ingest::new(names.clone(), None, None);
    let (status, answer) = post_topic(&api, &names.topics()[0], r#"{"records":[{"value":{}}]}"#).await;
    let message = assert_envelope(status, &answer, 503, codes::UNAVAILABLE as u64);
    assert!(message.contains("PINPIPE_KAFKA_BOOTSTRAP"), "{message}");
    // Unknown topics are still 404.
    let (status, answer) = post_topic(&api, "nokafka.other", r#"{"records":[{"value":{}}]}"#).await;
    assert_envelope(status, &answer, 404, codes::UNKNOWN_TOPIC as u64);
}

/// A stream writer that stores every other record and reports the rest throttled, as Kinesis does
/// under load.
struct Throttled;

#[async_trait::async_trait]
impl StreamWriter for Throttled {
    async fn put_record(&self, _stream: &str, _record: &StreamRecord) -> Result<Stored, StreamError> {
        Err(StreamError::Unavailable("Rate exceeded for shard shardId-000000000000".into()))
    }

    async fn put_records(
        &self,
        _stream: &str,
        records: &[StreamRecord],
    ) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError> {
        Ok((0..records.len())
            .map(|index| {
                if index % 2 == 0 {
                    Ok(Stored {
                        sequence_number: format!("{index}"),
                        shard_id: "shardId-000000000000".into(),
                        encryption_type: None,
                    })
                } else {
                    Err(RecordFailure {
                        error_code: "ProvisionedThroughputExceededException".into(),
                        error_message: "Rate exceeded for shard shardId-000000000000".into(),
                    })
                }
            })
            .collect())
    }
}

#[tokio::test]
async fn kinesis_per_record_failures_are_503_with_failed_record_count() {
    let names = Names::new("throttled");
    let writer: Arc<dyn StreamWriter> = Arc::new(Throttled);
    let api = Ingest::new(names.clone(), None, Some(writer));
    let stream = &names.streams()[0];
    let body = r#"{"records":[{"data":{"n":0},"partition-key":"a"},{"data":{"n":1},"partition-key":"a"},{"data":{"n":2},"partition-key":"a"}]}"#;
    let (status, answer) = put_stream(&api, stream, "records", body).await;
    let message = assert_envelope(status, &answer, 503, codes::UNAVAILABLE as u64);
    assert!(
        message.starts_with(
            "1 of 3 records were not stored by Kinesis: records[1]: ProvisionedThroughputExceededException"
        ),
        "{message}"
    );
    assert_eq!(answer["FailedRecordCount"], 1);
    assert_eq!(answer["Records"][1]["ErrorCode"], "ProvisionedThroughputExceededException");
    assert!(answer["Records"][1].get("SequenceNumber").is_none());
    assert_eq!(answer["Records"][2]["SequenceNumber"], "2");
    let (status, answer) = put_stream(&api, stream, "record", r#"{"Data":{},"PartitionKey":"p"}"#).await;
    let message = assert_envelope(status, &answer, 503, codes::UNAVAILABLE as u64);
    assert!(message.contains("Rate exceeded") && message.contains("nothing was stored"), "{message}");
}

/// A Kinesis whose every call fails with one error.
struct Failing(StreamError);

#[async_trait::async_trait]
impl StreamWriter for Failing {
    async fn put_record(&self, _stream: &str, _record: &StreamRecord) -> Result<Stored, StreamError> {
        Err(self.0.clone())
    }

    async fn put_records(
        &self,
        _stream: &str,
        _records: &[StreamRecord],
    ) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn failed_kinesis_calls_answer_by_their_cause() {
    let cases = [
        (StreamError::NotFound("ResourceNotFoundException".into()), 404, codes::UNKNOWN_STREAM, "does not exist"),
        (StreamError::Invalid("ValidationException".into()), 422, codes::KINESIS_REFUSED, "Kinesis refused"),
        (StreamError::Unavailable("InternalFailure".into()), 503, codes::UNAVAILABLE, "retry later"),
    ];
    for (error, status_code, code, named) in cases {
        let names = Names::new("failing");
        let api = Ingest::new(names.clone(), None, Some(Arc::new(Failing(error.clone()))));
        let stream = &names.streams()[1];
        let (status, answer) = put_stream(&api, stream, "record", r#"{"Data":{},"PartitionKey":"p"}"#).await;
        let message = assert_envelope(status, &answer, status_code, code as u64);
        assert!(message.contains(named) && message.contains("nothing was stored"), "{error:?}: {message}");
        let body = r#"{"records":[{"data":{"n":0},"partition-key":"a"},{"data":{"n":1},"partition-key":"b"}]}"#;
        let (status, answer) = put_stream(&api, stream, "records", body).await;
        let message = assert_envelope(status, &answer, status_code, code as u64);
        assert!(message.contains(named), "{error:?}: {message}");
        assert!(answer.get("Records").is_none(), "nothing stored, one cause: the plain envelope: {answer}");
    }
}

#[tokio::test]
async fn the_emulator_counts_refused_and_unreachable_records_by_reason() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let (ingest, _) = refusing("emulate-refused");
    tokio::spawn(pinpipe_ingest::server::serve(listener, Arc::new(ingest)));
    // A prefix the API does not serve: every record is refused with 404 / 40401.
    let options = PostOptions { batch_size: 2, prefix: "not-served".into(), ..PostOptions::new(&api, Mode::Batch, 3) };
    let summary = post(&options).await.unwrap();
    assert_eq!((summary.sent, summary.acknowledged), (9, 0), "{summary}");
    let unknown = FailReason::Http { status: 404, code: Some(ErrorCode::Api(codes::UNKNOWN_TOPIC.into())) };
    assert_eq!(summary.failed[&unknown].records, 9, "{summary}");
    assert!(summary.failed[&unknown].example.contains("not-served.pin"), "{summary}");

    // Nobody listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let options = PostOptions::new(format!("http://{closed}"), Mode::Stream, 2);
    let summary = post(&options).await.unwrap();
    assert_eq!(summary.failed[&FailReason::ConnectionFailed].records, 6, "{summary}");

    assert!(post(&PostOptions::new("ftp://127.0.0.1/", Mode::Batch, 1)).await.is_err());
}

#[tokio::test]
async fn more_records_than_a_request_takes_are_refused_whole_with_422() {
    use pinpipe_ingest::wire::MAX_RECORDS_PER_REQUEST;
    let (api, names) = refusing("toomany");
    let topic = &names.topics()[0];
    // The body of the report: 491,666 records of {"value":1} in 5.9 MB.
    let body = format!(r#"{{"records":[{}]}}"#, vec![r#"{"value":1}"#; 491_666].join(","));
    let (status, answer) = post_topic(&api, topic, &body).await;
    let message = assert_envelope(status, &answer, 422, codes::TOO_MANY_RECORDS as u64);
    assert_eq!(
        message,
        "the request holds 491666 records: a request takes at most 10000 records; send them in several requests"
    );
    // Elements of array values count: 5,000 + 5,000 + 1.
    let half = vec!["{}"; MAX_RECORDS_PER_REQUEST / 2].join(",");
    let body = format!(r#"{{"records":[{{"value":[{half}]}},{{"value":[{half}]}},{{"value":{{}}}}]}}"#);
    let (status, answer) = post_topic(&api, topic, &body).await;
    let message = assert_envelope(status, &answer, 422, codes::TOO_MANY_RECORDS as u64);
    assert_eq!(
        message,
        "the request holds more than 10000 records (records[0] to records[2] hold 10001, each element of an array `value` counting as one): a request takes at most 10000 records; send them in several requests"
    );
    // PutRecords.
    let stream = &names.streams()[0];
    let body = format!(
        r#"{{"records":[{}]}}"#,
        vec![r#"{"data":{},"partition-key":"p"}"#; MAX_RECORDS_PER_REQUEST + 1].join(",")
    );
    let (status, answer) = put_stream(&api, stream, "records", &body).await;
    let message = assert_envelope(status, &answer, 422, codes::TOO_MANY_RECORDS as u64);
    assert_eq!(
        message,
        "the request holds 10001 records: a request takes at most 10000 records; send them in several requests"
    );

    // Exactly the limit is taken, on both routes.
    let api = Ingest::new(
        names.clone(),
        Some(Arc::new(pinpipe_ingest::testing::AckingProducer::default())),
        Some(Arc::new(pinpipe_ingest::testing::AckingWriter::default())),
    );
    let body = format!(r#"{{"records":[{{"value":[{half}]}},{{"value":[{half}]}}]}}"#);
    let (status, answer) = post_topic(&api, topic, &body).await;
    assert_eq!(status, 200, "{}", &answer.to_string()[..200]);
    assert_eq!(answer["offsets"].as_array().unwrap().len(), MAX_RECORDS_PER_REQUEST);
    let body =
        format!(r#"{{"records":[{}]}}"#, vec![r#"{"data":{},"partition-key":"p"}"#; MAX_RECORDS_PER_REQUEST].join(","));
    let (status, answer) = put_stream(&api, stream, "records", &body).await;
    assert_eq!(status, 200, "{}", &answer.to_string()[..200]);
    assert_eq!(answer["Records"].as_array().unwrap().len(), MAX_RECORDS_PER_REQUEST);
}
