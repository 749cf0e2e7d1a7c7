//! Criterion benchmarks of the ingestion handler alone (the "Other measures" of BENCHMARKS.md): what the API
//! itself costs per request, without HTTP and without a broker. [`Ingest::handle`] is given in-process
//! ports that acknowledge every record at once (`pinpipe_ingest::testing::{AckingProducer, AckingWriter}`), so
//! the figures are routing, content-type and body checks, record compaction, the answer's JSON and
//! the request's log line.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-release cargo bench --workspace --bench handler
//! # one core:
//! taskset -c 0 env CARGO_TARGET_DIR=/work/target-release cargo bench --workspace --bench handler
//! ```
//!
//! Groups (throughput in records, so criterion prints records/s as `elem/s`):
//! * `ingest/handle`: `POST /topics/<pin topic of prefix pinpipe>` with 1 and with 500 generated pin records per request
//!   (`topic_batch_1`, `topic_batch_500`), and the Kinesis-proxy routes (`stream_record_1`: PutRecord,
//!   `stream_records_500`: PutRecords); no log subscriber, so the log line costs nothing;
//! * `ingest/handle_logged`: the two topic cases with the `serve` example's JSON log subscriber at
//!   `info` writing to a sink, i.e. with the one log line per request that the server writes.
//!
//! `PINPIPE_BENCH_SMOKE=1` makes each measurement a few milliseconds: a check that the harness still
//! runs, not a measurement.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pinpipe_contract::Table;
use pinpipe_ingest::testing::{AckingProducer, AckingWriter};
use pinpipe_ingest::{Ingest, IngestRequest, Names};

fn smoke() -> bool {
    std::env::var_os("PINPIPE_BENCH_SMOKE").is_some_and(|value| !value.is_empty() && value != "0")
}

/// `records` generated pin records as the emulator posts them (as-posted JSON text), with their keys.
fn pins(records: usize) -> Vec<(u32, String)> {
    pinpipe_emulate::Generator::new(3)
        .take(records)
        .map(|post| (post.key(), pinpipe_emulate::json_text(&post.pin)))
        .collect()
}

/// A REST-proxy produce body, exactly as `pinpipe emulate --mode batch` builds it.
fn topic_body(records: &[(u32, String)]) -> Vec<u8> {
    let values: Vec<String> = records.iter().map(|(_, text)| format!("{{\"value\":{text}}}")).collect();
    format!("{{\"records\":[{}]}}", values.join(",")).into_bytes()
}

/// A PutRecord body, as the emulator builds it.
fn record_body(stream: &str, (key, text): &(u32, String)) -> Vec<u8> {
    format!("{{\"StreamName\":\"{stream}\",\"Data\":{text},\"PartitionKey\":\"{key}\"}}").into_bytes()
}

/// A PutRecords body, as the emulator builds it.
fn records_body(records: &[(u32, String)]) -> Vec<u8> {
    let entries: Vec<String> =
        records.iter().map(|(key, text)| format!("{{\"data\":{text},\"partition-key\":\"{key}\"}}")).collect();
    format!("{{\"records\":[{}]}}", entries.join(",")).into_bytes()
}

/// The naming prefix the benchmarks post to.
const PREFIX: &str = "pinpipe";

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    records: u64,
}

fn cases() -> Vec<Case> {
    let records = pins(500);
    let names = Names::new(PREFIX);
    let (topic, stream) = (names.topic(Table::Pin), names.stream(Table::Pin));
    vec![
        Case {
            name: "topic_batch_1",
            method: "POST",
            path: format!("/topics/{topic}"),
            content_type: "application/vnd.kafka.json.v2+json",
            body: topic_body(&records[..1]),
            records: 1,
        },
        Case {
            name: "topic_batch_500",
            method: "POST",
            path: format!("/topics/{topic}"),
            content_type: "application/vnd.kafka.json.v2+json",
            body: topic_body(&records),
            records: 500,
        },
        Case {
            name: "stream_record_1",
            method: "PUT",
            path: format!("/streams/{stream}/record"),
            content_type: "application/json",
            body: record_body(stream, &records[0]),
            records: 1,
        },
        Case {
            name: "stream_records_500",
            method: "PUT",
            path: format!("/streams/{stream}/records"),
            content_type: "application/json",
            body: records_body(&records),
            records: 500,
        },
    ]
}

fn ingest() -> Ingest {
    Ingest::new(Names::new(PREFIX), Some(Arc::new(AckingProducer::default())), Some(Arc::new(AckingWriter::default())))
}

fn request(case: &Case) -> IngestRequest<'_> {
    IngestRequest {
        method: case.method,
        path: &case.path,
        content_type: Some(case.content_type),
        body: &case.body,
        request_id: "0f6c3c52-1d1e-4a8e-9b7a-3f5d2c1b0a99",
    }
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    if smoke() {
        group.sample_size(10).warm_up_time(Duration::from_millis(10)).measurement_time(Duration::from_millis(20));
    } else {
        group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    }
}

fn handle(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let ingest = ingest();
    let cases = cases();
    for case in &cases {
        let answer = runtime.block_on(ingest.handle(request(case)));
        assert_eq!(answer.status, 200, "{}: {}", case.name, answer.body);
    }

    let mut group = c.benchmark_group("ingest/handle");
    configure(&mut group);
    for case in &cases {
        group.throughput(Throughput::Elements(case.records));
        group.bench_function(case.name, |b| b.iter(|| runtime.block_on(ingest.handle(request(case)))));
    }
    group.finish();

    // The serve example's subscriber (JSON lines at info), writing to a sink instead of stderr.
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut group = c.benchmark_group("ingest/handle_logged");
        configure(&mut group);
        for case in cases.iter().filter(|case| case.name.starts_with("topic_")) {
            group.throughput(Throughput::Elements(case.records));
            group.bench_function(case.name, |b| b.iter(|| runtime.block_on(ingest.handle(request(case)))));
        }
        group.finish();
    });
}

criterion_group!(benches, handle);
criterion_main!(benches);
