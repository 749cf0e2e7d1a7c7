//! The whole pipeline over the local servers (tansu, moto), driven as `pinpipe run --services local`
//! drives it: posts through the HTTP API on both paths, landed and streamed by the Lambda handlers
//! fed by the event-source loops, the batch run on a scheduled event.

mod common;

use std::collections::BTreeMap;

use pinpipe_contract::Table;
use pinpipe_core::export::write_csv;
use pinpipe_core::queries::QUERIES;
use pinpipe_local::{run, Paths, RunOptions};

use common::{distinct_records, local_stack};

const SEED: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_thousand_posts_on_both_paths_arrive_exactly_once() {
    let rows = 3_000;
    let stack = local_stack("e2e-both", None);
    let report = run(RunOptions { seed: SEED, ..RunOptions::new(stack, rows) }).await.unwrap();
    let accounts = &report.accounts;
    let records = 3 * rows as u64;
    assert_eq!(accounts.posted, 2 * records, "{accounts:?}");
    assert_eq!(accounts.acknowledged, 2 * records, "{accounts:?}");
    assert_eq!(accounts.landed_raw, records, "{accounts:?}");
    assert_eq!(accounts.streamed, records, "{accounts:?}");
    assert_eq!((accounts.rejected, accounts.lost, accounts.doubled), (0, 0, 0), "{accounts:?}");

    // The batch cleaned each distinct record once.
    let batch = report.batch.as_ref().unwrap();
    let distinct = distinct_records(SEED, rows);
    for (table, expected) in Table::ALL.into_iter().zip(distinct) {
        let counts = &batch.tables[&table];
        assert_eq!(counts.records_in, rows as u64, "{table}");
        assert_eq!(counts.records_cleaned, expected as u64, "{table}");
        assert_eq!(counts.duplicates_dropped, (rows - expected) as u64, "{table}");
    }
    assert_eq!(accounts.cleaned, distinct.iter().sum::<usize>() as u64);

    // The results equal what `pinpipe transform` computes from the same posts.
    let files = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (dir, rows_dumped) = (files.path().to_path_buf(), rows);
    tokio::task::spawn_blocking(move || pinpipe_emulate::dump(&dir, rows_dumped, SEED)).await.unwrap().unwrap();
    pinpipe_batch::transform_dir(files.path(), out.path()).await.unwrap();
    let results: BTreeMap<String, _> =
        report.results.iter().map(|(id, _, frame)| (id.clone(), frame.clone())).collect();
    assert_eq!(results.len(), QUERIES.len());
    for query in QUERIES {
        let mut ours = Vec::new();
        write_csv(&results[query.id], &mut ours).unwrap();
        let offline = std::fs::read(out.path().join(query.csv_name)).unwrap();
        assert!(ours == offline, "{} differs from `pinpipe transform`:\n{}", query.id, String::from_utf8_lossy(&ours));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_batch_delivered_twice_changes_nothing() {
    let rows = 500;
    let mut stack = local_stack("e2e-twice", None);
    stack.batching.deliveries = 2;
    let report = run(RunOptions { seed: SEED, ..RunOptions::new(stack, rows) }).await.unwrap();
    let accounts = &report.accounts;
    let records = 3 * rows as u64;
    assert_eq!(accounts.acknowledged, 2 * records, "{accounts:?}");
    assert_eq!((accounts.landed_raw, accounts.streamed), (records, records), "{accounts:?}");
    assert_eq!((accounts.lost, accounts.doubled), (0, 0), "{accounts:?}");
    let distinct = distinct_records(SEED, rows);
    assert_eq!(accounts.cleaned, distinct.iter().sum::<usize>() as u64);
    // Each table holds each distinct record once, though every batch landed twice.
    let batch = report.batch.as_ref().unwrap();
    for (table, expected) in Table::ALL.into_iter().zip(distinct) {
        assert_eq!(batch.tables[&table].records_cleaned, expected as u64, "{table}");
    }
    let (landing, streaming) = (report.invocations.0, report.invocations.1);
    assert!(landing >= 2 && landing % 2 == 0 && streaming >= 2 && streaming % 2 == 0, "{landing} {streaming}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stream_path_alone_runs_no_batch() {
    let stack = local_stack("e2e-stream", None);
    let report = run(RunOptions { paths: Paths::Stream, ..RunOptions::new(stack, 200) }).await.unwrap();
    assert!(report.batch.is_none() && report.results.is_empty());
    assert_eq!((report.accounts.streamed, report.accounts.landed_raw), (600, 0), "{:?}", report.accounts);
    assert_eq!((report.accounts.lost, report.accounts.doubled), (0, 0));
}
