//! The batch over local files: what `pinpipe transform` runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pinpipe_contract::{layout, RejectedRecord, Table};
use pinpipe_core::clean::without_hash;
use pinpipe_core::decode::DistinctDecoded;
use pinpipe_core::export::{write_cleaned_csv, write_result_csvs};
use pinpipe_core::transform::{take_decoded, with_queries, CleanOutput, CleanWhileDecoding, TransformOutput};
use pinpipe_lake::LocalStore;
use polars::prelude::DataFrame;

use crate::error::BatchError;
use crate::inputs::{read_raw_inputs, table_files, TableFile};
use crate::lake::json_bytes;
use crate::manifest::{Manifest, Timings};
use crate::report::render_run;

/// The report's file name in the output folder of [`transform_dir`].
pub const REPORT_FILE: &str = "report.html";

/// Cleans one table's decoded records whole into `cleaned`, keeping there only the columns the queries
/// read; gives the cleaned columns, to be written.
fn clean_whole(cleaned: &mut CleanOutput, table: Table, decoded: DistinctDecoded) -> Result<DataFrame, BatchError> {
    cleaned.add_table(table, decoded, None)?;
    let frame = without_hash(&cleaned.cleaned[&table])?;
    cleaned.keep_columns_read(table)?;
    Ok(frame)
}

/// The batch computation over local files, writing the 14 canonical CSVs, `rejected.jsonl`,
/// `manifest.json` and the run's report ([`REPORT_FILE`]) into `out`. Each cleaned table's CSV is written
/// as soon as the table is cleaned; `manifest.json` comes after every CSV, so a run that failed midway
/// leaves none (and nothing at all when an input is missing).
///
/// `input` holds `pin.jsonl`, `geo.jsonl` and `user.jsonl`, or is a lake folder with `topics/`.
pub async fn transform_dir(input: &Path, out: &Path) -> Result<Manifest, BatchError> {
    let mut timings = Timings::start();
    // A lake folder's objects are read and decoded first; table files are decoded as they are read.
    let mut raw = None;
    if input.join(layout::RAW_PREFIX).is_dir() {
        raw = Some(read_raw_inputs(&LocalStore::new(input), &HashSet::new()).await?);
        timings.mark("read");
    }
    // Nothing is written when an input is missing.
    let files = if raw.is_none() { table_files(input)? } else { Vec::new() };
    let out_dir = out.to_path_buf();
    std::fs::create_dir_all(&out_dir).map_err(|source| BatchError::Io { path: out_dir.clone(), source })?;
    let (consumed, skipped, output, mut timings) = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let mut cleaned = CleanOutput::default();
            let mut writers = Vec::new();
            let out_dir = &out_dir;
            // Only the columns the queries read are kept here: the table's other text is gone once its CSV
            // is written. A table cleaned whole is written on a thread of its own while the next is read.
            let (consumed, skipped) = match raw {
                Some(inputs) => {
                    let mut decoded = inputs.decoded;
                    for table in Table::ALL {
                        let frame = clean_whole(&mut cleaned, table, take_decoded(&mut decoded, table)?)?;
                        timings.mark("transform");
                        writers.push(scope.spawn(move || write_cleaned_csv(out_dir, table, frame)));
                    }
                    (inputs.consumed, inputs.skipped)
                }
                None => {
                    // Each table file is cleaned while it is decoded, its rows kept as their CSV lines, and
                    // the lines are written before the next file is read: they are most of what a table
                    // holds, and the next table's memory is taken after theirs is freed (written beside
                    // the next table's decoding, they raised the peak by 150 MiB and took no less time).
                    // A table that cannot be ([`CleanWhileDecoding`]) is decoded again and cleaned whole.
                    for file in &files {
                        let (table, cleaning) = (file.table, CleanWhileDecoding::new(file.table));
                        let decoded = file.decode(Some(cleaning.part_map()?))?;
                        timings.mark("read");
                        match cleaning.finish(decoded, &mut cleaned)? {
                            Some(lines) => {
                                lines.write(out_dir)?;
                                timings.mark("write");
                            }
                            None => {
                                let decoded = file.decode(None)?;
                                timings.mark("read");
                                let frame = clean_whole(&mut cleaned, table, decoded)?;
                                timings.mark("transform");
                                writers.push(scope.spawn(move || write_cleaned_csv(out_dir, table, frame)));
                            }
                        }
                    }
                    (files.iter().map(TableFile::input).collect(), Vec::new())
                }
            };
            let output = with_queries(cleaned)?;
            timings.mark("transform");
            // "write" is what is left of writing the cleaned tables' CSVs once the queries are done.
            for writer in writers {
                writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            }
            Ok::<_, BatchError>((consumed, skipped, output, timings))
        })
    })
    .await??;
    let TransformOutput { all_cleaned, results, quality, rejected } = output;

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
