//! The query files `sql/<id>.sql` mean the same on DuckDB as on Polars SQL: each file, unchanged, run
//! by DuckDB over the same cleaned tables gives the same columns, types and rows as `run_queries`.
//!
//! The tables are those of three inputs: the real sample, the benchmark's edge cases and a generated
//! set made to hit what engines tend to disagree on (NULL keys and values, groups whose values are all
//! NULL, ties at a maximum, ages and years on every bound). They go to Parquet; `bench/sql_duckdb.py`
//! registers them as `pin`, `geo` and `user` in DuckDB, runs every file as it is and writes each result
//! to Parquet; both sides are then compared in canonical order as canonical CSV.
//!
//! DuckDB comes from `PINPIPE_BENCH_PYTHON`, a Python with `duckdb` (bench/.venv, which `bench/run.sh`
//! makes); without it the test says it was skipped.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use pinpipe_contract::Table;
use pinpipe_core::decode::RawSource;
use pinpipe_core::export::parquet_bytes;
use pinpipe_core::order::canonical_order;
use pinpipe_core::queries::{columns_read, run_queries, CleanedTables, QUERIES};
use pinpipe_core::transform::transform;
use polars::prelude::*;
use serde_json::{json, Value};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The three `<table>.jsonl` files of `dir`.
fn folder(dir: &Path) -> BTreeMap<Table, Vec<RawSource>> {
    Table::ALL
        .iter()
        .map(|table| {
            let name = format!("{table}.jsonl");
            let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            (*table, vec![source(&name, text)])
        })
        .collect()
}

/// A deterministic pseudo-random source (splitmix64).
struct Draw(u64);

impl Draw {
    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }

    fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        values[self.below(values.len())]
    }
}

/// 3,000 posts over few values, so that groups are large and tied: post years 2016–2024 and join years
/// 2013–2022 (around both windows), ages 10–69 and NULL, NULL countries, categories and poster names,
/// unreadable follower counts and datetimes, posts with two pins or no geo or user record; no follower
/// count at all in join year 2015 and for 36–50-year-olds' posts of 2019 (a NULL median), 15M (the top)
/// in a few countries, one of them NULL.
fn generated() -> BTreeMap<Table, Vec<RawSource>> {
    let mut draw = Draw(14);
    let mut posts = Posts::new();
    for ind in 0..3000i64 {
        // Post 7 has the top count and no country.
        let (post_year, join_year) = match ind {
            7 => (2020, 2020),
            _ => (2016 + draw.below(9), 2013 + draw.below(10)),
        };
        let age = 10 + draw.below(60);
        let mut followers = draw.pick(&["1k", "2k", "100", "7", "User Info Error", "abc", "2000", "3", "26k"]);
        if join_year == 2015 || (post_year == 2019 && (36..=50).contains(&age)) {
            followers = "User Info Error";
        } else if ind % 400 == 7 {
            followers = "15M";
        }
        for _ in 0..[1, 1, 1, 2][draw.below(4)] {
            let poster = draw.pick(&["Ann", "Bob", "User Info Error", "Cy", "Di"]);
            let category = draw.pick(&["art", "beauty", "travel", "finance", "", "quotes"]);
            posts.pin(ind, json!({ "poster_name": poster, "follower_count": followers, "category": category }));
        }
        if ind == 7 || draw.below(20) != 0 {
            let timestamp = match draw.below(30) {
                0 if ind != 7 => "yesterday".to_string(),
                _ => format!("{post_year}-0{}-1{} 12:00:00", 1 + draw.below(9), draw.below(10)),
            };
            let country = draw.pick(&["Aland", "Brazil", "Chile", "Denmark", "Zambia", "Österreich", "Anguilla"]);
            let country = if ind == 7 || draw.below(15) == 0 { Value::Null } else { json!(country) };
            posts.geo(ind, json!({ "timestamp": timestamp, "country": country }));
        }
        if draw.below(20) != 0 {
            let age = if draw.below(25) == 0 { Value::Null } else { json!(age) };
            let joined = match draw.below(30) {
                0 => String::new(),
                _ => format!("{join_year}-0{}-01 00:00:00", 1 + draw.below(2)),
            };
            let (first, last) = (draw.pick(&["Ann", "Bob", "Cy"]), draw.pick(&["Lee", "Ray"]));
            posts.user(ind, json!({ "first_name": first, "last_name": last, "age": age, "date_joined": joined }));
        }
    }
    posts.sources()
}

