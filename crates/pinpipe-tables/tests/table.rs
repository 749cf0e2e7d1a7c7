//! A Delta table on a folder: appends that carry positions, a conflict between two writers of one
//! source, reading back through the log.

use pinpipe_tables::{position_txns, table_url, LakeTable, TableError};
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
    let add = table.write_file("arrival_date", date, &frame, &format!("part-{source}-{last}")).await?;
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

    let all = other.read(None, "arrival_date").await.unwrap();
    assert_eq!(all.height(), 30, "the conflicting writer's rows are not in the table: {all}");
    assert_eq!(all.column("arrival_date").unwrap().dtype(), &DataType::Date);
    let keys = other.read(Some(&["_shard_id"]), "arrival_date").await.unwrap();
    assert_eq!(keys.width(), 2);
}

#[test]
fn positions_are_decimal_numbers_of_at_most_144_digits() {
    assert_eq!(position_txns("s", "0012").unwrap()[7].version, 12);
    assert!(matches!(position_txns("s", "12a"), Err(TableError::Position(_))));
    assert!(matches!(position_txns("s", &"9".repeat(145)), Err(TableError::Position(_))));
    assert_eq!(position_txns("s", &"9".repeat(144)).unwrap().len(), 8);
}
