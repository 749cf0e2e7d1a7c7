//! The manifest a batch run writes beside its results (docs/SPEC.md §6).

use std::collections::BTreeMap;
use std::time::Instant;

use pinpipe_contract::Table;
use pinpipe_core::quality::TableQuality;
use pinpipe_core::queries::Query;
use pinpipe_lake::ObjectMeta;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

/// An input the run did not read, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedInput {
    /// The object key or file.
    pub key: String,
    /// Why it was passed over.
    pub reason: String,
}

/// The record of one batch run, written as `runs/<run date>/manifest.json` (or `manifest.json` offline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    /// The run date (`YYYY-MM-DD`), or `offline` for `pinpipe transform`.
    pub run_date: String,
    /// The raw objects or files this run consumed.
    pub inputs: Vec<ObjectMeta>,
    /// Bytes of raw data this run read: the objects it consumed, no others.
    pub raw_bytes_read: u64,
    /// Objects under the raw prefix that are not raw records of a known table.
    pub skipped_inputs: Vec<SkippedInput>,
    /// Per table, the record hashes of earlier run dates this run's records were checked against
    /// (read as one column of the cleaned table; no earlier rows are read to clean).
    pub earlier_hashes_checked: BTreeMap<Table, u64>,
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
    /// The manifest of a run of `run_date` over `inputs` (with `skipped`) with the counts `tables`,
    /// its results still to come.
    pub(crate) fn of(
        run_date: String,
        inputs: Vec<ObjectMeta>,
        skipped: Vec<SkippedInput>,
        tables: BTreeMap<Table, TableQuality>,
    ) -> Self {
        Manifest {
            run_date,
            raw_bytes_read: inputs.iter().map(|input| input.size).sum(),
            inputs,
            skipped_inputs: skipped,
            tables,
            ..Manifest::default()
        }
    }

    /// Records the rows of each query's result.
    pub(crate) fn count_results(&mut self, results: &[(Query, DataFrame)]) {
        self.results = results.iter().map(|(query, frame)| (query.id.to_string(), frame.height() as u64)).collect();
    }
}

/// How long each phase of a run took, phases timed one after another.
pub(crate) struct Timings {
    started: Instant,
    phase: Instant,
    phases_ms: BTreeMap<String, u64>,
}

impl Timings {
    /// A run starting now.
    pub(crate) fn start() -> Self {
        let now = Instant::now();
        Timings { started: now, phase: now, phases_ms: BTreeMap::new() }
    }

    /// The time since the last mark was spent in `phase` (added to what it took before).
    pub(crate) fn mark(&mut self, phase: &str) {
        *self.phases_ms.entry(phase.to_string()).or_default() += elapsed_ms(self.phase);
        self.phase = Instant::now();
    }

    /// The manifest's timings: each phase, and the run in all (`total`).
    pub(crate) fn finish(&self) -> BTreeMap<String, u64> {
        let mut timings = self.phases_ms.clone();
        timings.insert("total".to_string(), elapsed_ms(self.started));
        timings
    }
}

/// Milliseconds since `start`.
fn elapsed_ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}
