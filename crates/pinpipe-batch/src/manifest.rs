//! The manifest a batch run writes beside its results (docs/SPEC.md §6).

use std::collections::BTreeMap;
use std::time::Instant;

use pinpipe_contract::Table;
use pinpipe_core::quality::TableQuality;
use pinpipe_core::transform::TransformOutput;
use pinpipe_lake::ObjectMeta;
use serde::Serialize;

/// An input the run did not read, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedInput {
    /// The object key or file.
    pub key: String,
    /// Why it was passed over.
    pub reason: String,
}

/// The record of one batch run, written as `runs/<run date>/manifest.json` (or `manifest.json` offline).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Manifest {
    /// The run date (`YYYY-MM-DD`), or `offline` for `pinpipe transform`.
    pub run_date: String,
    /// The raw objects or files this run consumed.
    pub inputs: Vec<ObjectMeta>,
    /// Objects under the raw prefix that are not raw records of a known table.
    pub skipped_inputs: Vec<SkippedInput>,
    /// Per-table data-quality counts of this run.
    pub tables: BTreeMap<Table, TableQuality>,
    /// Rows in each cleaned table after this run (all runs together).
    pub cleaned_rows_total: BTreeMap<Table, u64>,
    /// Rows in each query result.
    pub results: BTreeMap<String, u64>,
    /// Wall time of each phase, in milliseconds.
    pub timings_ms: BTreeMap<String, u64>,
}

impl Manifest {
    /// The manifest of a run of `run_date` over `inputs` (with `skipped`) that computed `output`.
    pub(crate) fn of(
        run_date: String,
        inputs: Vec<ObjectMeta>,
        skipped: Vec<SkippedInput>,
        output: &TransformOutput,
    ) -> Self {
        Manifest {
            run_date,
            inputs,
            skipped_inputs: skipped,
            tables: output.quality.clone(),
            cleaned_rows_total: [
                (Table::Pin, output.all_cleaned.pin.height() as u64),
                (Table::Geo, output.all_cleaned.geo.height() as u64),
                (Table::User, output.all_cleaned.user.height() as u64),
            ]
            .into(),
            results: output
                .results
                .iter()
                .map(|(query, frame)| (query.id.to_string(), frame.height() as u64))
                .collect(),
            timings_ms: BTreeMap::new(),
        }
    }
}

/// When each phase of a run ended.
pub(crate) struct Timings {
    started: Instant,
    read_ms: u64,
    transform_ms: u64,
    phase: Instant,
}

impl Timings {
    /// A run starting now, reading first.
    pub(crate) fn start() -> Self {
        let now = Instant::now();
        Timings { started: now, read_ms: 0, transform_ms: 0, phase: now }
    }

    /// Reading ended: transforming starts.
    pub(crate) fn read_done(&mut self) {
        self.read_ms = elapsed_ms(self.phase);
        self.phase = Instant::now();
    }

    /// Transforming ended: writing starts.
    pub(crate) fn transform_done(&mut self) {
        self.transform_ms = elapsed_ms(self.phase);
        self.phase = Instant::now();
    }

    /// The manifest's timings, writing ending now: reading, transforming, writing and in all.
    pub(crate) fn finish(&self) -> BTreeMap<String, u64> {
        [
            ("read".to_string(), self.read_ms),
            ("transform".to_string(), self.transform_ms),
            ("write".to_string(), elapsed_ms(self.phase)),
            ("total".to_string(), elapsed_ms(self.started)),
        ]
        .into()
    }
}

/// Milliseconds since `start`.
fn elapsed_ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}
