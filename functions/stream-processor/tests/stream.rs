//! The stream-processor handler, fed the sample Kinesis events of `events/` and generated batches, on a
//! local-folder lake and (feature `local-servers`) a real S3 server (moto): rows cleaned exactly as the
//! batch cleans, appended to the Delta stream tables exactly once (redelivered, shorter, longer and
//! concurrent batches), refused records, and (S3 only) S3 failures as batchItemFailures.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::kinesis::KinesisEvent;
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_contract::table::{
    ARRIVAL_DATE_COLUMN, ARRIVAL_TIME_COLUMN, RAW_HASH_COLUMN, SEQUENCE_NUMBER_COLUMN, SHARD_ID_COLUMN,
};
use pinpipe_contract::{layout, Names, Origin, Payload, RejectKind, RejectedRecord, Stage, StreamPosition, Table};
use pinpipe_core::clean::clean;
use pinpipe_core::decode::{decode, RawSource};
use pinpipe_events::{kinesis_event, EventOrigin, ShardRecord};
use pinpipe_lake::testing::{on_each_lake, real_sample_dir};
use pinpipe_lake::ObjectStore;
use pinpipe_tables::{table_url, LakeTable, Rows};
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

/// Every row of the stream table of `table`, through its log (none when there is no table).
async fn read_table(store: &dyn ObjectStore, table: Table) -> DataFrame {
    let url = table_url(&store.url(), &layout::stream_table(table));
    match LakeTable::open(&url).await.unwrap() {
        Some(lake_table) => lake_table.read(None, ARRIVAL_DATE_COLUMN, Rows::All).await.unwrap(),
        None => DataFrame::empty(),
    }
}

/// Stream rows without their lineage columns, datetimes as the table stores them (microseconds):
/// the columns of a `cleaned/` part.
fn without_lineage(rows: DataFrame) -> DataFrame {
    rows.drop_many([SEQUENCE_NUMBER_COLUMN, SHARD_ID_COLUMN, ARRIVAL_TIME_COLUMN, ARRIVAL_DATE_COLUMN])
}

