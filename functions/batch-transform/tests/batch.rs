//! The batch-transform handler over a local-folder lake and (feature `local-servers`) a real S3 server
//! (moto): raw objects in → Parquet results and a manifest out; runs with nothing new change nothing;
//! a re-run of a date is byte-identical.

use std::io::Cursor;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use bytes::Bytes;
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_contract::{layout, Origin, Payload, RejectKind, RejectedRecord, Stage, Table};
use pinpipe_lake::testing::{real_sample_dir, snapshot};
use pinpipe_lake::{LocalStore, ObjectStore};
use polars::prelude::*;

const SCHEDULED_EVENT: &str = include_str!("../../../events/batch-transform-scheduled.json");

/// The sample scheduled event with its `time` replaced.
fn scheduled_at(time: &str) -> LambdaEvent<EventBridgeEvent> {
    let mut event: serde_json::Value = serde_json::from_str(SCHEDULED_EVENT).unwrap();
    event["time"] = time.into();
    LambdaEvent::new(serde_json::from_value(event).unwrap(), Context::default())
}

fn sample_lines(table: Table) -> Vec<String> {
    let path = real_sample_dir().join(format!("{table}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::to_string).collect()
}

fn jsonl(lines: &[String]) -> Bytes {
    lines.iter().flat_map(|line| [line.as_str(), "\n"]).collect::<String>().into()
}

async fn read_parquet(store: &dyn ObjectStore, key: &str) -> DataFrame {
    ParquetReader::new(Cursor::new(store.get(key).await.unwrap())).finish().unwrap()
}

/// The manifest without its timings, which are the one thing a re-run may change.
async fn manifest_without_timings(store: &dyn ObjectStore, date: &str) -> serde_json::Value {
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&store.get(&layout::manifest_key(date)).await.unwrap()).unwrap();
    manifest.as_object_mut().unwrap().remove("timings_ms").expect("timings present");
    manifest
}

#[tokio::test]
async fn lands_results_incrementally_and_reruns_are_byte_identical_on_a_folder() {
    let folder = tempfile::tempdir().unwrap();
    lands_results_incrementally_and_reruns_are_byte_identical(Arc::new(LocalStore::new(folder.path()))).await;
}

#[cfg(feature = "local-servers")]
#[tokio::test]
async fn lands_results_incrementally_and_reruns_are_byte_identical_on_s3() {
    let store = pinpipe_lake::testing::fresh_s3_store("batch").await;
    lands_results_incrementally_and_reruns_are_byte_identical(Arc::new(store)).await;
}

async fn lands_results_incrementally_and_reruns_are_byte_identical(store: Arc<dyn ObjectStore>) {
    // The real sample split into two objects per table; pin's second also holds a line that is not
    // JSON and an exact duplicate of its first record.
    for table in Table::ALL {
        let topic = format!("test.{table}");
        let mut lines = sample_lines(table);
        let second = lines.split_off(1000);
        store.put(&layout::raw_key(&topic, 0, 0), jsonl(&lines)).await.unwrap();
        let mut second_object = second.clone();
        if table == Table::Pin {
            second_object.push("this is not json".into());
            second_object.push(lines[0].clone());
        }
        store.put(&layout::raw_key(&topic, 0, 1000), jsonl(&second_object)).await.unwrap();
    }

    let first = batch_transform::handle(store.clone(), scheduled_at("2026-11-25T01:30:00Z")).await.unwrap();
    assert_eq!(first.run_date, "2026-11-25");
    assert_eq!(first.inputs_consumed, 6);
    let pin = &first.tables[&Table::Pin];
    assert_eq!((pin.records_in, pin.records_cleaned, pin.duplicates_dropped, pin.rejected_total()), (2180, 2178, 1, 1));
    for table in [Table::Geo, Table::User] {
        assert_eq!(first.tables[&table].records_cleaned, 2178);
    }
    // The reference values of docs/SPEC.md §5, read back from the Parquet results.
    let q5 = read_parquet(store.as_ref(), &layout::result_key("2026-11-25", "q5")).await;
    let groups: Vec<_> = q5.column("age_group").unwrap().str().unwrap().iter().flatten().collect();
    let medians: Vec<_> = q5.column("median_follower_count").unwrap().i32().unwrap().iter().flatten().collect();
    assert_eq!(groups, ["18-24", "25-35", "36-50", "+50"]);
    assert_eq!(medians, [127_000, 24_000, 7_000, 1_000]);
    let q3b = read_parquet(store.as_ref(), &layout::result_key("2026-11-25", "q3b")).await;
    assert_eq!(q3b.column("country").unwrap().str().unwrap().get(0), Some("Anguilla"));
    assert_eq!(first.results["q1"], 478);
    assert_eq!(store.list("results/2026-11-25/").await.unwrap().len(), 13, "11 results, the manifest, the report");
    let report = String::from_utf8(store.get(&layout::report_key("2026-11-25")).await.unwrap().to_vec()).unwrap();
    assert!(report.contains("<span class=\"answer\">Anguilla</span>"), "the report shows the results");
    assert!(report.contains("Examples of <code>not_json</code> in pin (1 of 1)"), "and the refused line");
    let rejected = store.get(&layout::batch_rejected_key("2026-11-25", Table::Pin)).await.unwrap();
    let rejected: Vec<RejectedRecord> = RejectedRecord::parse_lines(&rejected).map(Result::unwrap).collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].stage, Stage::BatchTransform);
    assert_eq!(rejected[0].table, Some(Table::Pin));
    assert_eq!(rejected[0].origin, Origin::Line { source: layout::raw_key("test.pin", 0, 1000), line: 1179 });
    assert_eq!(rejected[0].kind, RejectKind::NotJson);
    assert_eq!(rejected[0].payload, Some(Payload::Text("this is not json".into())));
    for table in [Table::Geo, Table::User] {
        assert!(store.get(&layout::batch_rejected_key("2026-11-25", table)).await.is_err(), "{table}: none refused");
    }

    // A later run with nothing new consumes nothing and leaves the cleaned data as it was.
    let cleaned_before = snapshot(store.as_ref(), layout::CLEANED_PREFIX).await;
    let second = batch_transform::handle(store.clone(), scheduled_at("2026-11-26T01:30:00Z")).await.unwrap();
    assert_eq!(second.inputs_consumed, 0);
    assert!(second.tables.values().all(|counts| counts.records_in == 0 && counts.records_cleaned == 0));
    assert_eq!(snapshot(store.as_ref(), layout::CLEANED_PREFIX).await, cleaned_before);
    for query in pinpipe_core::queries::QUERIES {
        let day_one = store.get(&layout::result_key("2026-11-25", query.id)).await.unwrap();
        let day_two = store.get(&layout::result_key("2026-11-26", query.id)).await.unwrap();
        assert_eq!(day_one, day_two, "{} changed without new input", query.id);
    }

    // Re-running the first date rewrites the same bytes at the same keys.
    let results_before = snapshot(store.as_ref(), "results/2026-11-25/").await;
    let manifest_before = manifest_without_timings(store.as_ref(), "2026-11-25").await;
    let ledger_before = store.get(&layout::consumed_key("2026-11-25")).await.unwrap();
    batch_transform::handle(store.clone(), scheduled_at("2026-11-25T23:59:00Z")).await.unwrap();
    assert_eq!(snapshot(store.as_ref(), layout::CLEANED_PREFIX).await, cleaned_before);
    let results_after = snapshot(store.as_ref(), "results/2026-11-25/").await;
    for (key, bytes) in &results_before {
        // The manifest and the report hold the run's timings, the one thing a re-run may change.
        if !key.ends_with("manifest.json") && !key.ends_with("report.html") {
            assert_eq!(Some(bytes), results_after.get(key), "{key} differs after a re-run");
        }
    }
    assert_eq!(manifest_without_timings(store.as_ref(), "2026-11-25").await, manifest_before);
    assert_eq!(store.get(&layout::consumed_key("2026-11-25")).await.unwrap(), ledger_before);

    // A new object holding two records already cleaned and one new one adds exactly one row.
    let pins = sample_lines(Table::Pin);
    let mut fresh: serde_json::Value = serde_json::from_str(&pins[5]).unwrap();
    fresh["index"] = 999_999.into();
    let new_object = [pins[0].clone(), pins[1500].clone(), fresh.to_string()];
    store.put(&layout::raw_key("test.pin", 1, 0), jsonl(&new_object)).await.unwrap();
    let third = batch_transform::handle(store.clone(), scheduled_at("2026-11-27T01:30:00Z")).await.unwrap();
    assert_eq!(third.inputs_consumed, 1);
    let pin = &third.tables[&Table::Pin];
    assert_eq!((pin.records_in, pin.duplicates_dropped, pin.records_cleaned), (3, 2, 1));
    let manifest: serde_json::Value =
        serde_json::from_slice(&store.get(&layout::manifest_key("2026-11-27")).await.unwrap()).unwrap();
    assert_eq!(manifest["cleaned_rows_total"]["pin"], 2179);
    let part = read_parquet(store.as_ref(), &layout::cleaned_part_key(Table::Pin, "2026-11-27")).await;
    assert_eq!(part.column("ind").unwrap().i32().unwrap().get(0), Some(999_999));
}

#[cfg(feature = "local-servers")]
#[tokio::test]
async fn a_missing_bucket_is_a_clear_error_naming_it() {
    let missing = pinpipe_lake::testing::missing_s3_store().await;
    let name = missing.location();
    let error = batch_transform::handle(Arc::new(missing), scheduled_at("2026-11-25T01:30:00Z")).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains(name.trim_end_matches('/')) && message.contains("does not exist"), "{message}");
}
