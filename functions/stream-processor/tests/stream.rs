//! The stream-processor handler, fed the sample Kinesis events of `events/` and a generated 10,000-record
//! batch, on a local-folder lake and (feature `local-servers`) a real S3 server (moto): parts cleaned
//! exactly as the batch cleans, retried batches rewriting the same part, refused records, and (S3 only)
//! S3 failures as batchItemFailures.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::kinesis::KinesisEvent;
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_contract::table::{RAW_HASH_COLUMN, SEQUENCE_NUMBER_COLUMN, SHARD_ID_COLUMN};
use pinpipe_contract::{layout, Names, Origin, Payload, RejectKind, RejectedRecord, Stage, StreamPosition, Table};
use pinpipe_core::clean::clean;
use pinpipe_core::decode::{decode, RawSource};
use pinpipe_events::{kinesis_event, EventOrigin, ShardRecord};
use pinpipe_lake::testing::{on_each_lake, real_sample_dir, snapshot};
use pinpipe_lake::ObjectStore;
use polars::prelude::*;
use stream_processor::{KinesisBatch, Processor};

/// The prefix the sample events use (the SAM template's default).
const PREFIX: &str = "pinpipe";

/// A sample event of `events/`, by file stem (checked to read as `aws_lambda_events`' full type too).
fn sample_event(name: &str) -> KinesisBatch {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let full: KinesisEvent = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is no KinesisEvent: {e}"));
    let batch: KinesisBatch = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is no KinesisBatch: {e}"));
    let full_fields: Vec<_> = full
        .records
        .iter()
        .map(|r| (&r.event_source_arn, &r.event_id, &r.kinesis.sequence_number, &r.kinesis.data.0))
        .collect();
    let batch_fields: Vec<_> = batch
        .records
        .iter()
        .map(|r| (&r.event_source_arn, &r.event_id, &r.kinesis.sequence_number, &r.kinesis.data.0))
        .collect();
    assert_eq!(full_fields, batch_fields, "{path}");
    batch
}

fn sequence_numbers(event: &KinesisBatch) -> Vec<String> {
    event.records.iter().map(|record| record.kinesis.sequence_number.clone()).collect()
}

fn processor(store: &Arc<dyn ObjectStore>) -> Processor {
    Processor::new(store.clone(), Names::new(PREFIX))
}

/// Runs the Lambda handler; the sequence numbers it reports as failed.
async fn deliver(store: &Arc<dyn ObjectStore>, event: KinesisBatch) -> Vec<String> {
    let response = processor(store).handle(LambdaEvent::new(event, Context::default())).await.unwrap();
    let answer = serde_json::to_value(&response).unwrap();
    assert!(answer["batchItemFailures"].is_array(), "the answer Lambda reads: {answer}");
    response.batch_item_failures.into_iter().map(|failure| failure.item_identifier.unwrap()).collect()
}

async fn read_parquet(store: &dyn ObjectStore, key: &str) -> DataFrame {
    let bytes = store.get(key).await.unwrap();
    // Polars' Parquet reader blocks; off the test's single-threaded runtime, as the handler does.
    tokio::task::spawn_blocking(move || ParquetReader::new(Cursor::new(bytes)).finish().unwrap()).await.unwrap()
}

/// A stream part without its lineage columns: the columns of a `cleaned/` part.
fn without_lineage(mut part: DataFrame) -> DataFrame {
    part.drop_in_place(SEQUENCE_NUMBER_COLUMN).unwrap();
    part.drop_in_place(SHARD_ID_COLUMN).unwrap();
    part
}

/// What the batch path (decode JSON lines + clean) makes of the same records.
async fn cleaned_by_the_batch_path(table: Table, lines: &[String]) -> DataFrame {
    let text: String = lines.iter().flat_map(|line| [line.as_str(), "\n"]).collect();
    tokio::task::spawn_blocking(move || {
        let source = RawSource { name: "lines".into(), bytes: text.into() };
        let decoded = decode(table, &[source]).unwrap();
        assert!(decoded.refused.is_empty());
        clean(table, decoded.frame).unwrap().frame
    })
    .await
    .unwrap()
}

/// Each record's data as text.
fn data_lines(event: &KinesisBatch) -> Vec<String> {
    event.records.iter().map(|record| String::from_utf8(record.kinesis.data.0.clone()).unwrap()).collect()
}

/// The refused records of a `rejected/` object.
async fn rejected_records(store: &dyn ObjectStore, key: &str) -> Vec<RejectedRecord> {
    RejectedRecord::parse_lines(&store.get(key).await.unwrap()).map(Result::unwrap).collect()
}

