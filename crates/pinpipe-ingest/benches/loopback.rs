//! The ingestion API over HTTP on loopback with no broker behind it (the "Other measures" of BENCHMARKS.md):
//! the axum server of the `serve` example ([`pinpipe_ingest::server`]) over a handler whose Kafka
//! acknowledges every record at once, driven by the emulator's poster (`pinpipe emulate --api`'s
//! code) for batch sizes 1 and 500 at concurrency 1..16. Compared with `bench/ingest.sh` (the same
//! poster and server in front of a real broker) it says what HTTP, the handler and the client cost
//! without the broker.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-release cargo bench --workspace --bench loopback
//! ```
//!
//! Not a criterion benchmark: each line is one whole run (records/s acknowledged, request latency
//! p50/p99/max), printed as a Markdown table. The server and the poster run in this one process, on
//! separate Tokio runtimes, and share the machine's cores. Binds 127.0.0.1 only.
//!
//! Environment: `PINPIPE_BENCH_SMOKE=1` for a tiny run (a check that it works);
//! `PINPIPE_LOOPBACK_BATCHES` (default `1,500`) and `PINPIPE_LOOPBACK_CONCURRENCY` (default
//! `1,2,4,8,16`) choose the grid; `PINPIPE_LOOPBACK_RECORDS` the records per run (default 30,000 for
//! batch size 1, 300,000 otherwise); `PINPIPE_LOOPBACK_LOG=1` installs the `serve` example's JSON log
//! subscriber (info, to a sink) so each request pays its log line as the server does;
//! `PINPIPE_LOOPBACK_API=http://127.0.0.1:PORT` posts to a server already running there (the `serve`
//! example in front of a real broker) instead of starting the in-process one (loopback addresses only).

use std::sync::Arc;
use std::time::Duration;

use pinpipe_emulate::post::{post, Mode, PostOptions};
use pinpipe_ingest::testing::AckingProducer;
use pinpipe_ingest::{Ingest, Names};

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .split(',')
            .map(|item| item.trim().parse().unwrap_or_else(|_| panic!("{name}: {item:?} is not a number")))
            .collect(),
        _ => default.to_vec(),
    }
}

/// The host of an `http://host:port/...` URL.
fn reqwest_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rfind(':') {
        Some(colon) if !authority.ends_with(']') => &authority[..colon],
        _ => authority,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let smoke = std::env::var_os("PINPIPE_BENCH_SMOKE").is_some_and(|value| !value.is_empty() && value != "0");
    let batches = env_list("PINPIPE_LOOPBACK_BATCHES", &[1, 500]);
    let concurrencies = env_list("PINPIPE_LOOPBACK_CONCURRENCY", if smoke { &[1, 4] } else { &[1, 2, 4, 8, 16] });
    let records_override = std::env::var("PINPIPE_LOOPBACK_RECORDS").ok().map(|text| {
        text.trim().parse::<usize>().unwrap_or_else(|_| panic!("PINPIPE_LOOPBACK_RECORDS: {text:?} is not a number"))
    });
    if std::env::var_os("PINPIPE_LOOPBACK_LOG").is_some_and(|value| value == "1") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(std::io::sink)
            .init();
    }

    let server = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the server's runtime");
    let api = api(&server);
    let client = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the poster's runtime");
    println!();
    println!("| batch size | concurrency | records | records/s | p50 ms | p99 ms | max ms |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut failed = 0;
    for &batch in &batches {
        for &concurrency in &concurrencies {
            let records = records_override.unwrap_or(match (smoke, batch) {
                (true, 1) => 300,
                (true, _) => 3_000,
                (false, 1) => 30_000,
                (false, _) => 300_000,
            });
            failed += client.block_on(run(&api, batch, concurrency, records));
        }
    }
    assert_eq!(failed, 0, "records were not acknowledged");
}

/// The API's base URL: the server `PINPIPE_LOOPBACK_API` names (on loopback), or the handler served
/// here on `server`'s runtime with a Kafka that acknowledges at once.
fn api(server: &tokio::runtime::Runtime) -> String {
    if let Ok(api) = std::env::var("PINPIPE_LOOPBACK_API") {
        let host = reqwest_host(&api);
        assert!(
            host == "127.0.0.1" || host == "localhost" || host == "[::1]",
            "PINPIPE_LOOPBACK_API must be on loopback"
        );
        println!("API at {api} (an external server), poster in this process");
        return api;
    }
    let ingest = Arc::new(Ingest::new(Names::new("pinpipe"), Some(Arc::new(AckingProducer::default())), None));
    let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
    let address = listener.local_addr().expect("the bound address");
    server.spawn(async move { pinpipe_ingest::server::serve(listener, ingest).await });
    println!("API on http://{address} (handler + axum, Kafka acknowledging at once), poster in the same process");
    format!("http://{address}")
}

/// One run of about `records` records, `batch` a request and `concurrency` requests at once; prints
/// its table row and returns the records not acknowledged.
async fn run(api: &str, batch: usize, concurrency: usize, records: usize) -> u64 {
    let options = PostOptions {
        concurrency,
        batch_size: batch,
        seed: 1,
        timeout: Duration::from_secs(30),
        // `rows` counts posts: three records each, one per table.
        ..PostOptions::new(api, Mode::Batch, records.div_ceil(3))
    };
    let summary = post(&options).await.expect("posting");
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    println!(
        "| {batch} | {concurrency} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
        summary.acknowledged,
        summary.rate(),
        ms(summary.latency_p50),
        ms(summary.latency_p99),
        ms(summary.latency_max)
    );
    summary.failed_total()
}
