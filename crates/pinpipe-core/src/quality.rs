//! Data-quality counts (SPEC §6) and the manifest a batch run writes beside its results.

use std::collections::BTreeMap;

use pinpipe_lake::ObjectMeta;
use serde::Serialize;

use crate::clean::NullCounts;
use crate::decode::{Decoded, RejectKind};
use crate::table::Table;

/// What happened to one table's records in one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableQuality {
    /// Non-blank lines read.
    pub records_in: u64,
    /// Lines refused, by reason.
    pub rejected: BTreeMap<RejectKind, u64>,
    /// Values whose JSON type their field cannot hold (made NULL), per field.
    pub invalid_values: BTreeMap<String, u64>,
    /// Exact duplicates of a record seen earlier in this run or in an earlier run.
    pub duplicates_dropped: u64,
    /// Records cleaned and added to the table by this run.
    pub records_cleaned: u64,
    /// NULLs the cleaning rules produced.
    pub nulls: NullCounts,
}

impl TableQuality {
    /// The counts decoding alone determines.
    pub fn from_decoded(decoded: &Decoded) -> Self {
        let mut rejected = BTreeMap::new();
        for line in &decoded.rejected {
            *rejected.entry(line.kind).or_insert(0) += 1;
        }
        TableQuality {
            records_in: decoded.frame.height() as u64 + decoded.rejected.len() as u64,
            rejected,
            invalid_values: decoded.invalid_values.clone(),
            ..TableQuality::default()
        }
    }

    /// All refused lines, whatever the reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// An input the run did not read, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedInput {
    /// The object key or file.
    pub key: String,
    /// Why it was passed over.
    pub reason: String,
}

/// The record of one batch run, written as `results/<run date>/manifest.json` (or `manifest.json` offline).
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
