//! Criterion benchmarks of the stream processor (the "other measures" of BENCHMARKS.md): one 10,000-record
//! Kinesis event, as Lambda delivers it from one shard, processed into a lake in a local folder
//! (`pinpipe_lake::LocalStore`, in `/dev/shm` where there is one, so the figure is the processor's
//! CPU and not the disk's `fsync`), and the stages of that work measured one by one so the time can
//! be attributed.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-release cargo bench --workspace --bench stream
//! # records/s per core: one CPU, Polars and rayon with one thread each
//! taskset -c 0 env POLARS_MAX_THREADS=1 RAYON_NUM_THREADS=1 \
//!   CARGO_TARGET_DIR=/work/target-release cargo bench --workspace --bench stream
//! ```
//!
//! Groups (throughput in records, so criterion prints records/s as `elem/s`):
//! * `stream/process`: [`Processor::process`] on the whole event (group, decode, clean, Parquet, the
//!   commit to the Delta table with its positions)
//!   for `pin_10k` (10,000 pin records, the widest table, one stream, drawn from the emulator's
//!   default 11,153 source rows, so titles and descriptions repeat), `pin_10k_distinct` (the same
//!   from 100,000 source rows: nearly all distinct, as real traffic) and `mixed_10k` (3,334 pin,
//!   3,333 geo and 3,333 user records from the three streams, one shard each);
//! * `stream/stage`: the same pin event stage by stage: `event_json` (the event's JSON text to the
//!   handler's [`KinesisBatch`], which the Lambda runtime does before the handler; and, to compare,
//!   `event_json_full` into `aws_lambda_events`' `KinesisEvent`), `decode_records`, `clean`,
//!   and the cleaned frame as Parquet by compression: `parquet_snappy` (what the processor writes),
//!   `parquet_zstd` (what the batch writes), `parquet_uncompressed` (sizes printed once).
//!
//! `PINPIPE_BENCH_SMOKE=1` makes each measurement tiny (100 records, a few iterations): a check that
//! the harness still runs, not a measurement.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::kinesis::KinesisEvent;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pinpipe_batch::BATCH_COMPRESSION;
use pinpipe_contract::Names;
use pinpipe_contract::Table;
use pinpipe_core::clean::clean;
use pinpipe_core::decode::decode_records;
use pinpipe_core::export::parquet_bytes;
use pinpipe_emulate::Generator;
use pinpipe_events::{kinesis_event_json, EventOrigin, ShardRecord};
use pinpipe_lake::LocalStore;
use polars::prelude::ParquetCompression;
use stream_processor::{KinesisBatch, Processor, Source};

/// The function's allocator (`src/main.rs`), so the figures are the function's.
#[global_allocator]
static ALLOCATOR: pinpipe_allocator::Allocator = pinpipe_allocator::Allocator {};

const RECORDS: usize = 10_000;
const SMOKE_RECORDS: usize = 100;

/// The emulator's seed for every event of the bench.
const SEED: u64 = 5;

/// Source rows per record of the distinct pin event, as the batch harness's realistic workload
/// (`pinpipe emulate --source-rows 10N`): nearly every record differs.
const DISTINCT_SOURCE_ROWS_PER_RECORD: usize = 10;

fn smoke() -> bool {
    std::env::var_os("PINPIPE_BENCH_SMOKE").is_some_and(|value| !value.is_empty() && value != "0")
}

fn records() -> usize {
    if smoke() {
        SMOKE_RECORDS
    } else {
        RECORDS
    }
}

const SHARD: &str = "shardId-000000000000";

/// The event JSON of one shard's `records`.
fn event_json(records: &[ShardRecord]) -> String {
    kinesis_event_json(&EventOrigin::new("127.0.0.1:9092"), records).to_string()
}

/// The event JSON of `records` pin records from `generator`, as `streaming-pinpipe-pin` delivers them.
fn pin_event_json(records: usize, generator: Generator) -> String {
    let records: Vec<ShardRecord> = generator
        .take(records)
        .enumerate()
        .map(|(i, post)| {
            ShardRecord::numbered("streaming-pinpipe-pin", SHARD, i, pinpipe_emulate::json_text(&post.pin))
        })
        .collect();
    event_json(&records)
}

