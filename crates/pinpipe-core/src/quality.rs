//! Data-quality counts of one table in one run (docs/SPEC.md §6).

use std::collections::BTreeMap;

use pinpipe_contract::RejectKind;
use serde::{Deserialize, Serialize};

use crate::clean::NullCounts;
use crate::decode::Decoded;

/// What happened to one table's records in one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    pub fn from_decoded<P>(decoded: &Decoded<P>) -> Self {
        let mut rejected = BTreeMap::new();
        for refused in &decoded.refused {
            *rejected.entry(refused.kind).or_insert(0) += 1;
        }
        TableQuality {
            records_in: decoded.frame.height() as u64 + decoded.refused.len() as u64,
            rejected,
            invalid_values: decoded.invalid_values.clone(),
            ..TableQuality::default()
        }
    }

    /// Adds another part's decoding counts (records in, refused, invalid values) to these.
    pub fn add_decoded(&mut self, other: &TableQuality) {
        self.records_in += other.records_in;
        for (kind, count) in &other.rejected {
            *self.rejected.entry(*kind).or_insert(0) += count;
        }
        for (field, count) in &other.invalid_values {
            *self.invalid_values.entry(field.clone()).or_insert(0) += count;
        }
    }

    /// All refused lines, whatever the reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}
