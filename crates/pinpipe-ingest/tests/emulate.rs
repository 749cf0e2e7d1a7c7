//! `pinpipe emulate --api` (the `post` module of pinpipe-emulate) against the handler served locally
//! over HTTP (axum on 127.0.0.1), with Kafka on tansu and Kinesis on moto: what the emulator counts as
//! acknowledged is exactly what the broker and the streams hold. Needs both: feature `local-servers`.

use std::sync::Arc;
use std::time::Duration;

use pinpipe_contract::Table;
use pinpipe_emulate::post::{post, Mode, PostOptions};
use pinpipe_emulate::Generator;
use pinpipe_ingest::testing::{
    create_streams, create_topics, kafka_bootstrap, local_ingest, read_stream, read_topic, unique_prefix,
};
use pinpipe_ingest::{compact, Ingest};

/// Serves `ingest` on a free loopback port; returns its base URL.
async fn serve(ingest: Ingest) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(pinpipe_ingest::server::serve(listener, Arc::new(ingest)));
    format!("http://{address}")
}

/// The compact texts of table `table` (0 pin, 1 geo, 2 user) of the first `rows` posts of `seed`.
fn expected(seed: u64, rows: usize, table: usize) -> Vec<String> {
    let mut texts: Vec<String> =
        Generator::new(seed).take(rows).map(|post| compact(&post.json_texts()[table])).collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn batch_mode_lands_every_record_in_its_topic() {
    let prefix = unique_prefix("emulate-batch");
    let bootstrap = kafka_bootstrap();
    let (ingest, _) = local_ingest(&prefix, Some(&bootstrap)).await;
    create_topics(&bootstrap, ingest.names().topics(), 1).await;
    let topics = ingest.names().topics().clone();
    let api = serve(ingest).await;

    let options = PostOptions {
        batch_size: 10,
        concurrency: 3,
        seed: 9,
        prefix: prefix.clone(),
        ..PostOptions::new(&api, Mode::Batch, 25)
    };
    let summary = post(&options).await.unwrap();
    assert_eq!((summary.sent, summary.acknowledged, summary.failed_total()), (75, 75, 0), "{summary}");
    assert_eq!(summary.requests, 9);
    assert!(summary.latency_p50 > Duration::ZERO && summary.latency_p50 <= summary.latency_p99);
    assert!(summary.rate() > 0.0);
    assert!(summary.to_string().contains("75 acknowledged, 0 failed"), "{summary}");

    for (table, topic) in topics.iter().enumerate() {
        let stored = read_topic(&bootstrap, topic, 0, 0, 25).await;
        let offsets: Vec<i64> = stored.iter().map(|record| record.offset).collect();
        assert_eq!(offsets, (0..25).collect::<Vec<_>>());
        let mut values: Vec<String> = stored.into_iter().map(|record| record.value).collect();
        values.sort();
        assert_eq!(values, expected(9, 25, table), "{topic}");
    }
}

#[tokio::test]
async fn stream_mode_lands_every_record_in_its_stream() {
    let prefix = unique_prefix("emulate-stream");
    let (ingest, kinesis) = local_ingest(&prefix, None).await;
    create_streams(&kinesis, ingest.names().streams()).await;
    let streams = ingest.names().streams().clone();
    let api = serve(ingest).await;

    // PutRecord, one record a request, paced.
    let options = PostOptions {
        concurrency: 2,
        rate: Some(200.0),
        seed: 4,
        prefix: prefix.clone(),
        ..PostOptions::new(&api, Mode::Stream, 6)
    };
    let summary = post(&options).await.unwrap();
    assert_eq!((summary.sent, summary.acknowledged, summary.requests), (18, 18, 18), "{summary}");
    // 18 records at 200/s: the last is due 85 ms after the first.
    assert!(summary.elapsed >= Duration::from_millis(85), "{summary}");
    // PutRecords, four records a request: the next posts of another seed.
    let options =
        PostOptions { batch_size: 4, seed: 8, prefix: prefix.clone(), ..PostOptions::new(&api, Mode::Stream, 10) };
    let summary = post(&options).await.unwrap();
    assert_eq!((summary.sent, summary.acknowledged, summary.requests), (30, 30, 9), "{summary}");

    for (table, stream) in streams.iter().enumerate() {
        let mut data: Vec<String> = read_stream(&kinesis, stream).await.into_iter().map(|record| record.data).collect();
        data.sort();
        let mut wanted = [expected(4, 6, table), expected(8, 10, table)].concat();
        wanted.sort();
        assert_eq!(data, wanted, "{stream}");
    }
}

#[tokio::test]
async fn replayed_source_files_land_as_they_are() {
    let prefix = unique_prefix("emulate-source");
    let bootstrap = kafka_bootstrap();
    let (ingest, _) = local_ingest(&prefix, Some(&bootstrap)).await;
    create_topics(&bootstrap, ingest.names().topics(), 1).await;
    let topics = ingest.names().topics().clone();
    let api = serve(ingest).await;
    let sample = pinpipe_lake::testing::real_sample_dir();

    let options =
        PostOptions { batch_size: 30, source: Some(sample.clone()), prefix, ..PostOptions::new(&api, Mode::Batch, 30) };
    let summary = post(&options).await.unwrap();
    assert_eq!((summary.sent, summary.acknowledged, summary.requests), (90, 90, 3), "{summary}");
    for (topic, table) in topics.iter().zip(Table::ALL) {
        let lines = std::fs::read_to_string(sample.join(pinpipe_emulate::table_file_name(table))).unwrap();
        let wanted: Vec<String> = lines.lines().take(30).map(compact).collect();
        let stored: Vec<String> =
            read_topic(&bootstrap, topic, 0, 0, 30).await.into_iter().map(|record| record.value).collect();
        assert_eq!(stored, wanted, "{topic}");
    }
}
