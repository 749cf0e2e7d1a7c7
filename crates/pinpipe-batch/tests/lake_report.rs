//! The report of a batch run: written by `run_batch` beside the results, and made again from what the
//! lake holds (`report::read_run`, what `pinpipe report` runs), on a folder lake and (feature
//! `local-servers`) on moto's S3.

use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use pinpipe_batch::report::{read_run, run_dates};
use pinpipe_batch::{run_batch, BatchError};
use pinpipe_contract::{layout, RejectKind, Table};
use pinpipe_lake::testing::{on_each_lake, real_sample_dir};
use pinpipe_lake::ObjectStore;

/// The first `lines` records of each table of the real sample as raw objects, pin's with two lines
/// that are not JSON (one holding markup).
async fn land_sample(store: &dyn ObjectStore, lines: usize) {
    for table in Table::ALL {
        let text = std::fs::read_to_string(real_sample_dir().join(format!("{table}.jsonl"))).unwrap();
        let mut body: String = text.lines().take(lines).flat_map(|line| [line, "\n"]).collect();
        if table == Table::Pin {
            body.push_str("<script>alert(1)</script>\nnot json either\n");
        }
        store.put(&layout::raw_key(&format!("lake.{table}"), 0, 0), Bytes::from(body)).await.unwrap();
    }
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_writes_its_report_and_the_lake_gives_it_back() {
    on_each_lake("lake-report", |store: Arc<dyn ObjectStore>| async move {
        let error = read_run(store.as_ref(), None).await.unwrap_err();
        assert!(matches!(error, BatchError::NoRun(_)), "{error}");

        land_sample(store.as_ref(), 500).await;
        run_batch(store.clone(), date("2026-11-25")).await.unwrap();
        run_batch(store.clone(), date("2026-11-26")).await.unwrap();
        assert_eq!(run_dates(store.as_ref()).await.unwrap(), ["2026-11-25", "2026-11-26"]);

        // The batch wrote a report beside its results.
        let written = store.get(&layout::report_key("2026-11-25")).await.unwrap();
        let written = String::from_utf8(written.to_vec()).unwrap();
        assert!(written.contains("<title>pinpipe report · 2026-11-25</title>"));
        assert!(written.contains("Examples of <code>not_json</code> in pin (2 of 2)"));
        assert!(written.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !written.contains("<script>alert"));

        // Without a date, the latest run; the second run read nothing new.
        let latest = read_run(store.as_ref(), None).await.unwrap();
        assert_eq!(latest.run_date, "2026-11-26");
        assert_eq!(latest.manifest.tables[&Table::Pin].records_in, 0);
        assert!(latest.rejected.is_empty());
        let first = read_run(store.as_ref(), Some("2026-11-25")).await.unwrap();
        assert_eq!(first.results.len(), 11);
        assert_eq!(first.manifest.tables[&Table::Pin].rejected["not_json"], 2);
        let manifest: serde_json::Value =
            serde_json::from_slice(&store.get(&layout::manifest_key("2026-11-25")).await.unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&first.manifest).unwrap(), manifest, "every field of the manifest is read");
        assert_eq!(first.rejected.len(), 2);
        assert!(first.rejected.iter().all(|record| record.kind == RejectKind::NotJson));
        // Made again from the lake, the page shows what the batch's shows.
        let again = first.render(&store.location(), None).unwrap();
        for text in ["Examples of <code>not_json</code> in pin (2 of 2)", "<article class=\"query\" id=\"q9\">"] {
            assert!(again.contains(text) && written.contains(text), "{text}");
        }

        let error = read_run(store.as_ref(), Some("2026-01-01")).await.unwrap_err();
        assert!(matches!(error, BatchError::NoRunOf { .. }), "{error}");
        assert!(error.to_string().contains("no batch run of 2026-01-01"), "{error}");
    })
    .await;
}