/// The event JSON of `records` records, the pin, geo and user records of generated posts in turn,
/// each from its own stream.
fn mixed_event_json(records: usize) -> String {
    let texts = Generator::new(SEED)
        .flat_map(|post| ["pin", "geo", "user"].into_iter().zip(post.json_texts()).collect::<Vec<_>>());
    let records: Vec<ShardRecord> = texts
        .take(records)
        .enumerate()
        .map(|(i, (table, text))| ShardRecord::numbered(&format!("streaming-pinpipe-{table}"), SHARD, i, text))
        .collect();
    event_json(&records)
}

fn event(json: &str) -> KinesisBatch {
    serde_json::from_str(json).expect("a Kinesis event")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime")
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    if smoke() {
        group.sample_size(10).warm_up_time(Duration::from_millis(10)).measurement_time(Duration::from_millis(50));
    } else {
        group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    }
}

fn process(c: &mut Criterion) {
    pinpipe_allocator::keep_freed_memory();
    let records = records();
    let runtime = runtime();
    let folder = pinpipe_lake::testing::scratch_folder("bench-stream");
    let processor = Processor::new(Arc::new(LocalStore::new(&folder)), Names::new("pinpipe"));

    let mut group = c.benchmark_group("stream/process");
    configure(&mut group);
    group.throughput(Throughput::Elements(records as u64));
    let distinct = Generator::with_source_rows(SEED, DISTINCT_SOURCE_ROWS_PER_RECORD * records);
    for (name, json) in [
        ("pin_10k", pin_event_json(records, Generator::new(SEED))),
        ("pin_10k_distinct", pin_event_json(records, distinct)),
        ("mixed_10k", mixed_event_json(records)),
    ] {
        let event = event(&json);
        // Once outside the timing: every record is stored, none refused or failed.
        let check = format!("bench-{name}-check");
        let (response, counts) =
            runtime.block_on(processor.process_from(event.clone(), Source::Replay(&check))).expect("processing");
        assert!(response.batch_item_failures.is_empty(), "failures: {response:?}");
        assert_eq!(counts.rows_stored.values().sum::<usize>(), records, "{counts:?}");
        // Each iteration's records are a source of their own, or the table would hold them already.
        let mut round = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    round += 1;
                    (event.clone(), format!("bench-{name}-{round}"))
                },
                |(event, source)| {
                    runtime.block_on(processor.process_from(event, Source::Replay(&source))).expect("processing")
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
    std::fs::remove_dir_all(&folder).expect("removing the temporary folder");
}

fn stages(c: &mut Criterion) {
    pinpipe_allocator::keep_freed_memory();
    let records = records();
    let json = pin_event_json(records, Generator::new(SEED));
    let event = event(&json);
    let raw: Vec<&[u8]> = event.records.iter().map(|record| record.kinesis.data.0.as_slice()).collect();
    let decoded = decode_records(Table::Pin, &raw).expect("decoding");
    assert!(decoded.refused.is_empty());
    let cleaned = clean(Table::Pin, decoded.frame.clone()).expect("cleaning");
    assert_eq!(cleaned.frame.height(), records);

    let mut group = c.benchmark_group("stream/stage");
    configure(&mut group);
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function("event_json", |b| b.iter(|| serde_json::from_str::<KinesisBatch>(&json).expect("an event")));
    group.bench_function("event_json_full", |b| {
        b.iter(|| serde_json::from_str::<KinesisEvent>(&json).expect("an event"))
    });
    group.bench_function("decode_records", |b| b.iter(|| decode_records(Table::Pin, &raw).expect("decoding")));
    group.bench_function("clean", |b| {
        b.iter_batched(
            || decoded.frame.clone(),
            |frame| clean(Table::Pin, frame).expect("cleaning"),
            BatchSize::SmallInput,
        )
    });
    for (name, compression) in [
        ("parquet_zstd", BATCH_COMPRESSION),
        ("parquet_snappy", ParquetCompression::Snappy),
        ("parquet_uncompressed", ParquetCompression::Uncompressed),
    ] {
        let bytes = parquet_bytes(&cleaned.frame, compression).expect("Parquet").len();
        eprintln!("{name}: {bytes} bytes for {records} cleaned pin rows");
        group.bench_function(name, |b| b.iter(|| parquet_bytes(&cleaned.frame, compression).expect("Parquet")));
    }
    group.finish();
}

criterion_group!(benches, process, stages);
criterion_main!(benches);
