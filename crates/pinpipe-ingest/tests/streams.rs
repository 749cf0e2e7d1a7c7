//! `PUT /streams/{stream}/record(s)` against Kinesis on the local AWS server (moto, see
//! `scripts/services.sh`): records are stored with their exact JSON text and partition key; per-record
//! failures are reported with `FailedRecordCount` and never as stored. Needs moto: feature
//! `local-servers` (the handler's answers without it are in `tests/api.rs`).

mod common;

use common::{assert_envelope, put_stream};
use pinpipe_ingest::error::codes;
use pinpipe_ingest::testing::{create_streams, local_ingest, read_stream, unique_prefix};
use pinpipe_ingest::wire::MAX_KINESIS_RECORD_BYTES;

#[tokio::test]
async fn put_record_stores_the_json_text_of_data() {
    let prefix = unique_prefix("record");
    let (api, kinesis) = local_ingest(&prefix, None).await;
    let streams = api.names().streams().clone();
    create_streams(&kinesis, &streams[..1]).await;
    let stream = &streams[0];
    let post = pinpipe_emulate::Generator::new(5).next_post();
    let body =
        format!(r#"{{"StreamName": "{stream}", "Data": {}, "PartitionKey": "{}"}}"#, post.json_texts()[0], post.key());
    let (status, answer) = put_stream(&api, stream, "record", &body).await;
    assert_eq!(status, 200, "{answer}");
    let sequence_number = answer["SequenceNumber"].as_str().unwrap();
    assert!(answer["ShardId"].as_str().unwrap().starts_with("shardId-"), "{answer}");

    let stored = read_stream(&kinesis, stream).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sequence_number, sequence_number);
    assert_eq!(stored[0].partition_key, post.key().to_string());
    assert_eq!(stored[0].data, serde_json::to_string(&post.pin).unwrap());
}

