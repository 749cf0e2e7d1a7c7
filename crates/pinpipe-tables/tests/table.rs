//! A Delta table on a folder: appends that carry positions, a conflict between two writers of one
//! source, reading back through the log; a partition replaced in one commit; a day of small appends
//! compacted and vacuumed.

use pinpipe_tables::{position_txns, table_url, Compaction, LakeTable, ParquetCompression, Rows, TableError};
use polars::prelude::*;

const SEQ: &str = "49590338271490256608559692538361571095921575989136";

fn rows(shard: &str, from: i64, n: i64) -> DataFrame {
    let sequence_numbers: Vec<String> = (from..from + n).map(|i| format!("{SEQ}{i:06}")).collect();
    let times: Vec<chrono::NaiveDateTime> =
        (from..from + n).map(|i| chrono::DateTime::from_timestamp(1_764_000_000 + i, 0).unwrap().naive_utc()).collect();
    df!(
        "_shard_id" => vec![shard; n as usize],
        "_sequence_number" => sequence_numbers,
        "value" => (from..from + n).collect::<Vec<i64>>(),
        "_arrival_time" => times,
    )
    .unwrap()
}

async fn append(
    table: &mut LakeTable,
    source: &str,
    date: &str,
    frame: DataFrame,
    last: &str,
) -> Result<(), TableError> {
    let name = format!("part-{source}-{last}");
    let add = table.write_file("arrival_date", date, &frame, &name, ParquetCompression::Snappy).await?;
    table.append(vec![add], position_txns(source, last)?, "arrival_date").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_keep_positions_conflict_per_source_and_read_back() {
    let lake = tempfile::tempdir().unwrap();
    let root = url::Url::from_directory_path(lake.path()).unwrap();
    let url = table_url(&root, "stream/pin");
    let mut schema: Schema = rows("s0", 0, 1).schema().as_ref().clone();
    schema.with_column("arrival_date".into(), DataType::Date);
    assert!(LakeTable::open(&url).await.unwrap().is_none(), "no table yet");
    let mut table = LakeTable::open_or_create(&url, &schema, "arrival_date").await.unwrap();
    assert_eq!(table.last_position("shard-a").await.unwrap(), None);
    // Created, no file yet (a writer killed between its create and its first append): no rows, the
    // table's columns and types all the same.
    let created = LakeTable::open(&url).await.unwrap().unwrap();
    let lineage = created.read(Some(&["_shard_id", "_sequence_number"]), "arrival_date", Rows::All).await.unwrap();
    assert_eq!(lineage.height(), 0);
    assert_eq!(lineage.get_column_names(), ["_shard_id", "_sequence_number", "arrival_date"]);
    let no_rows = created.read(None, "arrival_date", Rows::All).await.unwrap();
    assert_eq!(no_rows.height(), 0);
    let unknown = created.read(Some(&["no_such_column"]), "arrival_date", Rows::All).await;
    assert!(matches!(unknown, Err(TableError::Polars { .. })), "{unknown:?}");

    for start in [0, 10] {
        let last = format!("{SEQ}{:06}", start + 9);
        append(&mut table, "shard-a", "2026-12-02", rows("s0", start, 10), &last).await.unwrap();
        assert_eq!(table.last_position("shard-a").await.unwrap(), Some(last));
    }

    // Two writers from one snapshot: the second commit of the same source conflicts, and its file is not in the table.
    let mut other = LakeTable::open(&url).await.unwrap().unwrap();
    let last = format!("{SEQ}000024");
    append(&mut table, "shard-a", "2026-12-03", rows("s0", 20, 5), &last).await.unwrap();
    let lost = append(&mut other, "shard-a", "2026-12-03", rows("s0", 20, 5), &format!("{SEQ}000025")).await;
    assert!(matches!(lost, Err(TableError::Conflict { .. })), "{lost:?}");
    // A writer of another source commits from a stale snapshot.
    append(&mut other, "shard-b", "2026-12-03", rows("s1", 0, 5), "7").await.unwrap();
    assert_eq!(other.last_position("shard-b").await.unwrap().as_deref(), Some("7"));
    assert_eq!(other.last_position("shard-a").await.unwrap(), Some(last));

    // Appends do not read the snapshot again: its files are not read until a refresh.
    let stale = other.read(None, "arrival_date", Rows::All).await;
    assert!(matches!(stale, Err(TableError::Stale { .. })), "{stale:?}");
    other.refresh().await.unwrap();
    let all = other.read(None, "arrival_date", Rows::All).await.unwrap();
    assert_eq!(all.height(), 30, "the conflicting writer's rows are not in the table: {all}");
    assert_eq!(all.column("arrival_date").unwrap().dtype(), &DataType::Date);
    assert_eq!(all.schema(), no_rows.schema(), "a table read with no files has the types of its files");
    let keys = other.read(Some(&["_shard_id"]), "arrival_date", Rows::All).await.unwrap();
    assert_eq!(keys.width(), 2);
}

#[test]
fn positions_are_decimal_numbers_of_at_most_144_digits() {
    assert_eq!(position_txns("s", "0012").unwrap()[7].version, 12);
    assert!(matches!(position_txns("s", "12a"), Err(TableError::Position(_))));
    assert!(matches!(position_txns("s", &"9".repeat(145)), Err(TableError::Position(_))));
    assert_eq!(position_txns("s", &"9".repeat(144)).unwrap().len(), 8);
}

/// A new table of [`rows`] partitioned by `arrival_date` in `lake`.
async fn new_table(lake: &tempfile::TempDir) -> LakeTable {
    let url = table_url(&url::Url::from_directory_path(lake.path()).unwrap(), "stream/pin");
    let mut schema: Schema = rows("s0", 0, 1).schema().as_ref().clone();
    schema.with_column("arrival_date".into(), DataType::Date);
    LakeTable::open_or_create(&url, &schema, "arrival_date").await.unwrap()
}

/// Replaces the rows of 2026-12-02 with `n` rows from `start`.
async fn replace(table: &mut LakeTable, start: i64, n: i64) -> Result<(), TableError> {
    let name = format!("replace-{start}-{n}");
    let frame = rows("s0", start, n);
    let add = table.write_file("arrival_date", "2026-12-02", &frame, &name, ParquetCompression::Snappy).await?;
    let txns = position_txns("batch/2026-12-02", "1")?;
    table.replace_partition("arrival_date", "2026-12-02", vec![add], txns, Default::default()).await
}

fn sorted(frame: DataFrame) -> DataFrame {
    frame.sort(["value"], Default::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_is_replaced_in_one_commit_and_a_second_replace_from_the_same_snapshot_conflicts() {
    let lake = tempfile::tempdir().unwrap();
    let mut table = new_table(&lake).await;
    for (date, start) in [("2026-12-01", 0), ("2026-12-02", 100)] {
        append(&mut table, &format!("load-{date}"), date, rows("s0", start, 10), "1").await.unwrap();
    }
    table.refresh().await.unwrap();
    let mut stale = LakeTable::open(table.url()).await.unwrap().unwrap();
    replace(&mut table, 200, 3).await.unwrap();
    let day = table.read(Some(&["value"]), "arrival_date", Rows::Of("2026-12-02")).await.unwrap();
    assert_eq!(sorted(day).column("value").unwrap().i64().unwrap().to_vec(), [Some(200), Some(201), Some(202)]);
    let other_day = table.read(None, "arrival_date", Rows::AllBut("2026-12-02")).await.unwrap();
    assert_eq!(other_day.height(), 10, "the other date is untouched");
    assert_eq!(
        table.partition_files("arrival_date").await.unwrap(),
        [("2026-12-01".into(), 1), ("2026-12-02".into(), 1)]
    );
    // Another writer that read the table before the replacement, replacing the same date: it conflicts.
    let lost = replace(&mut stale, 300, 5).await;
    assert!(matches!(lost, Err(TableError::Conflict { .. })), "{lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_a_thousand_small_appends_becomes_one_file_with_the_same_rows_and_vacuum_deletes_the_rest() {
    let lake = tempfile::tempdir().unwrap();
    let mut table = new_table(&lake).await;
    for i in 0..1_000 {
        let date = if i % 10 == 0 { "2026-12-02" } else { "2026-12-01" };
        append(&mut table, &format!("shard-{}", i % 4), date, rows("s0", i * 3, 3), &i.to_string()).await.unwrap();
    }
    table.refresh().await.unwrap();
    let before = sorted(table.read(None, "arrival_date", Rows::All).await.unwrap());
    assert_eq!(before.height(), 3_000);
    assert_eq!(
        table.partition_files("arrival_date").await.unwrap(),
        [("2026-12-01".into(), 900), ("2026-12-02".into(), 100)]
    );

    let done = table
        .compact_partition("arrival_date", "2026-12-01", "compacted", ParquetCompression::Zstd(None))
        .await
        .unwrap();
    assert_eq!(done, Compaction { files_before: 900, files_after: 1, rows: 2_700 });
    assert_eq!(
        table.partition_files("arrival_date").await.unwrap(),
        [("2026-12-01".into(), 1), ("2026-12-02".into(), 100)]
    );
    let after = sorted(table.read(None, "arrival_date", Rows::All).await.unwrap());
    assert!(after.equals_missing(&before), "the same rows");
    for i in 0..4 {
        let last = (0..1_000).filter(|n| n % 4 == i).max().unwrap();
        assert_eq!(table.last_position(&format!("shard-{i}")).await.unwrap(), Some(last.to_string()), "positions kept");
    }
    let again =
        table.compact_partition("arrival_date", "2026-12-01", "again", ParquetCompression::Zstd(None)).await.unwrap();
    assert_eq!(again, Compaction { files_before: 1, files_after: 1, rows: 2_700 });

    let parquet_files = |dir: &std::path::Path| std::fs::read_dir(dir).unwrap().count();
    let day = lake.path().join("stream/pin/arrival_date=2026-12-01");
    assert_eq!(parquet_files(&day), 901, "the replaced files stay for readers of older snapshots");
    assert_eq!(table.vacuum(chrono::Duration::hours(1)).await.unwrap(), 0, "none older than the retention");
    assert_eq!(table.vacuum(chrono::Duration::zero()).await.unwrap(), 900);
    assert_eq!(parquet_files(&day), 1);
    assert!(sorted(table.read(None, "arrival_date", Rows::All).await.unwrap()).equals_missing(&before));
}
