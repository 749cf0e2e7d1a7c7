//! The Kafka side of ingestion alone (the "Other measures" of BENCHMARKS.md): records produced straight to a
//! broker, with no HTTP and no handler, so the broker's share of `bench/measures.sh ingest` can be
//! told from the API's.
//!
//! ```sh
//! PINPIPE_BENCH_KAFKA=127.0.0.1:19092 CARGO_TARGET_DIR=/work/target-release \
//!   cargo bench -p pinpipe-ingest --bench produce
//! ```
//!
//! Needs a broker at `PINPIPE_BENCH_KAFKA` holding the pin topic of prefix `pinpipe` (`bench/measures.sh
//! ingest` starts one and runs this); without the variable it says so and does nothing. Binds and
//! talks to that address only: give it a loopback one.
//!
//! Each producer is measured three ways: one record per call, calls one after another
//! (`batch 1, concurrency 1`); one record per call, 8 callers at once (`batch 1, concurrency 8`); and
//! 500 records per call, calls one after another (`batch 500, concurrency 1`). Producers:
//! * `KafkaProducer` — the API's own adapter ([`pinpipe_ingest::KafkaProducer`]: idempotent,
//!   `acks=all`, LZ4, `linger.ms=1`);
//! * `rdkafka linger.ms=0` — the same settings but no linger, built here, to show what waiting for
//!   more records costs a request that carries one.
//!
//! `PINPIPE_BENCH_SMOKE=1` sends a few records per case: a check that it works.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use futures::future::join_all;
use pinpipe_contract::{names, Table};
use pinpipe_ingest::{KafkaConfig, KafkaProducer, TopicProducer, TopicRecord};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

/// The topic the records go to: the pin topic of prefix `pinpipe`.
static TOPIC: LazyLock<String> = LazyLock::new(|| names::topic_name("pinpipe", Table::Pin));

/// What to produce with: the API's adapter, or a bare librdkafka producer with chosen settings.
enum Producer {
    Adapter(Box<KafkaProducer>),
    Bare(FutureProducer),
}

impl Producer {
    /// Produces `records` and waits for every acknowledgement; panics on a failure.
    async fn produce(&self, records: &[TopicRecord]) {
        match self {
            Producer::Adapter(producer) => {
                for result in producer.produce(&TOPIC, records).await {
                    result.expect("the broker acknowledges");
                }
            }
            Producer::Bare(producer) => {
                let sends = records.iter().map(|record| {
                    producer.send(FutureRecord::<[u8], [u8]>::to(&TOPIC).payload(&record.value[..]), Timeout::Never)
                });
                for result in join_all(sends).await {
                    result.map_err(|(error, _)| error).expect("the broker acknowledges");
                }
            }
        }
    }
}

fn bare(bootstrap: &str, linger_ms: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "pinpipe-bench")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.codec", "lz4")
        .set("linger.ms", linger_ms)
        .set("message.timeout.ms", "5000")
        .set("security.protocol", "plaintext")
        .create()
        .expect("a producer")
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1e3
}

/// Runs `calls` produce calls of `batch` records, `concurrency` callers at once; prints a table row.
async fn case(
    name: &str,
    producer: &Arc<Producer>,
    records: &Arc<Vec<TopicRecord>>,
    batch: usize,
    concurrency: usize,
    calls: usize,
) {
    let started = Instant::now();
    let per_caller = calls.div_ceil(concurrency);
    let callers = (0..concurrency).map(|caller| {
        let producer = producer.clone();
        let records = records.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_caller);
            for call in 0..per_caller {
                let start = ((caller * per_caller + call) * batch) % (records.len() - batch + 1);
                let sent = Instant::now();
                producer.produce(&records[start..start + batch]).await;
                latencies.push(sent.elapsed());
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> =
        join_all(callers).await.into_iter().flat_map(|latencies| latencies.expect("a caller")).collect();
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "| {name} | {batch} | {concurrency} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
        latencies.len() * batch,
        (latencies.len() * batch) as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().map_or(0.0, |max| max.as_secs_f64() * 1e3),
    );
}

#[tokio::main]
async fn main() {
    let Ok(bootstrap) = std::env::var("PINPIPE_BENCH_KAFKA") else {
        println!("PINPIPE_BENCH_KAFKA is not set: no broker to measure (bench/measures.sh ingest sets it)");
        return;
    };
    let smoke = std::env::var_os("PINPIPE_BENCH_SMOKE").is_some_and(|value| !value.is_empty() && value != "0");
    let (single_calls, batch_calls) = if smoke { (20, 2) } else { (2_000, 100) };
    let records: Arc<Vec<TopicRecord>> = Arc::new(
        pinpipe_emulate::Generator::new(9)
            .take(1_000)
            .map(|post| TopicRecord {
                key: None,
                value: pinpipe_emulate::json_text(&post.pin).into_bytes(),
                partition: None,
            })
            .collect(),
    );
    let adapter = KafkaProducer::new(KafkaConfig::plaintext(bootstrap.clone()), None);
    adapter.connect().await.expect("connecting to the broker");
    let producers: Vec<(&str, Arc<Producer>)> = vec![
        ("KafkaProducer (linger.ms=1)", Arc::new(Producer::Adapter(Box::new(adapter)))),
        ("rdkafka linger.ms=0", Arc::new(Producer::Bare(bare(&bootstrap, "0")))),
    ];
    println!("Kafka produce at {bootstrap}, topic {} (no HTTP, no handler); latency per produce call", *TOPIC);
    println!();
    println!("| producer | batch | concurrency | records | records/s | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, producer) in &producers {
        // Warm-up: connections and metadata.
        producer.produce(&records[..10]).await;
        case(name, producer, &records, 1, 1, single_calls).await;
        case(name, producer, &records, 1, 8, single_calls).await;
        case(name, producer, &records, 500, 1, batch_calls).await;
    }
}