/// Where a record of the sample events was.
fn position(stream: &str, shard: &str, sequence_number: &str) -> Origin {
    Origin::Kinesis(StreamPosition {
        stream: stream.into(),
        shard_id: shard.into(),
        sequence_number: sequence_number.into(),
    })
}

fn sample_line(table: Table, key: i64) -> String {
    let path = real_sample_dir().join(format!("{table}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let field = if table == Table::Pin { "index" } else { "ind" };
    text.lines()
        .find(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()[field] == key)
        .unwrap_or_else(|| panic!("no {table} record {key}"))
        .to_string()
}

#[tokio::test]
async fn each_table_appends_one_part_cleaned_exactly_as_the_batch_cleans() {
    on_each_lake("stream-tables", |store| async move {
        for table in Table::ALL {
            let event = sample_event(&format!("stream-processor-{table}"));
            // The events carry the real records 4, 12 and 525, unchanged.
            let lines = data_lines(&event);
            assert_eq!(lines, [4, 12, 525].map(|key| sample_line(table, key)));
            let sent_sequence_numbers = sequence_numbers(&event);
            let first = sent_sequence_numbers[0].clone();
            assert_eq!(deliver(&store, event).await, Vec::<String>::new());

            let key = layout::stream_part_key(table, "shardId-000000000000", &first);
            let keys: Vec<String> =
                store.list(&format!("stream/{table}/")).await.unwrap().into_iter().map(|o| o.key).collect();
            assert_eq!(keys, std::slice::from_ref(&key));
            let part = read_parquet(store.as_ref(), &key).await;
            let mut columns: Vec<&str> = table.cleaned_columns().to_vec();
            columns.extend([RAW_HASH_COLUMN, SHARD_ID_COLUMN, SEQUENCE_NUMBER_COLUMN]);
            let names: Vec<&str> = part.get_column_names().into_iter().map(|name| name.as_str()).collect();
            assert_eq!(names, columns);
            // Each row names its record: the shard and the sequence number, in event order.
            let shards: Vec<Option<&str>> = part.column(SHARD_ID_COLUMN).unwrap().str().unwrap().iter().collect();
            assert_eq!(shards, [Some("shardId-000000000000"); 3]);
            let sequence_numbers: Vec<String> = part
                .column(SEQUENCE_NUMBER_COLUMN)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|value| value.unwrap().to_string())
                .collect();
            assert_eq!(sequence_numbers, sent_sequence_numbers);
            let part = without_lineage(part);
            let expected = cleaned_by_the_batch_path(table, &lines).await;
            assert!(part.equals_missing(&expected), "{table}:\n{part}\n{expected}");
        }
        // A few cleaned values, to see the rules did run: record 525 is a broken story post.
        let pins = read_parquet(store.as_ref(), &store.list("stream/pin/").await.unwrap()[0].key).await;
        let followers: Vec<Option<i32>> = pins.column("follower_count").unwrap().i32().unwrap().iter().collect();
        assert_eq!(followers[0], Some(2_000_000));
        assert_eq!(followers[2], None);
        assert_eq!(pins.column("title").unwrap().str().unwrap().get(2), None);
        assert_eq!(pins.column("save_location").unwrap().str().unwrap().get(0), Some("/data/art"));
        assert!(store.list(layout::REJECTED_PREFIX).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_retried_batch_rewrites_the_same_part() {
    on_each_lake("stream-retry", |store| async move {
        deliver(&store, sample_event("stream-processor-pin")).await;
        deliver(&store, sample_event("stream-processor-bad-records")).await;
        let first = snapshot(store.as_ref(), "").await;
        assert_eq!(first.len(), 3, "{:?}", first.keys());
        deliver(&store, sample_event("stream-processor-pin")).await;
        deliver(&store, sample_event("stream-processor-bad-records")).await;
        assert_eq!(snapshot(store.as_ref(), "").await, first);
    })
    .await;
}

#[tokio::test]
async fn bad_records_are_rejected_with_their_reason_and_do_not_block_the_shard() {
    on_each_lake("stream-bad", |store| async move {
        // Six pin records: good, truncated JSON, no key, a key that is text, an array, good.
        let event = sample_event("stream-processor-bad-records");
        let sequence = sequence_numbers(&event);
        assert_eq!(deliver(&store, event).await, Vec::<String>::new(), "refusals are no failures");

        let part =
            read_parquet(store.as_ref(), &layout::stream_part_key(Table::Pin, "shardId-000000000001", &sequence[0]))
                .await;
        let keys: Vec<Option<i32>> = part.column("ind").unwrap().i32().unwrap().iter().collect();
        assert_eq!(keys, [Some(4), Some(525)]);

        let key = layout::stream_rejected_key(Some(Table::Pin), "shardId-000000000001", &sequence[0]);
        let rejected = rejected_records(store.as_ref(), &key).await;
        let summary: Vec<(Origin, RejectKind)> = rejected.iter().map(|r| (r.origin.clone(), r.kind)).collect();
        let at = |i: usize| position("streaming-pinpipe-pin", "shardId-000000000001", &sequence[i]);
        assert_eq!(
            summary,
            [
                (at(1), RejectKind::NotJson),
                (at(2), RejectKind::MissingKey),
                (at(3), RejectKind::KeyNotInteger),
                (at(4), RejectKind::NotObject),
            ]
        );
        for record in &rejected {
            assert_eq!((record.stage, record.table), (Stage::StreamProcessor, Some(Table::Pin)));
            assert!(!record.reason.is_empty());
        }
        assert_eq!(rejected[0].payload, Some(Payload::Text(sample_line(Table::Pin, 12)[..157].to_string())));
        assert!(rejected[2].reason.contains("not an integer"), "{:?}", rejected[2]);
    })
    .await;
}

#[tokio::test]
async fn records_of_a_stream_that_feeds_no_table_are_rejected() {
    on_each_lake("stream-wrong", |store| async move {
        let event = sample_event("stream-processor-wrong-stream");
        let sequence = sequence_numbers(&event);
        assert_eq!(deliver(&store, event).await, Vec::<String>::new());
        assert!(store.list(layout::STREAM_PREFIX).await.unwrap().is_empty());
        let key = layout::stream_rejected_key(None, "shardId-000000000000", &sequence[0]);
        let rejected = rejected_records(store.as_ref(), &key).await;
        let origins: Vec<Origin> = rejected.iter().map(|r| r.origin.clone()).collect();
        assert_eq!(
            origins,
            [
                position("streaming-other-pin", "shardId-000000000000", &sequence[0]),
                position("streaming-pinpipe-clicks", "shardId-000000000000", &sequence[1]),
            ]
        );
        for record in &rejected {
            assert_eq!(
                (record.stage, record.table, record.kind),
                (Stage::StreamProcessor, None, RejectKind::UnknownStream)
            );
            assert!(record.reason.contains("feeds no table"), "{record:?}");
        }
        assert_eq!(rejected[0].payload, Some(Payload::Text(sample_line(Table::Pin, 4))));
    })
    .await;
}

#[tokio::test]
async fn an_empty_batch_does_nothing() {
    on_each_lake("stream-empty", |store| async move {
        assert_eq!(deliver(&store, sample_event("stream-processor-empty")).await, Vec::<String>::new());
        assert!(store.list("").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_batch_of_ten_thousand_generated_records_lands_in_one_part() {
    on_each_lake("stream-10k", |store| async move {
        let lines: Vec<String> =
            pinpipe_emulate::Generator::new(5).take(10_000).map(|post| pinpipe_emulate::json_text(&post.pin)).collect();
        let records: Vec<ShardRecord> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| ShardRecord::numbered("streaming-pinpipe-pin", "shardId-000000000003", i, line.as_str()))
            .collect();
        let event = kinesis_event(&EventOrigin::new("127.0.0.1:9092"), &records).unwrap();
        let first = sequence_numbers(&event)[0].clone();

        let started = Instant::now();
        let (response, counts) = processor(&store).process(event).await.unwrap();
        let elapsed = started.elapsed();
        eprintln!("10,000 records in {elapsed:?} ({:.0} records/s, debug build)", 10_000.0 / elapsed.as_secs_f64());
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(counts.rows_stored, BTreeMap::from([(Table::Pin, 10_000)]));
        assert_eq!((counts.records_in, counts.records_rejected, counts.objects_written), (10_000, 0, 1));

        let part =
            read_parquet(store.as_ref(), &layout::stream_part_key(Table::Pin, "shardId-000000000003", &first)).await;
        assert_eq!(part.column(SHARD_ID_COLUMN).unwrap().str().unwrap().get(9_999), Some("shardId-000000000003"));
        let part = without_lineage(part);
        assert!(part.equals_missing(&cleaned_by_the_batch_path(Table::Pin, &lines).await));
    })
    .await;
}

#[cfg(feature = "local-servers")]
#[tokio::test]
async fn an_s3_failure_is_answered_with_batch_item_failures() {
    let missing = pinpipe_lake::testing::missing_s3_store().await;
    let store: Arc<dyn ObjectStore> = Arc::new(missing);
    // Nothing could be stored: every record is reported, in order, so Lambda retries from the first.
    for name in ["stream-processor-user", "stream-processor-bad-records", "stream-processor-wrong-stream"] {
        let event = sample_event(name);
        let sequence = sequence_numbers(&event);
        assert_eq!(deliver(&store, event).await, sequence, "{name}");
    }
}
