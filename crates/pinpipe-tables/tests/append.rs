//! Appends written as the log's next version: writers of different sources at once all commit,
//! each version written once; a writer that finds the table changed by another (its properties)
//! stops until it reads the table again; a checkpoint at every `delta.checkpointInterval` versions.

use std::collections::HashMap;
use std::path::Path;

use pinpipe_tables::{position_txns, table_url, LakeTable, ParquetCompression, Rows, TableError};
use polars::prelude::*;
use url::Url;

fn rows(from: i64, n: i64) -> DataFrame {
    df!("value" => (from..from + n).collect::<Vec<i64>>()).unwrap()
}

async fn new_table(root: &Path) -> (Url, LakeTable) {
    let url = table_url(&Url::from_directory_path(root).unwrap(), "stream/pin");
    let mut schema: Schema = rows(0, 1).schema().as_ref().clone();
    schema.with_column("arrival_date".into(), DataType::Date);
    let table = LakeTable::open_or_create(&url, &schema, "arrival_date").await.unwrap();
    (url, table)
}

/// Appends 3 rows from `from` as `source`'s position `position`.
async fn append(table: &mut LakeTable, source: &str, position: usize, from: i64) -> Result<(), TableError> {
    let name = format!("part-{source}-{position}");
    let add = table.write_file("arrival_date", "2026-12-03", &rows(from, 3), &name, ParquetCompression::Snappy).await?;
    table.append(vec![add], position_txns(source, &position.to_string())?, "arrival_date").await
}

/// The versions of the table's log entries with `suffix` (`.json`, `.checkpoint.parquet`).
fn log_versions(root: &Path, suffix: &str) -> Vec<u64> {
    let log = root.join("stream/pin/_delta_log");
    let mut versions: Vec<u64> = std::fs::read_dir(log)
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().to_str()?.strip_suffix(suffix)?.parse().ok())
        .collect();
    versions.sort();
    versions
}

/// The version `_last_checkpoint` names.
fn last_checkpoint(root: &Path) -> u64 {
    let text = std::fs::read_to_string(root.join("stream/pin/_delta_log/_last_checkpoint")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["version"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_of_different_sources_at_once_all_commit_and_each_version_is_written_once() {
    const WRITERS: usize = 8;
    const APPENDS: usize = 25;
    let lake = tempfile::tempdir().unwrap();
    let (url, _) = new_table(lake.path()).await;
    let writers = (0..WRITERS).map(|writer| {
        let url = url.clone();
        tokio::spawn(async move {
            let mut table = LakeTable::open(&url).await.unwrap().unwrap();
            for position in 1..=APPENDS {
                let from = (writer * APPENDS + position) as i64 * 3;
                append(&mut table, &format!("shard-{writer}"), position, from).await.unwrap();
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap();
    }

    let total = WRITERS * APPENDS;
    assert_eq!(log_versions(lake.path(), ".json"), (0..=total as u64).collect::<Vec<_>>(), "one commit per append");
    assert_eq!(log_versions(lake.path(), ".checkpoint.parquet"), [100, 200], "delta-rs's interval, 100");
    assert_eq!(last_checkpoint(lake.path()), 200);
    let table = LakeTable::open(&url).await.unwrap().unwrap();
    let values = table.read(Some(&["value"]), "arrival_date", Rows::All).await.unwrap();
    let mut values: Vec<i64> = values.column("value").unwrap().i64().unwrap().into_no_null_iter().collect();
    values.sort();
    let expected: Vec<i64> = (0..WRITERS * APPENDS).flat_map(|i| (i as i64 + 1) * 3..(i as i64 + 2) * 3).collect();
    assert_eq!(values, expected, "every append's rows, once");
    for writer in 0..WRITERS {
        let position = table.last_position(&format!("shard-{writer}")).await.unwrap();
        assert_eq!(position, Some(APPENDS.to_string()), "shard-{writer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_after_another_writer_changed_the_table_stops_until_the_table_is_read_again() {
    let lake = tempfile::tempdir().unwrap();
    let (url, mut table) = new_table(lake.path()).await;
    append(&mut table, "shard-a", 1, 0).await.unwrap();

    // Another writer sets a property: a commit with the table's metadata.
    let other = deltalake::DeltaTableBuilder::from_url(url.clone()).unwrap().load().await.unwrap();
    let properties = HashMap::from([("delta.checkpointInterval".to_string(), "5".to_string())]);
    other.set_tbl_properties().with_properties(properties).await.unwrap();

    let stopped = append(&mut table, "shard-a", 2, 3).await;
    assert!(matches!(stopped, Err(TableError::Conflict { .. })), "{stopped:?}");
    assert_eq!(table.last_position("shard-a").await.unwrap().as_deref(), Some("1"), "nothing taken");
    table.refresh().await.unwrap();
    for position in 2..=9 {
        append(&mut table, "shard-a", position, position as i64 * 3).await.unwrap();
    }
    assert_eq!(log_versions(lake.path(), ".json"), (0..=10).collect::<Vec<_>>());
    assert_eq!(log_versions(lake.path(), ".checkpoint.parquet"), [5, 10], "the new interval, 5");
    assert_eq!(table.last_position("shard-a").await.unwrap().as_deref(), Some("9"));
    table.refresh().await.unwrap();
    assert_eq!(table.read(None, "arrival_date", Rows::All).await.unwrap().height(), 27);
}