#[tokio::test]
async fn put_records_stores_every_record_in_order() {
    let prefix = unique_prefix("records");
    let (api, kinesis) = local_ingest(&prefix, None).await;
    let stream = api.names().streams()[1].clone();
    create_streams(&kinesis, std::slice::from_ref(&stream)).await;
    let posts: Vec<_> = pinpipe_emulate::Generator::new(6).take(4).collect();
    let records: Vec<String> = posts
        .iter()
        .map(|post| format!(r#"{{"data": {}, "partition-key": "{}"}}"#, post.json_texts()[1], post.key()))
        .collect();
    let body = format!(r#"{{"records": [{}]}}"#, records.join(", "));
    let (status, answer) = put_stream(&api, &stream, "records", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["FailedRecordCount"], 0);
    let entries = answer["Records"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert!(answer.get("error_code").is_none(), "{answer}");

    let stored = read_stream(&kinesis, &stream).await;
    let data: Vec<&str> = stored.iter().map(|record| record.data.as_str()).collect();
    let expected: Vec<String> = posts.iter().map(|post| serde_json::to_string(&post.geo).unwrap()).collect();
    assert_eq!(data, expected);
    for (entry, stored) in entries.iter().zip(&stored) {
        assert_eq!(entry["SequenceNumber"], stored.sequence_number.as_str());
    }
}

#[tokio::test]
async fn an_oversized_record_fails_alone_and_is_never_reported_stored() {
    let prefix = unique_prefix("oversized");
    let (api, kinesis) = local_ingest(&prefix, None).await;
    let stream = api.names().streams()[2].clone();
    create_streams(&kinesis, std::slice::from_ref(&stream)).await;
    let big = "x".repeat(MAX_KINESIS_RECORD_BYTES);
    let body = format!(
        r#"{{"records":[{{"data":{{"ind":1}},"partition-key":"1"}},{{"data":"{big}","partition-key":"2"}},{{"data":{{"ind":3}},"partition-key":"3"}}]}}"#
    );
    let (status, answer) = put_stream(&api, &stream, "records", &body).await;
    let message = assert_envelope(status, &answer, 422, codes::RECORD_TOO_LARGE as u64);
    assert!(message.starts_with("1 of 3 records were not stored by Kinesis: records[1]"), "{message}");
    assert!(message.contains("resend only the failed ones"), "{message}");
    assert_eq!(answer["FailedRecordCount"], 1);
    let entries = answer["Records"].as_array().unwrap();
    assert!(entries[0]["SequenceNumber"].is_string() && entries[2]["SequenceNumber"].is_string());
    assert_eq!(entries[1]["ErrorCode"], "InvalidArgumentException");
    assert!(entries[1]["ErrorMessage"].as_str().unwrap().contains("too large"));
    assert!(entries[1].get("SequenceNumber").is_none(), "{answer}");

    let stored = read_stream(&kinesis, &stream).await;
    let data: Vec<&str> = stored.iter().map(|record| record.data.as_str()).collect();
    assert_eq!(data, [r#"{"ind":1}"#, r#"{"ind":3}"#]);

    // A single oversized PutRecord is refused whole.
    let body = format!(r#"{{"Data":"{big}","PartitionKey":"p"}}"#);
    let (status, answer) = put_stream(&api, &stream, "record", &body).await;
    assert_envelope(status, &answer, 422, codes::RECORD_TOO_LARGE as u64);
}

#[tokio::test]
async fn a_stream_missing_from_kinesis_stores_nothing_and_says_so() {
    let prefix = unique_prefix("nostream");
    let (api, kinesis) = local_ingest(&prefix, None).await;
    // The name is served, but the stream was never created.
    let stream = api.names().streams()[0].clone();
    let (status, answer) = put_stream(
        &api,
        &stream,
        "records",
        r#"{"records":[{"data":{"a":1},"partition-key":"1"},{"data":{"a":2},"partition-key":"2"}]}"#,
    )
    .await;
    let message = assert_envelope(status, &answer, 404, codes::UNKNOWN_STREAM as u64);
    assert!(message.contains("does not exist in Kinesis") && message.contains("nothing was stored"), "{message}");
    assert!(answer.get("Records").is_none(), "{answer}");
    let (status, answer) = put_stream(&api, &stream, "record", r#"{"Data":{"a":1},"PartitionKey":"1"}"#).await;
    assert_envelope(status, &answer, 404, codes::UNKNOWN_STREAM as u64);
    let missing = kinesis.client().describe_stream_summary().stream_name(&stream).send().await;
    assert!(missing.is_err(), "the stream was created");
}

/// Every refusal's envelope is checked without Kinesis (`api.rs`, whose ports fail the test when a
/// refused request reaches them); here moto shows that a refused request leaves no trace.
#[tokio::test]
async fn unknown_streams_are_not_created_and_refused_requests_store_nothing() {
    let prefix = unique_prefix("streamerr");
    let (api, kinesis) = local_ingest(&prefix, None).await;
    let stream = api.names().streams()[0].clone();
    create_streams(&kinesis, std::slice::from_ref(&stream)).await;

    let unknown = format!("streaming-{prefix}-comments");
    let (status, answer) = put_stream(&api, &unknown, "record", r#"{"Data":{},"PartitionKey":"p"}"#).await;
    assert_envelope(status, &answer, 404, codes::UNKNOWN_STREAM as u64);
    let exists = kinesis.client().describe_stream_summary().stream_name(&unknown).send().await;
    assert!(exists.is_err(), "an unknown stream was created");

    for (route, body) in
        [("record", r#"{"Data":{}}"#), ("records", r#"{"records":[{"data":{},"partition-key":"p"},{"data":{}}]}"#)]
    {
        let (status, answer) = put_stream(&api, &stream, route, body).await;
        assert_envelope(status, &answer, 422, codes::BAD_PARTITION_KEY as u64);
    }
    assert!(read_stream(&kinesis, &stream).await.is_empty());
}

#[tokio::test]
async fn more_than_500_records_go_in_several_calls_in_order() {
    let prefix = unique_prefix("chunks");
    let (api, kinesis) = local_ingest(&prefix, None).await;
    let stream = api.names().streams()[0].clone();
    create_streams(&kinesis, std::slice::from_ref(&stream)).await;
    let records: Vec<String> =
        (0..1001).map(|n| format!(r#"{{"data":{{"n":{n}}},"partition-key":"k{}"}}"#, n % 7)).collect();
    let body = format!(r#"{{"records":[{}]}}"#, records.join(","));
    let (status, answer) = put_stream(&api, &stream, "records", &body).await;
    assert_eq!(status, 200, "{}", answer["message"]);
    assert_eq!(answer["Records"].as_array().unwrap().len(), 1001);
    let stored = read_stream(&kinesis, &stream).await;
    let data: Vec<String> = stored.iter().map(|record| record.data.clone()).collect();
    let expected: Vec<String> = (0..1001).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    assert_eq!(data, expected);
}
