//! The batch over local files: what `pinpipe transform` runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pinpipe_contract::{layout, RejectedRecord, Table};
use pinpipe_core::clean::without_hash;
use pinpipe_core::decode::{decode_distinct, DistinctDecoded};
use pinpipe_core::export::{write_cleaned_csv, write_result_csvs};
use pinpipe_core::transform::{with_queries, CleanOutput, TransformOutput};
use pinpipe_lake::LocalStore;

use crate::error::BatchError;
use crate::inputs::{read_raw_inputs, read_table_files};
use crate::lake::json_bytes;
use crate::manifest::{Manifest, Timings};
use crate::report::render_run;

/// The report's file name in the output folder of [`transform_dir`].
pub const REPORT_FILE: &str = "report.html";

/// The batch computation over local files, writing the 14 canonical CSVs, `rejected.jsonl`,
/// `manifest.json` and the run's report ([`REPORT_FILE`]) into `out`. Each cleaned table's CSV is written
/// as soon as the table is cleaned; `manifest.json` comes after every CSV, so a run that failed midway
/// leaves none (and nothing at all when an input is missing).
///
/// `input` holds `pin.jsonl`, `geo.jsonl` and `user.jsonl`, or is a lake folder with `topics/`.
pub async fn transform_dir(input: &Path, out: &Path) -> Result<Manifest, BatchError> {
    let mut timings = Timings::start();
    // Inputs are decoded as they are read, keeping only their distinct lines ("read" covers reading,
    // dropping duplicates and decoding; "transform" cleaning and the queries; "write" the CSVs).
    // Each table is cleaned and its CSV written as soon as it is decoded, and then only the columns the
    // queries read are kept: the table's other text is gone before the next table is decoded.
    let out_dir = out.to_path_buf();
    let (consumed, skipped, cleaned, mut timings) = if input.join(layout::RAW_PREFIX).is_dir() {
        let inputs = read_raw_inputs(&LocalStore::new(input), &HashSet::new()).await?;
        timings.mark("read");
        let mut decoded = inputs.decoded;
        tokio::task::spawn_blocking(move || {
            let mut cleaned = CleanOutput::default();
            for table in Table::ALL {
                let decoded = match decoded.remove(&table) {
                    Some(decoded) => decoded,
                    None => decode_distinct(table, &[])?,
                };
                clean_and_write(&mut cleaned, table, decoded, &out_dir, &mut timings)?;
            }
            Ok::<_, BatchError>((inputs.consumed, inputs.skipped, cleaned, timings))
        })
        .await??
    } else {
        let input = input.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut cleaned = CleanOutput::default();
            let consumed = read_table_files(&input, |table, decoded| {
                timings.mark("read");
                clean_and_write(&mut cleaned, table, decoded, &out_dir, &mut timings)
            })?;
            Ok::<_, BatchError>((consumed, Vec::new(), cleaned, timings))
        })
        .await??
    };
    let TransformOutput { all_cleaned, results, quality, rejected } =
        tokio::task::spawn_blocking(move || with_queries(cleaned)).await??;
    timings.mark("transform");

    let io_error = |path: PathBuf| move |source| BatchError::Io { path, source };
    let mut manifest = Manifest::of("offline".to_string(), consumed, skipped, quality);
    manifest.count_results(&results);
    manifest.cleaned_rows_total = all_cleaned.heights();
    drop(all_cleaned);
    let out_dir = out.to_path_buf();
    // The results stay for the report.
    let results =
        tokio::task::spawn_blocking(move || write_result_csvs(&out_dir, &results).map(|()| results)).await??;
    let rejected_path = out.join("rejected.jsonl");
    let rejected_lines = RejectedRecord::to_json_lines(&rejected);
    tokio::fs::write(&rejected_path, rejected_lines).await.map_err(io_error(rejected_path.clone()))?;
    timings.mark("write");
    manifest.timings_ms = timings.finish();
    let manifest_path = out.join("manifest.json");
    let manifest_json = json_bytes(&manifest);
    tokio::fs::write(&manifest_path, &manifest_json).await.map_err(io_error(manifest_path.clone()))?;
    let report_path = out.join(REPORT_FILE);
    let report = render_run(&input.display().to_string(), &manifest_json, &results, &rejected)?;
    tokio::fs::write(&report_path, report).await.map_err(io_error(report_path.clone()))?;
    Ok(manifest)
}

/// Cleans one table's decoded records into `cleaned`, writes the table's canonical CSV into `out`, and
/// then keeps of its cleaned rows only the columns the queries read.
fn clean_and_write(
    cleaned: &mut CleanOutput,
    table: Table,
    decoded: DistinctDecoded,
    out: &Path,
    timings: &mut Timings,
) -> Result<(), BatchError> {
    cleaned.add_table(table, decoded, None)?;
    timings.mark("transform");
    std::fs::create_dir_all(out).map_err(|source| BatchError::Io { path: out.to_path_buf(), source })?;
    write_cleaned_csv(out, table, &without_hash(&cleaned.cleaned[&table])?)?;
    cleaned.keep_columns_read(table)?;
    timings.mark("write");
    Ok(())
}
