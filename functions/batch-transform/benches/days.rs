//! The daily batch day after day (BENCHMARKS.md, "The batch day after day"): each day lands `N` new
//! posts per table in a lake folder as raw objects (the emulator with a source table of 10 × `N` rows
//! and a seed per day, so records are mostly distinct, as real traffic is), then runs for that date
//! the clean stage alone (what the function does with `QueryEngine=Athena`: plan, decode each part,
//! clean, here in one process, parts one after another) and then the whole run
//! (the default, queries in the function; a re-run of the date, which replaces what the clean stage
//! committed), and prints one line per day: raw bytes read, earlier record hashes checked, the clean
//! stage's time and peak memory, and the whole run's phase times (read = read the raw objects and
//! decode them as they arrive; clean = drop duplicates and clean; write = commit the cleaned rows and,
//! after the queries, their results) and peak memory.
//!
//! It runs on the function's allocator, as the function does (freed memory kept for the process's
//! life): the first day's clean stage is a cold invocation's peak, later peaks those of a warm one.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-release cargo bench -p batch-transform --bench days
//! PINPIPE_BENCH_ROWS=1000000 PINPIPE_BENCH_DAYS=10   # the defaults; PINPIPE_BENCH_DIR: where the lake goes
//! PINPIPE_BENCH_S3=1   # the lake in a fresh bucket of the local S3 server (moto) instead of a folder
//! ```
//!
//! `PINPIPE_BENCH_SMOKE=1`: two days of 1,000 posts, a check that the harness runs.

use std::path::Path;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use pinpipe_contract::{layout, Table};
use pinpipe_emulate::{dump_with_progress, table_file_name, Generator};
use pinpipe_lake::{testing, LocalStore, ObjectStore};

#[global_allocator]
static ALLOCATOR: pinpipe_allocator::Allocator = pinpipe_allocator::Allocator {};

/// Lines per raw object, about what one landing invocation writes.
const LINES_PER_OBJECT: usize = 100_000;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// The process's peak resident memory since the last [`reset_peak_memory`], in MB (Linux).
fn peak_memory_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb / 1024)
}

fn reset_peak_memory() {
    // Writing 5 to clear_refs resets VmHWM to the current resident size (Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Lands a day of `rows` posts (`seed`) as raw objects of [`LINES_PER_OBJECT`] lines, their offsets
/// after `first_offset`; gives the bytes landed.
async fn land_day(store: &dyn ObjectStore, work: &Path, rows: usize, seed: u64, first_offset: usize) -> u64 {
    let generator = Generator::with_source_rows(seed, rows * 10);
    dump_with_progress(work, rows, generator, |_| {}).expect("the emulator writes the day's files");
    let mut landed = 0;
    for table in Table::ALL {
        let text = std::fs::read(work.join(table_file_name(table))).expect("a dumped file");
        let lines: Vec<&[u8]> = text.split_inclusive(|byte| *byte == b'\n').collect();
        for (chunk, object) in lines.chunks(LINES_PER_OBJECT).enumerate() {
            let offset = first_offset + chunk * LINES_PER_OBJECT;
            let body: Vec<u8> = object.concat();
            landed += body.len() as u64;
            store.put(&layout::raw_key(&format!("bench.{table}"), 0, offset as i64), body.into()).await.unwrap();
        }
    }
    landed
}

/// The clean stages of a run on Athena for `date`, as its state machine runs them (the parts one
/// after another): the manifest the clean stage writes.
async fn clean_stage(store: &dyn ObjectStore, date: NaiveDate) -> pinpipe_batch::Manifest {
    let plan = pinpipe_batch::plan_clean(store, date, Default::default()).await.expect("the plan stage runs");
    for part in plan.parts {
        pinpipe_batch::decode_part(store, date, &plan.run_id, part).await.expect("a part decodes");
    }
    let (_, manifest) = pinpipe_batch::clean_for_athena(store, date, &plan.run_id).await.expect("the clean stage runs");
    manifest
}

fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|value| !value.is_empty() && value != "0")
}

#[tokio::main]
async fn main() {
    pinpipe_allocator::keep_freed_memory();
    let smoke = flag("PINPIPE_BENCH_SMOKE");
    let (rows, days) =
        if smoke { (1_000, 2) } else { (setting("PINPIPE_BENCH_ROWS", 1_000_000), setting("PINPIPE_BENCH_DAYS", 10)) };
    let root = std::env::var_os("PINPIPE_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let lake = tempfile::tempdir_in(&root).unwrap();
    let work = tempfile::tempdir_in(&root).unwrap();
    let store: Arc<dyn ObjectStore> = if flag("PINPIPE_BENCH_S3") {
        Arc::new(testing::fresh_s3_store("days").await)
    } else {
        Arc::new(LocalStore::new(lake.path()))
    };
    let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    println!("{rows} posts per table a day, {days} days, lake {}", store.location());
    println!(
        "day | raw MB read | earlier hashes (pin) | clean stage s | clean stage peak MB | run: read s | clean s | write s | query s | total s | peak MB"
    );
    for day in 0..days {
        let landed = land_day(store.as_ref(), work.path(), rows, day as u64 + 1, day * rows).await;
        let date = first.checked_add_days(Days::new(day as u64)).unwrap();
        reset_peak_memory();
        let cleaned = clean_stage(store.as_ref(), date).await;
        let clean_peak = peak_memory_mb();
        reset_peak_memory();
        let manifest = pinpipe_batch::run_batch(store.clone(), date).await.expect("the batch runs");
        let run_peak = peak_memory_mb();
        for read in [cleaned.raw_bytes_read, manifest.raw_bytes_read] {
            assert_eq!(read, landed, "a run reads the day's objects, no others");
        }
        let seconds = |manifest: &pinpipe_batch::Manifest, phase: &str| {
            manifest.timings_ms.get(phase).copied().unwrap_or(0) as f64 / 1000.0
        };
        let mb = |peak: Option<u64>| peak.map_or("n/a".to_string(), |mb| mb.to_string());
        println!(
            "{} | {:.0} | {} | {:.2} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {}",
            day + 1,
            manifest.raw_bytes_read as f64 / 1e6,
            manifest.earlier_hashes_checked.get(&Table::Pin).copied().unwrap_or(0),
            seconds(&cleaned, "total"),
            mb(clean_peak),
            seconds(&manifest, "read"),
            seconds(&manifest, "transform"),
            seconds(&manifest, "write"),
            seconds(&manifest, "query"),
            seconds(&manifest, "total"),
            mb(run_peak),
        );
    }
}