/// `frame` with its datetimes in microseconds, as a stream table holds them.
fn in_microseconds(frame: DataFrame) -> DataFrame {
    let casts: Vec<Expr> = frame
        .columns()
        .iter()
        .filter(|column| matches!(column.dtype(), DataType::Datetime(_, _)))
        .map(|column| col(column.name().clone()).cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect();
    frame.lazy().with_columns(casts).collect().unwrap()
}

/// The sequence numbers of the rows of `rows`.
fn row_sequence_numbers(rows: &DataFrame) -> Vec<String> {
    let column = rows.column(SEQUENCE_NUMBER_COLUMN).unwrap().str().unwrap().clone();
    column.iter().map(|value| value.unwrap().to_string()).collect()
}

/// A generated batch of `n` pin records of `shard`, from the `from`-th on.
fn generated(shard: &str, from: usize, n: usize) -> KinesisBatch {
    let records: Vec<ShardRecord> = pinpipe_emulate::Generator::new(5)
        .skip(from)
        .take(n)
        .enumerate()
        .map(|(i, post)| {
            let text = pinpipe_emulate::json_text(&post.pin);
            ShardRecord::numbered("streaming-pinpipe-pin", shard, from + i, text.as_str())
        })
        .collect();
    kinesis_event(&EventOrigin::new("127.0.0.1:9092"), &records).unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_table_appends_rows_cleaned_exactly_as_the_batch_cleans() {
    on_each_lake("stream-tables", |store| async move {
        for table in Table::ALL {
            let event = sample_event(&format!("stream-processor-{table}"));
            // The events carry the real records 4, 12 and 525, unchanged.
            let lines = data_lines(&event);
            assert_eq!(lines, [4, 12, 525].map(|key| sample_line(table, key)));
            let sent_sequence_numbers = sequence_numbers(&event);
            let arrival = chrono::DateTime::from_timestamp_millis(event.records[0].arrival_ms()).unwrap();
            assert_eq!(deliver(&store, event).await, Vec::<String>::new());

            let rows = read_table(store.as_ref(), table).await;
            let mut columns: Vec<&str> = table.cleaned_columns().to_vec();
            columns.extend([RAW_HASH_COLUMN, SHARD_ID_COLUMN, SEQUENCE_NUMBER_COLUMN, ARRIVAL_TIME_COLUMN]);
            columns.push(ARRIVAL_DATE_COLUMN);
            let names: Vec<&str> = rows.get_column_names().into_iter().map(|name| name.as_str()).collect();
            assert_eq!(names, columns);
            // Each row names its record: the shard and the sequence number, in event order; and when
            // Kinesis stored it, its partition.
            let shards: Vec<Option<&str>> = rows.column(SHARD_ID_COLUMN).unwrap().str().unwrap().iter().collect();
            assert_eq!(shards, [Some("shardId-000000000000"); 3]);
            assert_eq!(row_sequence_numbers(&rows), sent_sequence_numbers);
            let dates = rows.column(ARRIVAL_DATE_COLUMN).unwrap().cast(&DataType::String).unwrap();
            assert_eq!(dates.str().unwrap().get(0), Some(arrival.format("%Y-%m-%d").to_string().as_str()));
            let times = rows.column(ARRIVAL_TIME_COLUMN).unwrap().datetime().unwrap().physical().get(0);
            assert_eq!(times, Some(arrival.timestamp_micros()));
            let rows = without_lineage(rows);
            let expected = in_microseconds(cleaned_by_the_batch_path(table, &lines).await);
            assert!(rows.equals_missing(&expected), "{table}:\n{rows}\n{expected}");
        }
        // A few cleaned values, to see the rules did run: record 525 is a broken story post.
        let pins = read_table(store.as_ref(), Table::Pin).await;
        let followers: Vec<Option<i32>> = pins.column("follower_count").unwrap().i32().unwrap().iter().collect();
        assert_eq!(followers[0], Some(2_000_000));
        assert_eq!(followers[2], None);
        assert_eq!(pins.column("title").unwrap().str().unwrap().get(2), None);
        assert_eq!(pins.column("save_location").unwrap().str().unwrap().get(0), Some("/data/art"));
        assert!(store.list(layout::REJECTED_PREFIX).await.unwrap().is_empty());
    })
    .await;
}

/// Every key of the lake.
async fn keys(store: &dyn ObjectStore) -> Vec<String> {
    store.list("").await.unwrap().into_iter().map(|object| object.key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_batch_adds_nothing() {
    on_each_lake("stream-redelivery", |store| async move {
        deliver(&store, sample_event("stream-processor-pin")).await;
        deliver(&store, sample_event("stream-processor-bad-records")).await;
        let (first, rows) = (keys(store.as_ref()).await, read_table(store.as_ref(), Table::Pin).await.height());
        assert_eq!(rows, 5);
        let (response, counts) = processor(&store).process(sample_event("stream-processor-pin")).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
        assert_eq!((counts.records_already_taken, counts.objects_written), (3, 0));
        deliver(&store, sample_event("stream-processor-bad-records")).await;
        assert_eq!(keys(store.as_ref()).await, first, "no file, no commit, no rejected object");
        assert_eq!(read_table(store.as_ref(), Table::Pin).await.height(), rows);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shorter_and_longer_retries_take_each_record_once() {
    on_each_lake("stream-retries", |store| async move {
        // Lambda retries from the first record not stored, with whatever batch size it reads.
        for (from, n) in [(0, 40), (0, 100), (0, 70), (50, 80), (130, 1)] {
            let (response, _) = processor(&store).process(generated("shardId-000000000002", from, n)).await.unwrap();
            assert!(response.batch_item_failures.is_empty());
        }
        let rows = read_table(store.as_ref(), Table::Pin).await;
        let mut stored = row_sequence_numbers(&rows);
        let distinct: HashSet<&String> = stored.iter().collect();
        assert_eq!((stored.len(), distinct.len()), (131, 131));
        stored.sort();
        assert_eq!(stored, sequence_numbers(&generated("shardId-000000000002", 0, 131)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processors_of_one_shard_at_once_take_each_record_once() {
    on_each_lake("stream-race", |store| async move {
        // Two function instances (their own table handles) given overlapping batches at the same time.
        let (one, two) = (processor(&store), processor(&store));
        for round in 0..3 {
            let shard = format!("shardId-00000000001{round}");
            let (a, b) = tokio::join!(
                one.process(generated(&shard, 0, 60 + round * 10)),
                two.process(generated(&shard, 0, 100))
            );
            assert!(a.unwrap().0.batch_item_failures.is_empty() && b.unwrap().0.batch_item_failures.is_empty());
        }
        let rows = read_table(store.as_ref(), Table::Pin).await;
        let sequence_numbers = row_sequence_numbers(&rows);
        let positions: HashSet<(String, &String)> = rows
            .column(SHARD_ID_COLUMN)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .zip(&sequence_numbers)
            .map(|(shard, sequence_number)| (shard.unwrap().to_string(), sequence_number))
            .collect();
        assert_eq!((rows.height(), positions.len()), (300, 300), "each record of the three shards once");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_rejected_with_their_reason_and_do_not_block_the_shard() {
    on_each_lake("stream-bad", |store| async move {
        // Six pin records: good, truncated JSON, no key, a key that is text, an array, good.
        let event = sample_event("stream-processor-bad-records");
        let sequence = sequence_numbers(&event);
        // What an attempt that was never committed left: the next commit removes it.
        let orphan = layout::stream_rejected_key(Some(Table::Pin), "shardId-000000000001", &sequence[0], &sequence[2]);
        store.put(&orphan, "{}\n".into()).await.unwrap();
        assert_eq!(deliver(&store, event).await, Vec::<String>::new(), "refusals are no failures");

        let rows = read_table(store.as_ref(), Table::Pin).await;
        let keys: Vec<Option<i32>> = rows.column("ind").unwrap().i32().unwrap().iter().collect();
        assert_eq!(keys, [Some(4), Some(525)]);

        let key = layout::stream_rejected_key(Some(Table::Pin), "shardId-000000000001", &sequence[0], &sequence[5]);
        let objects: Vec<String> = store
            .list(&layout::rejected_prefix(Stage::StreamProcessor))
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(objects, std::slice::from_ref(&key));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_a_stream_that_feeds_no_table_are_rejected() {
    on_each_lake("stream-wrong", |store| async move {
        let event = sample_event("stream-processor-wrong-stream");
        let sequence = sequence_numbers(&event);
        assert_eq!(deliver(&store, event).await, Vec::<String>::new());
        assert!(store.list(layout::STREAM_PREFIX).await.unwrap().is_empty());
        let key = layout::stream_rejected_key(None, "shardId-000000000000", &sequence[0], &sequence[1]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_batch_does_nothing() {
    on_each_lake("stream-empty", |store| async move {
        assert_eq!(deliver(&store, sample_event("stream-processor-empty")).await, Vec::<String>::new());
        assert!(store.list("").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_ten_thousand_generated_records_is_one_commit_of_one_file() {
    on_each_lake("stream-10k", |store| async move {
        let event = generated("shardId-000000000003", 0, 10_000);
        let lines = data_lines(&event);

        let started = Instant::now();
        let (response, counts) = processor(&store).process(event).await.unwrap();
        let elapsed = started.elapsed();
        eprintln!("10,000 records in {elapsed:?} ({:.0} records/s, debug build)", 10_000.0 / elapsed.as_secs_f64());
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(counts.rows_stored, BTreeMap::from([(Table::Pin, 10_000)]));
        assert_eq!((counts.records_in, counts.records_rejected, counts.objects_written), (10_000, 0, 1));

        let rows = read_table(store.as_ref(), Table::Pin).await;
        assert_eq!(rows.column(SHARD_ID_COLUMN).unwrap().str().unwrap().get(9_999), Some("shardId-000000000003"));
        let rows = without_lineage(rows);
        assert!(rows.equals_missing(&in_microseconds(cleaned_by_the_batch_path(Table::Pin, &lines).await)));
    })
    .await;
}

#[cfg(feature = "local-servers")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
