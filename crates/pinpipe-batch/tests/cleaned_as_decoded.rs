//! `transform_dir` over table files cleans each table while decoding it and keeps its rows as their CSV
//! lines (`CleanWhileDecoding`); it must write what cleaning each table whole writes, byte for byte, with
//! the same counts: on the real sample, on mostly distinct emulated posts, and on records that make it
//! clean a table whole (two records sharing a key; equal records that are not byte-identical).

use std::collections::BTreeMap;
use std::path::Path;

use pinpipe_batch::transform_dir;
use pinpipe_contract::Table;
use pinpipe_core::decode::RawSource;
use pinpipe_core::export::{cleaned_csv_name, write_cleaned_csv};
use pinpipe_core::transform::transform;
use pinpipe_lake::testing::real_sample_dir;

/// Runs `transform_dir` over the table files in `input` and checks its cleaned CSVs and counts against
/// whole-table cleaning of the same files.
async fn check_against_whole_tables(input: &Path) {
    let out = tempfile::tempdir().unwrap();
    let manifest = transform_dir(input, out.path()).await.unwrap();
    let sources: BTreeMap<Table, Vec<RawSource>> = Table::ALL
        .into_iter()
        .map(|table| {
            let bytes = std::fs::read(input.join(format!("{table}.jsonl"))).unwrap();
            (table, vec![RawSource { name: format!("{table}.jsonl"), bytes: bytes.into() }])
        })
        .collect();
    let whole = transform(sources).unwrap();
    let expected = tempfile::tempdir().unwrap();
    for (table, frame) in [
        (Table::Pin, whole.all_cleaned.pin),
        (Table::Geo, whole.all_cleaned.geo),
        (Table::User, whole.all_cleaned.user),
    ] {
        write_cleaned_csv(expected.path(), table, frame).unwrap();
        let name = cleaned_csv_name(table);
        let ours = std::fs::read(out.path().join(&name)).unwrap();
        let theirs = std::fs::read(expected.path().join(&name)).unwrap();
        assert!(
            ours == theirs,
            "{name} differs:\n{}\n---\n{}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }
    assert_eq!(manifest.tables, whole.quality);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_sample_is_written_as_whole_tables_are() {
    check_against_whole_tables(&real_sample_dir()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mostly_distinct_posts_are_written_as_whole_tables_are() {
    let input = tempfile::tempdir().unwrap();
    let generator = pinpipe_emulate::Generator::with_source_rows(3, 200_000);
    pinpipe_emulate::dump_with_progress(input.path(), 20_000, generator, |_| {}).unwrap();
    check_against_whole_tables(input.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_keys_and_equal_records_are_written_as_whole_tables_are() {
    let input = tempfile::tempdir().unwrap();
    let write = |table: &str, lines: &[&str]| {
        std::fs::write(input.path().join(format!("{table}.jsonl")), lines.join("\n")).unwrap()
    };
    // pin: key 2 twice with different records (their order is set by the next columns); a refused line.
    write(
        "pin",
        &[
            r#"{"index": 2, "unique_id": "b", "title": "Zed", "follower_count": "3k", "save_location": "Local save in /x"}"#,
            r#"{"index": 1, "unique_id": "a", "title": "", "follower_count": "User Info Error"}"#,
            r#"{"index": 2, "unique_id": "a", "title": "Ann, \"quoted\"", "follower_count": "12"}"#,
            "not json",
        ],
    );
    // geo: key 5 twice, differing only in the timestamp's fraction and then in the country ("" against NULL).
    write(
        "geo",
        &[
            r#"{"ind": 5, "timestamp": "2020-01-01 00:00:00.9", "latitude": 1.5, "longitude": 2, "country": "B"}"#,
            r#"{"ind": 5, "timestamp": "2020-01-01 00:00:00.1", "latitude": 1.5, "longitude": 2, "country": "C"}"#,
            r#"{"ind": 6, "timestamp": "2020-01-01 00:00:00", "country": ""}"#,
            r#"{"ind": 6, "timestamp": "2020-01-01 00:00:00", "country": null}"#,
        ],
    );
    // user: one record twice, its fields reordered (equal, not byte-identical; its datetime, made NULL, is
    // counted once), and distinct keys otherwise.
    write(
        "user",
        &[
            r#"{"ind": 1, "first_name": "Ann", "last_name": "Lee", "age": 30, "date_joined": "soon"}"#,
            r#"{"age": 30, "ind": 1, "last_name": "Lee", "first_name": "Ann", "date_joined": "soon"}"#,
            r#"{"ind": 3, "first_name": "Bo", "age": "x"}"#,
        ],
    );
    check_against_whole_tables(input.path()).await;
}
