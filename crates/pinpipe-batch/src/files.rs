//! The batch over local files: what `pinpipe transform` runs.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use pinpipe_contract::{layout, RejectedRecord};
use pinpipe_core::export::write_csvs;
use pinpipe_core::transform::{clean_decoded, with_queries, CleanOutput, TransformOutput};
use pinpipe_lake::LocalStore;

use crate::error::BatchError;
use crate::inputs::{read_raw_inputs, read_table_files};
use crate::lake::json_bytes;
use crate::manifest::{Manifest, Timings};
use crate::report::render_run;

/// The report's file name in the output folder of [`transform_dir`].
pub const REPORT_FILE: &str = "report.html";

/// The batch computation over local files, writing the 14 canonical CSVs, `rejected.jsonl`,
/// `manifest.json` and the run's report ([`REPORT_FILE`]) into `out`.
///
/// `input` holds `pin.jsonl`, `geo.jsonl` and `user.jsonl`, or is a lake folder with `topics/`.
pub async fn transform_dir(input: &Path, out: &Path) -> Result<Manifest, BatchError> {
    let mut timings = Timings::start();
    // Inputs are decoded as they are read, keeping only their distinct lines ("read" covers reading,
    // dropping duplicates and decoding; "transform" cleaning and the queries).
    let (consumed, skipped, cleaned, mut timings) = if input.join(layout::RAW_PREFIX).is_dir() {
        let inputs = read_raw_inputs(&LocalStore::new(input), &HashSet::new()).await?;
        timings.mark("read");
        let decoded = inputs.decoded;
        let cleaned = tokio::task::spawn_blocking(move || clean_decoded(decoded, BTreeMap::new())).await??;
        (inputs.consumed, inputs.skipped, cleaned, timings)
    } else {
        // Each table is cleaned as soon as its file is decoded: its raw frame is gone before the next.
        let input = input.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut cleaned = CleanOutput::default();
            let consumed = read_table_files(&input, |table, decoded| {
                timings.mark("read");
                cleaned.add_table(table, decoded, None)?;
                timings.mark("transform");
                Ok(())
            })?;
            Ok::<_, BatchError>((consumed, Vec::new(), cleaned, timings))
        })
        .await??
    };
    let TransformOutput { all_cleaned, results, quality, rejected } =
        tokio::task::spawn_blocking(move || with_queries(cleaned)).await??;
    timings.mark("transform");

    let io_error = |path: PathBuf| move |source| BatchError::Io { path, source };
    tokio::fs::create_dir_all(out).await.map_err(io_error(out.to_path_buf()))?;
    let mut manifest = Manifest::of("offline".to_string(), consumed, skipped, quality);
    manifest.count_results(&results);
    manifest.cleaned_rows_total = all_cleaned.heights();
    let out_dir = out.to_path_buf();
    // The cleaned tables go to the writer, which drops each once written; the results stay for the report.
    let results =
        tokio::task::spawn_blocking(move || write_csvs(&out_dir, all_cleaned, &results).map(|()| results)).await??;
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
