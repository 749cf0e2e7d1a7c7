//! The whole batch computation, in memory: new raw records → drop exact duplicates (within the run and
//! against earlier runs' rows) → clean → every query. The batch driver (`pinpipe-batch`) feeds it from
//! the lake or from files and writes what it returns.

use std::collections::BTreeMap;

use pinpipe_contract::table::{Table, RAW_HASH_COLUMN};
use pinpipe_contract::{RejectedRecord, Stage};
use polars::prelude::*;

use crate::clean::{clean, without_hash};
use crate::decode::{decode_distinct, Decoded, DistinctDecoded, RawSource};
use crate::quality::TableQuality;
use crate::queries::{run_queries, CleanedTables, Query};

/// What one run computed.
#[derive(Debug)]
pub struct TransformOutput {
    /// Per table, the rows this run added (cleaned columns plus [`RAW_HASH_COLUMN`]).
    pub new_cleaned: BTreeMap<Table, DataFrame>,
    /// All cleaned rows, earlier runs' and this run's, without the hash column.
    pub all_cleaned: CleanedTables,
    /// Every query's result, in canonical order.
    pub results: Vec<(Query, DataFrame)>,
    /// Per-table counts of this run.
    pub quality: BTreeMap<Table, TableQuality>,
    /// The records this run refused, as lines of `rejected/batch-transform/`.
    pub rejected: Vec<RejectedRecord>,
}

/// The computation of a run: `new` holds this run's raw inputs per table, `prior` the cleaned rows
/// (with hashes) of earlier runs. Exact duplicates, within `new` or of `prior` rows, are dropped.
pub fn transform(
    mut new: BTreeMap<Table, Vec<RawSource>>,
    prior: BTreeMap<Table, DataFrame>,
) -> PolarsResult<TransformOutput> {
    let mut decoded = BTreeMap::new();
    for table in Table::ALL {
        // Exact duplicates within this run are dropped while decoding (only distinct lines are decoded);
        // each table's raw bytes are freed once decoded.
        decoded.insert(table, decode_distinct(table, &new.remove(&table).unwrap_or_default())?);
    }
    transform_decoded(decoded, prior)
}

/// [`transform`] from this run's inputs already decoded (by [`decode_distinct`] or
/// [`crate::decode::DistinctLines`]), per table; a table missing from `new` had no input.
pub fn transform_decoded(
    mut new: BTreeMap<Table, DistinctDecoded>,
    mut prior: BTreeMap<Table, DataFrame>,
) -> PolarsResult<TransformOutput> {
    let mut new_cleaned = BTreeMap::new();
    let mut all = BTreeMap::new();
    let mut quality = BTreeMap::new();
    let mut rejected = Vec::new();
    for table in Table::ALL {
        let DistinctDecoded { decoded, records_accepted } = match new.remove(&table) {
            Some(decoded) => decoded,
            None => decode_distinct(table, &[])?,
        };
        let mut counts = TableQuality::from_decoded(&decoded);
        counts.records_in = records_accepted + decoded.refused.len() as u64;
        let Decoded { frame: raw, refused, .. } = decoded;
        rejected.extend(refused.into_iter().map(|refused| refused.into_line_record(Stage::BatchTransform, table)));
        let earlier = match prior.remove(&table) {
            Some(frame) => frame,
            None => clean(table, raw.clear())?.frame,
        };
        let fresh = drop_seen(raw, &earlier)?;
        counts.duplicates_dropped = counts.records_in - counts.rejected_total() - fresh.height() as u64;
        let cleaned = clean(table, fresh)?;
        counts.records_cleaned = cleaned.frame.height() as u64;
        counts.nulls = cleaned.nulls;
        let mut everything = earlier;
        everything.vstack_mut(&cleaned.frame)?;
        all.insert(table, without_hash(&everything)?);
        new_cleaned.insert(table, cleaned.frame);
        quality.insert(table, counts);
    }
    let all_cleaned = CleanedTables {
        pin: all.remove(&Table::Pin).expect("pin"),
        geo: all.remove(&Table::Geo).expect("geo"),
        user: all.remove(&Table::User).expect("user"),
    };
    let results = run_queries(&all_cleaned)?;
    Ok(TransformOutput { new_cleaned, all_cleaned, results, quality, rejected })
}

/// Keeps the raw records (already free of duplicates among themselves) that are not in `earlier`.
fn drop_seen(unique: DataFrame, earlier: &DataFrame) -> PolarsResult<DataFrame> {
    if earlier.height() == 0 {
        return Ok(unique);
    }
    let seen = earlier.select([RAW_HASH_COLUMN])?;
    unique
        .lazy()
        .join(
            seen.lazy(),
            [col(RAW_HASH_COLUMN)],
            [col(RAW_HASH_COLUMN)],
            JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Anti) },
        )
        .collect()
}
