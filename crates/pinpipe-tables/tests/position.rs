//! Positions read back from a folder table after many commits: from the commits since a position
//! was last read, from a whole log segment (a checkpoint and the commits after it), by a writer
//! whose snapshot is older than another's; never mixing sources whose names share a prefix.

use std::collections::HashMap;
use std::path::Path;

use pinpipe_tables::{position_txns, table_url, LakeTable};
use polars::prelude::*;
use url::Url;

const SEQ: &str = "49590338271490256608559692538361571095921575989136";
/// Sources whose names differ only by a suffix, and names that are prefixes of both.
const SOURCES: [&str; 2] = ["shard-1", "shard-10"];
const NEVER: [&str; 4] = ["shard-", "shard", "shard-100", "shard-1#0"];

fn rows(from: i64, n: i64) -> DataFrame {
    df!("value" => (from..from + n).collect::<Vec<i64>>()).unwrap()
}

async fn new_table(root: &Path) -> (Url, LakeTable) {
    let root = Url::from_directory_path(root).unwrap();
    let url = table_url(&root, "stream/pin");
    let mut schema: Schema = rows(0, 1).schema().as_ref().clone();
    schema.with_column("arrival_date".into(), DataType::Date);
    let table = LakeTable::open_or_create(&url, &schema, "arrival_date").await.unwrap();
    (url, table)
}

async fn append(table: &mut LakeTable, source: &str, position: &str, name: usize) {
    let frame = rows(name as i64, 2);
    let add = table
        .write_file("arrival_date", "2026-12-02", &frame, &format!("part-{name}"), ParquetCompression::Snappy)
        .await;
    table.append(vec![add.unwrap()], position_txns(source, position).unwrap(), "arrival_date").await.unwrap();
}

/// The `i`th position of a source: long and short ones, ones with zero chunks inside, zero.
fn position(source: &str, i: usize) -> String {
    match (source, i % 4) {
        (_, 3) if i % 8 == 3 => "0".to_string(),
        (_, 3) => format!("{}{}{i}", 7 + i % 3, "0".repeat(100)),
        ("shard-1", _) => format!("{SEQ}{i:06}"),
        _ => format!("{}", 1_000 + i),
    }
}

/// Every source's position in `table`'s snapshot is the one `expected` says.
async fn assert_positions(table: &LakeTable, expected: &HashMap<&str, String>, when: &str) {
    for source in SOURCES.iter().chain(&["early"]).chain(&NEVER) {
        let read = table.last_position(source).await.unwrap();
        assert_eq!(read.as_ref(), expected.get(source), "{source} {when}");
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_read_back_after_many_commits_and_a_checkpoint() {
    let lake = tempfile::tempdir().unwrap();
    let (url, mut table) = new_table(lake.path()).await;
    let mut expected = HashMap::new();
    assert_positions(&table, &expected, "before any commit").await;

    // A source whose only commit ends up in the checkpoint.
    let early = format!("{}{SEQ}", "9".repeat(79));
    append(&mut table, "early", &early, 1000).await;
    expected.insert("early", early);
    assert_positions(&table, &expected, "after the first commit").await;

    let mut stale = None;
    for i in 0..60 {
        let source = SOURCES[i % 2];
        let last = position(source, i);
        append(&mut table, source, &last, i).await;
        expected.insert(source, last);
        assert_positions(&table, &expected, &format!("after commit {i}")).await;
        if i == 19 {
            stale = Some((LakeTable::open(&url).await.unwrap().unwrap(), expected.clone()));
        }
        if i == 30 {
            let delta = deltalake::DeltaTableBuilder::from_url(url.clone()).unwrap().load().await.unwrap();
            deltalake::checkpoints::create_checkpoint(&delta, None).await.unwrap();
        }
    }
    let log = lake.path().join("stream/pin/_delta_log");
    let checkpoints = std::fs::read_dir(&log)
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().contains(".checkpoint."))
        .count();
    assert_eq!(checkpoints, 1, "one checkpoint in {log:?}");

    let reopened = LakeTable::open(&url).await.unwrap().unwrap();
    assert_positions(&reopened, &expected, "reopened").await;

    // The same log at another place: read whole (the checkpoint, then the commits after it).
    let elsewhere = tempfile::tempdir().unwrap();
    copy_folder(lake.path(), elsewhere.path());
    let copy_url = table_url(&Url::from_directory_path(elsewhere.path()).unwrap(), "stream/pin");
    let copy = LakeTable::open(&copy_url).await.unwrap().unwrap();
    assert_positions(&copy, &expected, "in a copy of the table").await;

    // A writer with an older snapshot reads that snapshot's positions, then the latest ones.
    let (mut stale, stale_expected) = stale.unwrap();
    assert_positions(&stale, &stale_expected, "in a snapshot 40 commits old").await;
    stale.refresh().await.unwrap();
    assert_positions(&stale, &expected, "refreshed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_follow_the_snapshot_held_by_each_writer() {
    let lake = tempfile::tempdir().unwrap();
    let (url, mut first) = new_table(lake.path()).await;
    let mut second = LakeTable::open(&url).await.unwrap().unwrap();
    let mut expected = HashMap::new();

    append(&mut first, "shard-1", "11", 0).await;
    expected.insert("shard-1", "11".to_string());
    assert_positions(&first, &expected, "after the first writer's commit").await;

    // The second writer commits a few times, then its position of shard-1 moves on; the first
    // writer's snapshot still holds the one it committed.
    second.refresh().await.unwrap();
    for i in 1..5 {
        append(&mut second, "shard-10", &format!("{i}0"), i).await;
    }
    append(&mut second, "shard-1", "12", 5).await;
    let mut newer = expected.clone();
    newer.insert("shard-10", "40".to_string());
    newer.insert("shard-1", "12".to_string());
    assert_positions(&second, &newer, "after the second writer's commits").await;
    assert_positions(&first, &expected, "in the first writer's older snapshot").await;
    first.refresh().await.unwrap();
    assert_positions(&first, &newer, "in the first writer's refreshed snapshot").await;

    // More commits than are read one by one (and past delta-rs's checkpoint every 100 versions)
    // between two reads of the first writer.
    for i in 6..112 {
        append(&mut second, SOURCES[i % 2], &position(SOURCES[i % 2], i), i).await;
        newer.insert(SOURCES[i % 2], position(SOURCES[i % 2], i));
    }
    let log = lake.path().join("stream/pin/_delta_log");
    assert!(std::fs::read_dir(&log).unwrap().any(|entry| entry
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(".checkpoint.")));
    first.refresh().await.unwrap();
    assert_positions(&first, &newer, "after 106 commits of the second writer").await;
    assert_positions(&second, &newer, "in the second writer's snapshot").await;
}
