//! The batch computation: new raw records → drop exact duplicates (within the run and against the
//! record hashes of earlier runs) → clean → the queries. The batch driver (`pinpipe-batch`) feeds it
//! from the lake or from files and writes what it returns.
//!
//! Cleaning ([`clean_new`]) never holds earlier runs' rows: only their record hashes, as a lazy
//! frame Polars reads one column of. The queries ([`crate::queries`]) read the cleaned tables.

use std::collections::BTreeMap;

use pinpipe_contract::table::{Table, RAW_HASH_COLUMN};
use pinpipe_contract::{RejectedRecord, Stage};
use polars::prelude::*;

use crate::clean::{clean, without_hash};
use crate::decode::{decode_distinct, Decoded, DistinctDecoded, RawSource};
use crate::quality::TableQuality;
use crate::queries::{columns_read, run_queries, CleanedTables, Query};

/// What cleaning one run's new records gave.
#[derive(Debug, Default)]
pub struct CleanOutput {
    /// Per table, the rows this run adds (cleaned columns plus [`RAW_HASH_COLUMN`]).
    pub cleaned: BTreeMap<Table, DataFrame>,
    /// Per-table counts of this run.
    pub quality: BTreeMap<Table, TableQuality>,
    /// The records this run refused, as lines of `rejected/batch-transform/`.
    pub rejected: Vec<RejectedRecord>,
}

/// What one run over files computed: its cleaning and every query over the rows it cleaned.
#[derive(Debug)]
pub struct TransformOutput {
    /// The cleaned rows, without the hash column.
    pub all_cleaned: CleanedTables,
    /// Every query's result, in canonical order.
    pub results: Vec<(Query, DataFrame)>,
    /// Per-table counts of this run.
    pub quality: BTreeMap<Table, TableQuality>,
    /// The records this run refused.
    pub rejected: Vec<RejectedRecord>,
}

/// Cleans a run's raw inputs (`new`, per table). A record whose hash `seen` holds (a frame with the
/// [`RAW_HASH_COLUMN`] of earlier runs' rows, per table) is an exact duplicate and is dropped, as are
/// repeats within `new`.
pub fn clean_new(
    mut new: BTreeMap<Table, Vec<RawSource>>,
    seen: BTreeMap<Table, LazyFrame>,
) -> PolarsResult<CleanOutput> {
    let mut decoded = BTreeMap::new();
    for table in Table::ALL {
        // Exact duplicates within this run are dropped while decoding (only distinct lines are decoded);
        // each table's raw bytes are freed once decoded.
        decoded.insert(table, decode_distinct(table, &new.remove(&table).unwrap_or_default())?);
    }
    clean_decoded(decoded, seen)
}

/// [`clean_new`] from inputs already decoded (by [`decode_distinct`] or
/// [`crate::decode::DistinctLines`]), per table; a table missing from `new` had no input.
pub fn clean_decoded(
    mut new: BTreeMap<Table, DistinctDecoded>,
    mut seen: BTreeMap<Table, LazyFrame>,
) -> PolarsResult<CleanOutput> {
    let mut output = CleanOutput::default();
    for table in Table::ALL {
        output.add_table(table, take_decoded(&mut new, table)?, seen.remove(&table))?;
    }
    Ok(output)
}

/// `table`'s decoded inputs taken out of `decoded` (what decoding no input gives, if it has none).
pub fn take_decoded(decoded: &mut BTreeMap<Table, DistinctDecoded>, table: Table) -> PolarsResult<DistinctDecoded> {
    match decoded.remove(&table) {
        Some(decoded) => Ok(decoded),
        None => decode_distinct(table, &[]),
    }
}

impl CleanOutput {
    /// Keeps of `table`'s cleaned rows only the columns the queries read ([`columns_read`]): for a
    /// caller that has written the rest out (the table's canonical CSV) and stores no record hashes.
    pub fn keep_columns_read(&mut self, table: Table) -> PolarsResult<()> {
        if let Some(frame) = self.cleaned.get_mut(&table) {
            *frame = frame.select(columns_read(table)?)?;
        }
        Ok(())
    }

