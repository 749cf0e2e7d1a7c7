//! The batch-transform handler over a local-folder lake and (feature `local-servers`) a real S3 server
//! (moto): raw objects in → Delta tables, a manifest and a report out; runs with nothing new change
//! nothing; a re-run of a date replaces its partitions with the same rows, one commit per table.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use batch_transform::BatchAnswer;
use bytes::Bytes;
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_batch::{read_run_date, BATCH_COMPRESSION};
use pinpipe_contract::table::RUN_DATE_COLUMN;
use pinpipe_contract::{layout, Origin, Payload, RejectKind, RejectedRecord, Stage, Table};
use pinpipe_lake::testing::real_sample_dir;
use pinpipe_lake::{LocalStore, ObjectStore};
use pinpipe_tables::{table_url, LakeTable, Rows};
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

/// The rows the run of `date` wrote to the table at `path`.
async fn run_rows(store: &dyn ObjectStore, path: &str, date: &str) -> DataFrame {
    read_run_date(store, path, date).await.unwrap().unwrap_or_else(|| panic!("no table {path}"))
}

/// Every row of the table at `path`, and its data files per run date.
async fn table_state(store: &dyn ObjectStore, path: &str) -> (DataFrame, Vec<(String, usize)>) {
    let table = LakeTable::open(&table_url(&store.url(), path)).await.unwrap().expect("a table");
    let rows = table.read(None, RUN_DATE_COLUMN, Rows::All).await.unwrap();
    let rows = rows.sort([RUN_DATE_COLUMN, "ind"], Default::default()).unwrap_or(rows);
    (rows, table.partition_files(RUN_DATE_COLUMN).await.unwrap())
}

/// The manifest without its timings, which are the one thing a re-run may change.
async fn manifest_without_timings(store: &dyn ObjectStore, date: &str) -> serde_json::Value {
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&store.get(&layout::manifest_key(date)).await.unwrap()).unwrap();
    manifest.as_object_mut().unwrap().remove("timings_ms").expect("timings present");
    manifest
}

#[tokio::test]
async fn lands_results_incrementally_and_reruns_replace_their_date_on_a_folder() {
    let folder = tempfile::tempdir().unwrap();
    lands_results_incrementally_and_reruns_replace_their_date(Arc::new(LocalStore::new(folder.path()))).await;
}

#[cfg(feature = "local-servers")]
#[tokio::test]
async fn lands_results_incrementally_and_reruns_replace_their_date_on_s3() {
    let store = pinpipe_lake::testing::fresh_s3_store("batch").await;
    lands_results_incrementally_and_reruns_replace_their_date(Arc::new(store)).await;
}

