//! Measures the stream processor on one 10,000-record Kinesis event of generated pin records (the
//! widest table), as Lambda would deliver it from one shard:
//!
//! ```text
//! scripts/services.sh start && eval "$(scripts/services.sh env)"
//! cargo run --release -p stream-processor --example throughput
//! ```
//!
//! It reports records/s for decoding the event JSON (what the Lambda runtime does before the handler
//! runs) and for the handler itself (decode, clean, Parquet, put) against a folder lake and against
//! the local S3 server (moto).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::kinesis::KinesisEvent;
use base64::Engine as _;
use pinpipe_lake::{LocalStore, ObjectStore};
use stream_processor::{Processor, StreamNames};

const RECORDS: usize = 10_000;
const RUNS: usize = 5;

/// The event as Lambda sends it: JSON with base64 data, one shard of `streaming-pinpipe-pin`.
fn event_json() -> String {
    let records: Vec<serde_json::Value> = pinpipe_emulate::Generator::new(5)
        .take(RECORDS)
        .enumerate()
        .map(|(i, post)| {
            let data = pinpipe_emulate::json_text(&post.pin);
            let sequence = format!("4965837012274682395821452745193218713641256348{:010}", 1_000_000_000 + i * 4_096);
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("pin-{}", post.key()),
                    "sequenceNumber": sequence,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_732_497_000.125,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/pinpipe-stream-processor-role",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-pinpipe-pin",
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

fn rate(elapsed: Duration) -> String {
    format!("{:>8.1} ms  {:>9.0} records/s", elapsed.as_secs_f64() * 1e3, RECORDS as f64 / elapsed.as_secs_f64())
}

/// The median of `RUNS` handler runs over `store`.
async fn measure(store: Arc<dyn ObjectStore>, event: &KinesisEvent) -> Duration {
    let processor = Processor::new(store, StreamNames::new("pinpipe"));
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let (response, counts) = processor.process(event.clone()).await.expect("processing");
        times.push(started.elapsed());
        assert!(response.batch_item_failures.is_empty(), "failures: {response:?}");
        assert_eq!(counts.rows_stored.values().sum::<usize>(), RECORDS);
    }
    times.sort();
    times[RUNS / 2]
}

#[tokio::main]
async fn main() {
    let json = event_json();
    println!("event: {RECORDS} pin records, {:.1} MB of JSON; median of {RUNS} runs", json.len() as f64 / 1e6);

    let started = Instant::now();
    let event: KinesisEvent = serde_json::from_str(&json).expect("a Kinesis event");
    println!("event JSON → KinesisEvent      {}", rate(started.elapsed()));

    let folder = std::env::temp_dir().join(format!("pinpipe-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    let local = measure(Arc::new(LocalStore::new(&folder)), &event).await;
    std::fs::remove_dir_all(&folder).expect("removing the temporary folder");
    println!("handler, lake in a folder      {}", rate(local));

    let s3 = pinpipe_lake::testing::fresh_s3_store("throughput").await;
    let on_s3 = measure(Arc::new(s3), &event).await;
    println!("handler, lake on moto S3       {}", rate(on_s3));
}
