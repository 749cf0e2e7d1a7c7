//! Criterion benchmarks of the landing function (the "other measures" of BENCHMARKS.md): one MSK event of the
//! largest synchronous Lambda payload (6 MiB of JSON: generated pin records, base64 values, over 4
//! partitions of `pinpipe.pin`), landed into a lake in a local folder (`pinpipe_lake::LocalStore`, in
//! `/dev/shm` where there is one, so the figure is the handler's CPU and not the disk's `fsync`).
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-release cargo bench --workspace --bench landing
//! # per core:
//! taskset -c 0 env CARGO_TARGET_DIR=/work/target-release cargo bench --workspace --bench landing
//! ```
//!
//! Group `landing` (throughput in records, so criterion prints records/s as `elem/s`):
//! * `event_json`: the event's JSON text to a `KafkaEvent` (the Lambda runtime does this before the
//!   handler runs);
//! * `plan`: [`kafka_to_s3::plan`] (group by topic partition, order by offset, base64-decode and check
//!   each value is one JSON line, build the objects);
//! * `plan_write_local`: `plan` then [`kafka_to_s3::write`] to the folder lake;
//! * `handle_local`: [`kafka_to_s3::handle`], the whole handler, on the folder lake.
//!
//! `PINPIPE_BENCH_SMOKE=1` uses a 64 KiB event and a few iterations: a check that the harness still
//! runs, not a measurement.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::kafka::KafkaEvent;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_events::{kafka_event_within, EventOrigin, TopicMessage};
use pinpipe_lake::{LocalStore, ObjectStore};

/// The largest request Lambda accepts for a synchronous invoke (the test's 6 MB event).
const MAX_LAMBDA_PAYLOAD: usize = 6 * 1024 * 1024;
const SMOKE_PAYLOAD: usize = 64 * 1024;

fn smoke() -> bool {
    std::env::var_os("PINPIPE_BENCH_SMOKE").is_some_and(|value| !value.is_empty() && value != "0")
}

/// The event JSON of generated pin records over 4 partitions, within `payload` bytes, and the
/// number of records in it (built as `landing_on_s3.rs` builds its 6 MB event).
fn event_json(payload: usize) -> (String, usize) {
    let messages = pinpipe_emulate::Generator::new(11)
        .enumerate()
        .map(|(i, post)| TopicMessage::numbered("pinpipe.pin", 4, i, pinpipe_emulate::json_text(&post.pin)));
    let (json, taken) = kafka_event_within(&EventOrigin::new("127.0.0.1:9092"), messages, payload);
    (json, taken.len())
}

fn landing(c: &mut Criterion) {
    let (json, records) = event_json(if smoke() { SMOKE_PAYLOAD } else { MAX_LAMBDA_PAYLOAD });
    let event: KafkaEvent = serde_json::from_str(&json).expect("a Kafka event");
    eprintln!("landing: event of {} bytes, {records} pin records over 4 partitions", json.len());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");
    let folder = pinpipe_lake::testing::scratch_folder("bench-landing");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(&folder));

    // Once outside the timing: every record lands, in 4 objects, none refused.
    let summary = runtime
        .block_on(kafka_to_s3::handle(store.clone(), LambdaEvent::new(event.clone(), Context::default())))
        .expect("landing");
    assert_eq!((summary.objects_written, summary.records_landed, summary.records_rejected), (4, records, 0));

    let mut group = c.benchmark_group("landing");
    if smoke() {
        group.sample_size(10).warm_up_time(Duration::from_millis(10)).measurement_time(Duration::from_millis(50));
    } else {
        group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    }
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function("event_json", |b| b.iter(|| serde_json::from_str::<KafkaEvent>(&json).expect("an event")));
    group.bench_function("plan", |b| b.iter(|| kafka_to_s3::plan(&event)));
    group.bench_function("plan_write_local", |b| {
        b.iter(|| {
            let plan = kafka_to_s3::plan(&event);
            runtime.block_on(kafka_to_s3::write(store.as_ref(), plan.objects)).expect("writing")
        })
    });
    group.bench_function("handle_local", |b| {
        b.iter_batched(
            || LambdaEvent::new(event.clone(), Context::default()),
            |event| runtime.block_on(kafka_to_s3::handle(store.clone(), event)).expect("landing"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    std::fs::remove_dir_all(&folder).expect("removing the temporary folder");
}

criterion_group!(benches, landing);
criterion_main!(benches);
