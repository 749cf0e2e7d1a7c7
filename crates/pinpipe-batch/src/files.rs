//! The batch over local files: what `pinpipe transform` runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pinpipe_contract::{layout, RejectedRecord};
use pinpipe_core::export::write_csvs;
use pinpipe_core::transform::{transform, transform_decoded};
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
    let (consumed, skipped, output) = if input.join(layout::RAW_PREFIX).is_dir() {
        let mut inputs = read_raw_inputs(&LocalStore::new(input), &HashSet::new()).await?;
        timings.mark("read");
        let sources = std::mem::take(&mut inputs.sources);
        let output = tokio::task::spawn_blocking(move || transform(sources)).await??;
        (inputs.consumed, inputs.skipped, output)
    } else {
        // Table files are decoded as they are read, keeping only their distinct lines ("read" then
        // covers reading, dropping duplicates and decoding).
        let input = input.to_path_buf();
        let (consumed, decoded) = tokio::task::spawn_blocking(move || read_table_files(&input)).await??;
        timings.mark("read");
        let output = tokio::task::spawn_blocking(move || transform_decoded(decoded)).await??;
        (consumed, Vec::new(), output)
    };
    timings.mark("transform");

    let io_error = |path: PathBuf| move |source| BatchError::Io { path, source };
    tokio::fs::create_dir_all(out).await.map_err(io_error(out.to_path_buf()))?;
    let out_dir = out.to_path_buf();
    let (all_cleaned, results) = (output.all_cleaned.clone(), output.results.clone());
    tokio::task::spawn_blocking(move || write_csvs(&out_dir, &all_cleaned, &results)).await??;
    let rejected_path = out.join("rejected.jsonl");
    let rejected = RejectedRecord::to_json_lines(&output.rejected);
    tokio::fs::write(&rejected_path, rejected).await.map_err(io_error(rejected_path.clone()))?;
    let mut manifest = Manifest::of("offline".to_string(), consumed, skipped, output.quality.clone());
    manifest.count_results(&output.results);
    manifest.cleaned_rows_total = output.all_cleaned.heights();
    timings.mark("write");
    manifest.timings_ms = timings.finish();
    let manifest_path = out.join("manifest.json");
    let manifest_json = json_bytes(&manifest);
    tokio::fs::write(&manifest_path, &manifest_json).await.map_err(io_error(manifest_path.clone()))?;
    let report_path = out.join(REPORT_FILE);
    let report = render_run(&input.display().to_string(), &manifest_json, &output.results, &output.rejected)?;
    tokio::fs::write(&report_path, report).await.map_err(io_error(report_path.clone()))?;
    Ok(manifest)
}