    /// Cleans one table's decoded records and adds them: records whose hash `seen` holds (a frame with
    /// the [`RAW_HASH_COLUMN`] of earlier runs' rows) are dropped as duplicates. A caller that decodes
    /// table by table cleans each as soon as it is decoded, so that its raw frame is gone before the
    /// next table is decoded.
    pub fn add_table(&mut self, table: Table, decoded: DistinctDecoded, seen: Option<LazyFrame>) -> PolarsResult<()> {
        let DecodedTable { raw, quality: mut counts, rejected } = DecodedTable::of(table, decoded);
        self.rejected.extend(rejected);
        let fresh = match seen {
            Some(seen) => drop_seen(raw, seen)?,
            None => raw,
        };
        self.cleaned.insert(table, clean_counted(table, fresh, &mut counts)?);
        self.quality.insert(table, counts);
        Ok(())
    }
}

/// One table's decoded records as cleaning takes them: the distinct raw rows, what decoding counted
/// (every copy of a record), and the refused lines as rejected records.
#[derive(Debug)]
pub struct DecodedTable {
    /// The distinct records (raw columns plus [`RAW_HASH_COLUMN`]).
    pub raw: DataFrame,
    /// Records in, refused and invalid values; nothing cleaned yet.
    pub quality: TableQuality,
    /// The refused lines, as lines of `rejected/batch-transform/`.
    pub rejected: Vec<RejectedRecord>,
}

impl DecodedTable {
    /// Splits what [`decode_distinct`] (or [`crate::decode::DistinctLines`]) gave for `table`.
    pub fn of(table: Table, decoded: DistinctDecoded) -> Self {
        let DistinctDecoded { decoded, records_accepted } = decoded;
        let mut quality = TableQuality::from_decoded(&decoded);
        quality.records_in = records_accepted + decoded.refused.len() as u64;
        let Decoded { frame: raw, refused, .. } = decoded;
        let rejected =
            refused.into_iter().map(|refused| refused.into_line_record(Stage::BatchTransform, table)).collect();
        DecodedTable { raw, quality, rejected }
    }
}

/// Cleans `fresh`, records of `table` that duplicate no record kept before, adding what the cleaning
/// gave to `counts` (which hold the decoding's counts of every record the fresh ones were kept from:
/// the rest of them are the duplicates dropped). A run may clean its records in several parts.
pub fn clean_counted(table: Table, fresh: DataFrame, counts: &mut TableQuality) -> PolarsResult<DataFrame> {
    let cleaned = clean(table, fresh)?;
    counts.records_cleaned += cleaned.frame.height() as u64;
    counts.nulls.add(&cleaned.nulls);
    counts.duplicates_dropped = counts.records_in - counts.rejected_total() - counts.records_cleaned;
    Ok(cleaned.frame)
}

/// The columns of `table`'s cleaned rows, [`RAW_HASH_COLUMN`] last (those of cleaning no records).
pub fn cleaned_schema(table: Table) -> PolarsResult<Schema> {
    let none = DecodedTable::of(table, decode_distinct(table, &[])?);
    Ok(clean(table, none.raw)?.frame.schema().as_ref().clone())
}

/// The whole computation of one run over files, with no earlier runs: cleaning, then every query
/// over the rows cleaned.
pub fn transform(new: BTreeMap<Table, Vec<RawSource>>) -> PolarsResult<TransformOutput> {
    with_queries(clean_new(new, BTreeMap::new())?)
}

/// The computation of a run over files once its records are cleaned: every query over the rows
/// cleaned (every table cleaned, see [`CleanOutput::add_table`]).
pub fn with_queries(cleaned: CleanOutput) -> PolarsResult<TransformOutput> {
    let CleanOutput { cleaned: mut tables, quality, rejected } = cleaned;
    let mut take = |table| without_hash(&tables.remove(&table).expect("every table is cleaned"));
    let all_cleaned = CleanedTables { pin: take(Table::Pin)?, geo: take(Table::Geo)?, user: take(Table::User)? };
    let results = run_queries(&all_cleaned)?;
    Ok(TransformOutput { all_cleaned, results, quality, rejected })
}

/// Keeps the raw records (already free of duplicates among themselves) whose hash is not in `seen`.
fn drop_seen(unique: DataFrame, seen: LazyFrame) -> PolarsResult<DataFrame> {
    if unique.height() == 0 {
        return Ok(unique);
    }
    unique
        .lazy()
        .join(
            seen.select([col(RAW_HASH_COLUMN)]),
            [col(RAW_HASH_COLUMN)],
            [col(RAW_HASH_COLUMN)],
            JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Anti) },
        )
        .collect()
}