/// Runs every query file on DuckDB over the cleaned tables of `sources` and compares with ours.
fn agree_on(python: &Path, name: &str, sources: BTreeMap<Table, Vec<RawSource>>) {
    let output = transform(sources).expect("transform");
    let work = tempfile::tempdir().unwrap();
    let (tables, results) = (work.path().join("tables"), work.path().join("results"));
    std::fs::create_dir_all(&tables).unwrap();
    std::fs::create_dir_all(&results).unwrap();
    let cleaned = &output.all_cleaned;
    for (table, frame) in [("pin", &cleaned.pin), ("geo", &cleaned.geo), ("user", &cleaned.user)] {
        let bytes = parquet_bytes(frame, ParquetCompression::Uncompressed).unwrap();
        std::fs::write(tables.join(format!("{table}.parquet")), bytes).unwrap();
    }

    let run = Command::new(python)
        .arg(root().join("bench/sql_duckdb.py"))
        .arg("--tables")
        .arg(&tables)
        .arg("--sql")
        .arg(root().join("sql"))
        .arg("--out")
        .arg(&results)
        .args(QUERIES.iter().map(|query| query.id))
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(run.status.success(), "{name}: DuckDB: {}", String::from_utf8_lossy(&run.stderr));
    let version = String::from_utf8_lossy(&run.stdout).trim().to_string();

    for (query, ours) in &output.results {
        let path = results.join(format!("{}.parquet", query.id));
        let theirs = ParquetReader::new(File::open(&path).unwrap()).finish().unwrap();
        assert_eq!(
            schema_of(&theirs),
            schema_of(ours),
            "{name}: {}.sql gives the same columns and types on DuckDB {version} as on Polars",
            query.id
        );
        assert_eq!(
            csv(&canonical_order(&theirs).unwrap()),
            csv(ours),
            "{name}: {}.sql gives the same rows on DuckDB {version} as on Polars",
            query.id
        );
    }
    let rows: usize = output.results.iter().map(|(_, frame)| frame.height()).sum();
    eprintln!("{name}: DuckDB {version} agrees on all {} queries ({rows} rows)", QUERIES.len());
}

#[test]
fn every_query_file_gives_the_same_result_on_duckdb() {
    let Some(python) = std::env::var_os("PINPIPE_BENCH_PYTHON") else {
        eprintln!("skipped: PINPIPE_BENCH_PYTHON names no Python with duckdb (bench/run.sh makes bench/.venv)");
        return;
    };
    let python = PathBuf::from(python);
    agree_on(&python, "real sample", folder(&root().join("data/real-sample")));
    agree_on(&python, "edge cases", folder(&root().join("bench/fixtures/edge")));
    agree_on(&python, "generated", generated());
}

#[test]
fn the_generated_posts_hit_the_cases_they_are_made_for() {
    let output = transform(generated()).expect("transform");
    let q3b = result_csv(&output, "q3b");
    assert_eq!(q3b, "country,follower_count\n,15000000\n", "a NULL country ties at the top and comes first");
    assert!(result_csv(&output, "q7").contains("\n2015,\n"), "a join year with no follower count");
    assert!(result_csv(&output, "q9").contains("\n36-50,2019,\n"), "a group with no follower count");
    let q1 = result(&output, "q1");
    assert!(q1.column("country").unwrap().null_count() > 0, "a NULL country is a group");
    for id in ["q1", "q2a", "q2b", "q3a", "q4", "q5", "q6", "q7", "q8", "q9"] {
        assert!(result(&output, id).height() > 3, "{id} has rows");
    }
}

#[test]
fn the_queries_over_only_the_columns_they_read_give_what_they_give_over_whole_tables() {
    let read = |table| columns_read(table).expect("columns read");
    let pin_columns = Table::Pin.cleaned_columns();
    assert!(read(Table::Pin).len() < pin_columns.len(), "the queries read some of pin's columns, not all");
    for table in Table::ALL {
        assert!(read(table).iter().any(|column| column == "ind"), "{table}: the tables join on ind");
    }
    for (name, sources) in [("real sample", folder(&root().join("data/real-sample"))), ("generated", generated())] {
        let output = transform(sources).expect("transform");
        let keep = |table, frame: &DataFrame| frame.select(read(table)).expect("the columns exist");
        let tables = &output.all_cleaned;
        let narrow = CleanedTables {
            pin: keep(Table::Pin, &tables.pin),
            geo: keep(Table::Geo, &tables.geo),
            user: keep(Table::User, &tables.user),
        };
        let results = run_queries(&narrow).expect("queries over the columns read");
        for ((query, whole), (_, narrow)) in output.results.iter().zip(&results) {
            assert_eq!(csv(narrow), csv(whole), "{name}: {}", query.id);
        }
    }
}
