//! The batch over local files: what `pinpipe transform` runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pinpipe_contract::{layout, RejectedRecord};
use pinpipe_core::export::write_csvs;
use pinpipe_core::transform::{transform_decoded, TransformOutput};
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
    // dropping duplicates and decoding).
    let (consumed, skipped, decoded) = if input.join(layout::RAW_PREFIX).is_dir() {
        let inputs = read_raw_inputs(&LocalStore::new(input), &HashSet::new()).await?;
        (inputs.consumed, inputs.skipped, inputs.decoded)
    } else {
        let input = input.to_path_buf();
        let (consumed, decoded) = tokio::task::spawn_blocking(move || read_table_files(&input)).await??;
        (consumed, Vec::new(), decoded)
    };
    timings.mark("read");
    let TransformOutput { all_cleaned, results, quality, rejected } =
        tokio::task::spawn_blocking(move || transform_decoded(decoded)).await??;
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