async fn lands_results_incrementally_and_reruns_replace_their_date(store: Arc<dyn ObjectStore>) {
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
    // The reference values of docs/SPEC.md §5, read back from the result tables.
    let q5 = run_rows(store.as_ref(), &layout::result_table("q5"), "2026-11-25").await;
    let groups: Vec<_> = q5.column("age_group").unwrap().str().unwrap().iter().flatten().collect();
    let medians: Vec<_> = q5.column("median_follower_count").unwrap().i32().unwrap().iter().flatten().collect();
    assert_eq!(groups, ["18-24", "25-35", "36-50", "+50"]);
    assert_eq!(medians, [127_000, 24_000, 7_000, 1_000]);
    let q3b = run_rows(store.as_ref(), &layout::result_table("q3b"), "2026-11-25").await;
    assert_eq!(q3b.column("country").unwrap().str().unwrap().get(0), Some("Anguilla"));
    assert_eq!(first.results["q1"], 478);
    assert_eq!(store.list("runs/2026-11-25/").await.unwrap().len(), 2, "the manifest, the report");
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

    // A later run with nothing new consumes nothing and leaves the cleaned rows as they were.
    let cleaned = |table: Table| layout::cleaned_table(table);
    let (pin_before, pin_files) = table_state(store.as_ref(), &cleaned(Table::Pin)).await;
    assert_eq!(pin_files, [("2026-11-25".to_string(), 1)]);
    let second = batch_transform::handle(store.clone(), scheduled_at("2026-11-26T01:30:00Z")).await.unwrap();
    assert_eq!(second.inputs_consumed, 0);
    assert!(second.tables.values().all(|counts| counts.records_in == 0 && counts.records_cleaned == 0));
    // The day is there, with no row: a file of none.
    let pin_files = [("2026-11-25".to_string(), 1), ("2026-11-26".to_string(), 1)];
    assert_eq!(table_state(store.as_ref(), &cleaned(Table::Pin)).await, (pin_before.clone(), pin_files.to_vec()));
    for query in pinpipe_core::queries::QUERIES {
        let day_one = run_rows(store.as_ref(), &layout::result_table(query.id), "2026-11-25").await;
        let day_two = run_rows(store.as_ref(), &layout::result_table(query.id), "2026-11-26").await;
        assert!(day_one.equals_missing(&day_two), "{} changed without new input", query.id);
    }

    // Re-running the first date replaces its partitions with the same rows: one file each still.
    let results_before = run_rows(store.as_ref(), &layout::result_table("q1"), "2026-11-25").await;
    let manifest_before = manifest_without_timings(store.as_ref(), "2026-11-25").await;
    let ledger_before = store.get(&layout::consumed_key("2026-11-25")).await.unwrap();
    batch_transform::handle(store.clone(), scheduled_at("2026-11-25T23:59:00Z")).await.unwrap();
    assert_eq!(table_state(store.as_ref(), &cleaned(Table::Pin)).await, (pin_before, pin_files.to_vec()));
    let results_after = run_rows(store.as_ref(), &layout::result_table("q1"), "2026-11-25").await;
    assert!(results_after.equals_missing(&results_before), "q1 differs after a re-run");
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
    let part = run_rows(store.as_ref(), &layout::cleaned_table(Table::Pin), "2026-11-27").await;
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

/// Puts the real sample in the lake as one raw object per table.
async fn land_sample(store: &dyn ObjectStore) {
    for table in Table::ALL {
        store.put(&layout::raw_key(&format!("test.{table}"), 0, 0), jsonl(&sample_lines(table))).await.unwrap();
    }
}

/// Two runs started at once (scheduled at `times`) over the real sample: one fails with
/// `ConcurrentRun`, the other commits, and each record is in each cleaned table once.
async fn two_runs_at_once_take_each_record_once(store: Arc<dyn ObjectStore>, times: [&str; 2]) {
    land_sample(store.as_ref()).await;
    let (first, second) = tokio::join!(
        batch_transform::handle(store.clone(), scheduled_at(times[0])),
        batch_transform::handle(store.clone(), scheduled_at(times[1])),
    );
    for outcome in [&first, &second] {
        if let Err(error) = outcome {
            assert!(matches!(error, pinpipe_batch::BatchError::ConcurrentRun { .. }), "{error}");
        }
    }
    // Each run opens its tables before it reads anything and takes far longer than that: they overlap,
    // so the first table both commit to lets exactly one go on.
    assert!(first.is_ok() != second.is_ok(), "exactly one run commits: {first:?} / {second:?}");
    for table in Table::ALL {
        let (rows, _) = table_state(store.as_ref(), &layout::cleaned_table(table)).await;
        assert_eq!(rows.height(), 2178, "{table}: each record once, whichever run took it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_date_at_once_never_double_a_row() {
    let folder = tempfile::tempdir().unwrap();
    let times = ["2026-11-25T01:30:00Z", "2026-11-25T02:30:00Z"];
    two_runs_at_once_take_each_record_once(Arc::new(LocalStore::new(folder.path())), times).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_different_dates_at_once_consume_each_record_once() {
    let folder = tempfile::tempdir().unwrap();
    let times = ["2026-11-25T01:30:00Z", "2026-11-26T01:30:00Z"];
    two_runs_at_once_take_each_record_once(Arc::new(LocalStore::new(folder.path())), times).await;
}

#[cfg(feature = "local-servers")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_different_dates_at_once_consume_each_record_once_on_s3() {
    let store = pinpipe_lake::testing::fresh_s3_store("two-runs").await;
    two_runs_at_once_take_each_record_once(Arc::new(store), ["2026-11-25T01:30:00Z", "2026-11-26T01:30:00Z"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_run_compacts_earlier_days_of_the_stream_tables() {
    let folder = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(folder.path()));
    let url = table_url(&store.url(), &layout::stream_table(Table::Pin));
    let frame = |from: i64| df!("value" => (from..from + 3).collect::<Vec<i64>>()).unwrap();
    let mut schema = frame(0).schema().as_ref().clone();
    schema.with_column("arrival_date".into(), DataType::Date);
    let mut stream = LakeTable::open_or_create(&url, &schema, "arrival_date").await.unwrap();
    for (i, date) in ["2026-11-24", "2026-11-24", "2026-11-24", "2026-11-25", "2026-11-25"].iter().enumerate() {
        let add = stream
            .write_file("arrival_date", date, &frame(i as i64 * 3), &format!("part-{i}"), BATCH_COMPRESSION)
            .await
            .unwrap();
        stream.append(vec![add], vec![], "arrival_date").await.unwrap();
    }
    let summary = batch_transform::handle(store.clone(), scheduled_at("2026-11-25T01:30:00Z")).await.unwrap();
    let compacted = &summary.upkeep.compacted;
    assert_eq!(compacted.len(), 1, "only the earlier day: {compacted:?}");
    assert_eq!(
        (compacted[0].arrival_date.as_str(), compacted[0].files_before, compacted[0].rows),
        ("2026-11-24", 3, 9)
    );
    stream.refresh().await.unwrap();
    assert_eq!(
        stream.partition_files("arrival_date").await.unwrap(),
        [("2026-11-24".into(), 1), ("2026-11-25".into(), 2)]
    );
    assert_eq!(stream.read(None, "arrival_date", Rows::All).await.unwrap().height(), 15);
}

/// The raw objects of day `day` (0-based) of ten: a tenth of the real sample per table, pin's also
/// holding again the first record of the day before (a duplicate across days).
fn day_objects(day: usize) -> Vec<(String, Bytes)> {
    Table::ALL
        .iter()
        .map(|&table| {
            let lines = sample_lines(table);
            let per_day = lines.len().div_ceil(10);
            let mut of_day = lines[day * per_day..((day + 1) * per_day).min(lines.len())].to_vec();
            if table == Table::Pin && day > 0 {
                of_day.push(lines[(day - 1) * per_day].clone());
            }
            (layout::raw_key(&format!("test.{table}"), 0, (day * per_day) as i64), jsonl(&of_day))
        })
        .collect()
}

async fn ten_daily_runs_read_only_their_new_objects_and_match_one_run(
    daily: Arc<dyn ObjectStore>,
    once: Arc<dyn ObjectStore>,
) {
    let date = |day: usize| format!("2026-11-{:02}", 11 + day);
    let mut cleaned_before = 0u64;
    for day in 0..10 {
        let objects = day_objects(day);
        for (key, body) in &objects {
            daily.put(key, body.clone()).await.unwrap();
            once.put(key, body.clone()).await.unwrap();
        }
        let summary =
            batch_transform::handle(daily.clone(), scheduled_at(&format!("{}T01:30:00Z", date(day)))).await.unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&daily.get(&layout::manifest_key(&summary.run_date)).await.unwrap()).unwrap();
        // The run read the day's objects and nothing else: no earlier object, no earlier row.
        let mut read: Vec<&str> =
            manifest["inputs"].as_array().unwrap().iter().map(|o| o["key"].as_str().unwrap()).collect();
        read.sort();
        let mut expected: Vec<&str> = objects.iter().map(|(key, _)| key.as_str()).collect();
        expected.sort();
        assert_eq!(read, expected, "day {day}");
        let day_bytes: usize = objects.iter().map(|(_, body)| body.len()).sum();
        assert_eq!(manifest["raw_bytes_read"], day_bytes as u64, "day {day}");
        // Checked against the hashes of the rows cleaned before, only.
        assert_eq!(manifest["earlier_hashes_checked"]["pin"], cleaned_before, "day {day}");
        let pin = &summary.tables[&Table::Pin];
        assert_eq!(pin.duplicates_dropped, u64::from(day > 0), "day {day}: the record of the day before");
        cleaned_before += pin.records_cleaned;
        assert_eq!(manifest["cleaned_rows_total"]["pin"], cleaned_before, "day {day}");
    }
    assert_eq!(cleaned_before, 2178);

    let last = date(9);
    let all_at_once = batch_transform::handle(once.clone(), scheduled_at(&format!("{last}T01:30:00Z"))).await.unwrap();
    assert_eq!(all_at_once.tables[&Table::Pin].records_cleaned, 2178);
    for query in pinpipe_core::queries::QUERIES {
        let daily_rows = run_rows(daily.as_ref(), &layout::result_table(query.id), &last).await;
        let once_rows = run_rows(once.as_ref(), &layout::result_table(query.id), &last).await;
        assert!(daily_rows.height() > 0, "{}", query.id);
        assert!(daily_rows.equals_missing(&once_rows), "{}: ten daily runs differ from one run", query.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_daily_runs_read_only_their_new_objects_and_match_one_run_on_a_folder() {
    let (daily, once) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ten_daily_runs_read_only_their_new_objects_and_match_one_run(
        Arc::new(LocalStore::new(daily.path())),
        Arc::new(LocalStore::new(once.path())),
    )
    .await;
}

#[cfg(feature = "local-servers")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_daily_runs_read_only_their_new_objects_and_match_one_run_on_s3() {
    let daily = pinpipe_lake::testing::fresh_s3_store("ten-days").await;
    let once = pinpipe_lake::testing::fresh_s3_store("one-run").await;
    ten_daily_runs_read_only_their_new_objects_and_match_one_run(Arc::new(daily), Arc::new(once)).await;
}

/// The clean stages of a run on Athena, as its state machine runs them, through the handler: the
/// plan (parts of `part_bytes`, else of the function's default), every part decoded at once, then
/// the clean stage, whose answer (and metrics) this gives.
async fn fanned_out_clean(
    store: Arc<dyn ObjectStore>,
    date: &str,
    part_bytes: Option<u64>,
) -> (BatchAnswer, Option<pinpipe_metrics::Metrics>) {
    let ask = |payload: serde_json::Value| LambdaEvent::new(payload, Context::default());
    let plan = match part_bytes {
        Some(part_bytes) => {
            let run_date = date.parse().unwrap();
            pinpipe_batch::plan_clean(store.as_ref(), run_date, pinpipe_batch::CleanParts { part_bytes }).await.unwrap()
        }
        None => {
            let payload = serde_json::json!({"stage": "plan", "time": format!("{date}T01:30:00Z")});
            let (BatchAnswer::Parts(plan), None) =
                batch_transform::handle_measured(store.clone(), ask(payload)).await.unwrap()
            else {
                panic!("the plan stage answers the parts")
            };
            plan
        }
    };
    assert_eq!(plan.run_date, date);
    let decodings = plan.parts.iter().map(|part| {
        let payload =
            serde_json::json!({"stage": "decode_part", "run_date": date, "run_id": plan.run_id, "part": part});
        batch_transform::handle_measured(store.clone(), ask(payload))
    });
    for (part, decoded) in plan.parts.iter().zip(futures::future::join_all(decodings).await) {
        let (BatchAnswer::Decoded(decoded), None) = decoded.unwrap() else { panic!("a part answers what it decoded") };
        assert_eq!(decoded.part, *part);
    }
    let clean = serde_json::json!({"stage": "clean", "run_date": date, "run_id": plan.run_id});
    let answer = batch_transform::handle_measured(store.clone(), ask(clean)).await.unwrap();
    assert!(store.list(layout::STAGING_PREFIX).await.unwrap().is_empty(), "the staged parts are deleted");
    answer
}

/// The real sample as raw objects of two days: per table, day 0 four objects (each after the first
/// also repeating the first line of the first: duplicates across parts), day 1 the rest of the
/// lines and again a line of day 0 (a duplicate of an earlier date).
fn two_days_of_objects() -> [Vec<(String, Bytes)>; 2] {
    let mut days = [Vec::new(), Vec::new()];
    for table in Table::ALL {
        let lines = sample_lines(table);
        let (first_day, second_day) = lines.split_at(lines.len() * 4 / 5);
        let per_object = first_day.len().div_ceil(4);
        for (n, chunk) in first_day.chunks(per_object).enumerate() {
            let mut chunk = chunk.to_vec();
            if n > 0 {
                chunk.push(lines[0].clone());
            }
            days[0].push((layout::raw_key(&format!("test.{table}"), 0, (n * per_object) as i64), jsonl(&chunk)));
        }
        let mut rest = second_day.to_vec();
        rest.push(lines[1].clone());
        days[1].push((layout::raw_key(&format!("test.{table}"), 0, first_day.len() as i64), jsonl(&rest)));
    }
    days
}

/// The objects written for a run of `date`: cleaned rows (by record hash), refused records and the
/// manifest (without timings and object versions).
async fn run_outputs(store: &dyn ObjectStore, date: &str) -> (Vec<DataFrame>, Vec<Option<Bytes>>, serde_json::Value) {
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    for table in Table::ALL {
        let cleaned = run_rows(store, &layout::cleaned_table(table), date).await;
        rows.push(cleaned.sort([pinpipe_contract::table::RAW_HASH_COLUMN], Default::default()).unwrap());
        rejected.push(store.get(&layout::batch_rejected_key(date, table)).await.ok());
    }
    let mut manifest = manifest_without_timings(store, date).await;
    for input in manifest["inputs"].as_array_mut().unwrap() {
        input.as_object_mut().unwrap().remove("version");
    }
    (rows, rejected, manifest)
}

/// A day cleaned in parts (one per raw object, decoded at once) commits exactly what a whole run in
/// one invocation commits: the rows, the refused records and every count, duplicates across parts
/// and against an earlier date dropped once. A run that commits between the plan and the clean
/// stage makes the clean stage fail, and the date's data stays as that run wrote it.
async fn a_day_cleaned_in_parts_commits_what_a_whole_run_does(
    whole: Arc<dyn ObjectStore>,
    parts: Arc<dyn ObjectStore>,
) {
    let dates = ["2026-11-25", "2026-11-26"];
    for (date, objects) in dates.iter().zip(two_days_of_objects()) {
        for (key, body) in &objects {
            whole.put(key, body.clone()).await.unwrap();
            parts.put(key, body.clone()).await.unwrap();
        }
        batch_transform::handle(whole.clone(), scheduled_at(&format!("{date}T01:30:00Z"))).await.unwrap();
        let (BatchAnswer::Statements(plan), Some(_)) = fanned_out_clean(parts.clone(), date, Some(1)).await else {
            panic!("the clean stage answers the statements and counts the records")
        };
        assert_eq!(plan.run_date, *date);
        let (whole_rows, whole_rejected, mut whole_manifest) = run_outputs(whole.as_ref(), date).await;
        let (part_rows, part_rejected, part_manifest) = run_outputs(parts.as_ref(), date).await;
        for (whole_rows, part_rows) in whole_rows.iter().zip(&part_rows) {
            assert!(part_rows.equals_missing(whole_rows), "{date}: cleaned rows differ");
        }
        assert_eq!(part_rejected, whole_rejected, "{date}");
        // A whole run also counts its results; the clean stage leaves them to the results stage.
        whole_manifest.as_object_mut().unwrap().insert("results".into(), serde_json::json!({}));
        assert_eq!(part_manifest, whole_manifest, "{date}");
        let pin = &part_manifest["tables"]["pin"];
        // Day 0: the three copies across parts; day 1: the copy of day 0's record.
        assert_eq!(pin["duplicates_dropped"], if *date == dates[0] { 3 } else { 1 }, "{date}: {pin}");
    }
    let date = "2026-11-27";
    let plan = pinpipe_batch::plan_clean(parts.as_ref(), date.parse().unwrap(), Default::default()).await.unwrap();
    assert!(plan.parts.is_empty(), "nothing new");
    batch_transform::handle(parts.clone(), scheduled_at(&format!("{date}T02:00:00Z"))).await.unwrap();
    let clean = serde_json::json!({"stage": "clean", "run_date": date, "run_id": plan.run_id});
    let error =
        batch_transform::handle_measured(parts.clone(), LambdaEvent::new(clean, Context::default())).await.unwrap_err();
    assert!(matches!(error, pinpipe_batch::BatchError::ConcurrentRun { .. }), "{error}");
    // A part the plan does not have, and a run id that is not one, are refused before anything is read.
    let refusals = [(plan.run_id.as_str(), "has 0 parts; there is no part 0"), ("../2026-11-25", "is not a run id")];
    for (run_id, refusal) in refusals {
        let payload = serde_json::json!({"stage": "decode_part", "run_date": date, "run_id": run_id, "part": 0});
        let error =
            batch_transform::handle_measured(parts.clone(), LambdaEvent::new(payload, Context::default())).await;
        let message = error.unwrap_err().to_string();
        assert!(message.contains(refusal), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_cleaned_in_parts_commits_what_a_whole_run_does_on_a_folder() {
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    a_day_cleaned_in_parts_commits_what_a_whole_run_does(
        Arc::new(LocalStore::new(whole.path())),
        Arc::new(LocalStore::new(parts.path())),
    )
    .await;
}

#[cfg(feature = "local-servers")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_cleaned_in_parts_commits_what_a_whole_run_does_on_s3() {
    let whole = pinpipe_lake::testing::fresh_s3_store("whole-clean").await;
    let parts = pinpipe_lake::testing::fresh_s3_store("parts-clean").await;
    a_day_cleaned_in_parts_commits_what_a_whole_run_does(Arc::new(whole), Arc::new(parts)).await;
}

/// The stages of a run on Athena, with DuckDB playing Athena: the clean stage's statements hold the
/// SQL files unchanged, DuckDB runs those files over the cleaned tables and writes Parquet where the
/// statements unload, and the results stage commits exactly what a whole run in the function does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_athena_commits_what_the_sql_files_give_on_another_engine() {
    let Some(python) = std::env::var_os("PINPIPE_BENCH_PYTHON") else {
        eprintln!("skipped: PINPIPE_BENCH_PYTHON names no Python with duckdb (bench/run.sh makes bench/.venv)");
        return;
    };
    let (whole_dir, staged_dir, work) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let whole: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(whole_dir.path()));
    let staged: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(staged_dir.path()));
    land_sample(whole.as_ref()).await;
    land_sample(staged.as_ref()).await;
    let date = "2026-11-25";
    batch_transform::handle(whole.clone(), scheduled_at(&format!("{date}T01:30:00Z"))).await.unwrap();

    let ask = |payload: serde_json::Value| LambdaEvent::new(payload, Context::default());
    let answer = fanned_out_clean(staged.clone(), date, None).await;
    let (BatchAnswer::Statements(plan), metrics) = answer else { panic!("the clean stage answers the statements") };
    assert!(metrics.is_some(), "the clean stage counts the run's records");
    assert_eq!(plan.run_date, date);
    assert!(plan.unload_prefix.starts_with(&format!("athena-unload/{date}/")), "{}", plan.unload_prefix);
    let ids: Vec<&str> = plan.queries.iter().map(|query| query.id.as_str()).collect();
    assert_eq!(ids, pinpipe_core::queries::QUERIES.map(|query| query.id));

    // Athena's part: each statement's SQL (the file, unchanged) over the cleaned tables, into its location.
    let tables = work.path().join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    for table in Table::ALL {
        let mut rows = run_rows(staged.as_ref(), &layout::cleaned_table(table), date).await;
        let mut file = std::fs::File::create(tables.join(format!("{table}.parquet"))).unwrap();
        ParquetWriter::new(&mut file).finish(&mut rows).unwrap();
    }
    let sql_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql");
    for (statement, query) in plan.queries.iter().zip(pinpipe_core::queries::QUERIES) {
        let location = format!("{}{}{}/", store_root(staged_dir.path()), plan.unload_prefix, query.id);
        assert_eq!(
            statement.statement,
            format!(
                "UNLOAD (\n{}\n) TO '{location}' WITH (format = 'PARQUET', compression = 'ZSTD')",
                query.sql.trim_end()
            )
        );
        let out = staged_dir.path().join(&plan.unload_prefix).join(query.id);
        std::fs::create_dir_all(&out).unwrap();
        let run = std::process::Command::new(&python)
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/sql_duckdb.py"))
            .args(["--tables".as_ref(), tables.as_os_str(), "--sql".as_ref(), sql_dir.as_os_str()])
            .args(["--out".as_ref(), out.as_os_str(), query.id.as_ref()])
            .output()
            .unwrap();
        assert!(run.status.success(), "DuckDB: {}", String::from_utf8_lossy(&run.stderr));
    }

    // A prefix that is not the date's is refused before anything is read.
    let wrong = serde_json::json!({"stage": "results", "run_date": date, "unload_prefix": "results/"});
    let error = batch_transform::handle_measured(staged.clone(), ask(wrong)).await.unwrap_err();
    assert!(matches!(error, pinpipe_batch::BatchError::UnloadPrefix { .. }), "{error}");
    let results = serde_json::json!({"stage": "results", "run_date": date, "unload_prefix": plan.unload_prefix});
    let (answer, metrics) = batch_transform::handle_measured(staged.clone(), ask(results.clone())).await.unwrap();
    let BatchAnswer::Run(summary) = answer else { panic!("the results stage answers the run's summary") };
    assert!(metrics.is_none(), "the records were counted by the clean stage");
    assert_eq!(summary.results["q1"], 478);
    for query in pinpipe_core::queries::QUERIES {
        let in_function = run_rows(whole.as_ref(), &layout::result_table(query.id), date).await;
        let on_other_engine = run_rows(staged.as_ref(), &layout::result_table(query.id), date).await;
        assert_eq!(on_other_engine.schema(), in_function.schema(), "{}", query.id);
        assert!(on_other_engine.equals_missing(&in_function), "{}: the staged run differs", query.id);
    }
    let mut whole_manifest = manifest_without_timings(whole.as_ref(), date).await;
    let mut staged_manifest = manifest_without_timings(staged.as_ref(), date).await;
    for manifest in [&mut whole_manifest, &mut staged_manifest] {
        for input in manifest["inputs"].as_array_mut().unwrap() {
            input.as_object_mut().unwrap().remove("version");
        }
    }
    assert_eq!(staged_manifest, whole_manifest);
    // The stage runs again (the unloaded files stay): the same rows, the date's run counted again.
    batch_transform::handle_measured(staged.clone(), ask(results)).await.unwrap();
    let again = run_rows(staged.as_ref(), &layout::result_table("q1"), date).await;
    assert!(again.equals_missing(&run_rows(whole.as_ref(), &layout::result_table("q1"), date).await));
}

/// The lake root URL a folder store gives (`file:///…/`).
fn store_root(folder: &std::path::Path) -> String {
    LocalStore::new(folder).url().to_string()
}

#[test]
fn a_payload_with_a_stage_is_that_stage_or_a_clear_error() {
    use batch_transform::{BatchRequest, Stage};
    let request = |payload: &str| BatchRequest::from_json(serde_json::from_str(payload).unwrap());
    assert!(matches!(request(SCHEDULED_EVENT), Ok(BatchRequest::Scheduled(_))));
    let Ok(BatchRequest::Stage(Stage::Plan { time })) = request(r#"{"stage": "plan", "time": "2026-11-25T01:30:00Z"}"#)
    else {
        panic!("a plan stage")
    };
    assert_eq!(time.unwrap().to_rfc3339(), "2026-11-25T01:30:00+00:00");
    let part = r#"{"stage": "decode_part", "run_date": "2026-11-25", "run_id": "r", "part": 3}"#;
    let Ok(BatchRequest::Stage(Stage::DecodePart { run_date, run_id, part })) = request(part) else {
        panic!("a part to decode")
    };
    assert_eq!((run_date.to_string(), run_id.as_str(), part), ("2026-11-25".to_string(), "r", 3));
    for wrong in [
        r#"{"stage": "results", "run_date": "2026-11-25"}"#,
        r#"{"stage": "query"}"#,
        r#"{"stage": "plan", "time": "yesterday"}"#,
        r#"{"stage": "clean", "time": "2026-11-25T01:30:00Z"}"#,
        r#"{"stage": "decode_part", "run_date": "2026-11-25", "run_id": "r", "part": -1}"#,
    ] {
        let error = request(wrong).unwrap_err();
        assert!(matches!(error, pinpipe_batch::BatchError::Request(_)), "{wrong}: {error}");
        assert!(error.to_string().contains("neither a scheduled event nor a stage"), "{error}");
    }
}
