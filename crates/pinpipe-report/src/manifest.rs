//! The run manifest as the report reads it: the JSON document of docs/SPEC.md §6, written by the
//! batch as `runs/<date>/manifest.json` (or `manifest.json` by `pinpipe transform`).
//!
//! The report reads the document rather than the batch's own type, so that it depends on the
//! contract only (and reads manifests of earlier versions: every field has a default).

use std::collections::BTreeMap;

use pinpipe_contract::Table;
use serde::{Deserialize, Serialize};

use crate::error::ReportError;

/// A raw object (or file) a run consumed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputObject {
    /// Its key or path.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its version (ETag, or size and modification time).
    pub version: String,
}

/// An object under `topics/` the run passed over, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SkippedObject {
    /// Its key.
    pub key: String,
    /// Why it was passed over.
    pub reason: String,
}

/// The NULLs the cleaning rules (docs/SPEC.md §4) produced in one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NullCounts {
    /// `""` turned into NULL, per column.
    pub empty_text: BTreeMap<String, u64>,
    /// Placeholders turned into NULL, per column.
    pub placeholder: BTreeMap<String, u64>,
    /// follower_count values that are neither a count nor a placeholder.
    pub unparseable_follower_count: u64,
    /// Datetimes in none of the accepted forms, per column.
    pub unparseable_datetime: BTreeMap<String, u64>,
}

/// What happened to one table's records in the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableCounts {
    /// Non-blank lines read.
    pub records_in: u64,
    /// Refused lines, by kind (`not_json`, …).
    pub rejected: BTreeMap<String, u64>,
    /// Values made NULL because their JSON type does not fit the field, per field.
    pub invalid_values: BTreeMap<String, u64>,
    /// Exact duplicates of a record seen earlier in the run or in an earlier run.
    pub duplicates_dropped: u64,
    /// Rows the run added to the table.
    pub records_cleaned: u64,
    /// NULLs per cleaning rule.
    pub nulls: NullCounts,
}

impl TableCounts {
    /// Every refused line, whatever its kind.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// A batch run's manifest (docs/SPEC.md §6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunManifest {
    /// The run date `YYYY-MM-DD`, or `offline` for `pinpipe transform`.
    pub run_date: String,
    /// The raw objects or files consumed.
    pub inputs: Vec<InputObject>,
    /// Bytes of raw data the run read.
    pub raw_bytes_read: u64,
    /// Objects under `topics/` that are not raw records of a table.
    pub skipped_inputs: Vec<SkippedObject>,
    /// Per table, the record hashes of earlier run dates the run's records were checked against.
    pub earlier_hashes_checked: BTreeMap<Table, u64>,
    /// Per-table counts of the run.
    pub tables: BTreeMap<Table, TableCounts>,
    /// Rows of each cleaned table after the run.
    pub cleaned_rows_total: BTreeMap<Table, u64>,
    /// Rows of each query result.
    pub results: BTreeMap<String, u64>,
    /// Milliseconds per phase (`read`, `transform`, `query`, `write`, `total`).
    pub timings_ms: BTreeMap<String, u64>,
}

impl RunManifest {
    /// Reads a manifest from its JSON text.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ReportError> {
        serde_json::from_slice(bytes).map_err(ReportError::Manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_manifest_is_read_and_missing_fields_default() {
        let manifest = RunManifest::from_json(
            br#"{"run_date":"2026-12-01","inputs":[{"key":"topics/p.pin/partition=0/p.pin+0+0000000000.json","size":12,"version":"e"}],
                "tables":{"pin":{"records_in":3,"rejected":{"not_json":1},"invalid_values":{"age":2},
                "duplicates_dropped":1,"records_cleaned":1,"nulls":{"empty_text":{"title":1},"placeholder":{},
                "unparseable_follower_count":4,"unparseable_datetime":{}}}},
                "cleaned_rows_total":{"pin":1},"results":{"q1":0},"timings_ms":{"total":5},"later_field":true}"#,
        )
        .unwrap();
        let pin = &manifest.tables[&Table::Pin];
        assert_eq!((pin.records_in, pin.rejected_total(), pin.nulls.unparseable_follower_count), (3, 1, 4));
        assert_eq!(manifest.inputs[0].size, 12);
        assert!(manifest.skipped_inputs.is_empty());
        assert!(matches!(RunManifest::from_json(b"[1]"), Err(ReportError::Manifest(_))));
    }
}
