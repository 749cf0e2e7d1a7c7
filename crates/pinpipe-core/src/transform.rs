//! The batch computation: new raw records → drop exact duplicates (within the run and against the
//! record hashes of earlier runs) → clean → the queries. The batch driver (`pinpipe-batch`) feeds it
//! from the lake or from files and writes what it returns.
//!
//! Cleaning ([`clean_new`]) never holds earlier runs' rows: only their record hashes, as a lazy
//! frame Polars reads one column of. The queries ([`crate::queries`]) read the cleaned tables.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use pinpipe_contract::table::{Table, KEY_COLUMN, RAW_HASH_COLUMN};
use pinpipe_contract::{RejectedRecord, Stage};
use polars::prelude::*;
use polars::series::IsSorted;

use crate::clean::{clean, without_hash, NullCounts};
use crate::decode::{decode_distinct, hash_bits, Decoded, DistinctDecoded, PartMap, RawSource};
use crate::export::{csv_lines, CsvLines};
use crate::quality::TableQuality;
use crate::queries::{columns_read, run_queries, CleanedTables, Query};

/// What cleaning one run's new records gave.
#[derive(Debug, Default)]
pub struct CleanOutput {
    /// Per table, the rows this run adds (cleaned columns plus [`RAW_HASH_COLUMN`]; for a table cleaned while
    /// it was decoded, [`CleanWhileDecoding`], only the columns the queries read, in its keys' order).
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
    count_cleaned(counts, cleaned.frame.height(), &cleaned.nulls);
    Ok(cleaned.frame)
}

/// Adds `rows` cleaned with `nulls` to `counts` (see [`clean_counted`]).
fn count_cleaned(counts: &mut TableQuality, rows: usize, nulls: &NullCounts) {
    counts.records_cleaned += rows as u64;
    counts.nulls.add(nulls);
    counts.duplicates_dropped = counts.records_in - counts.rejected_total() - counts.records_cleaned;
}

/// Cleaning a table's records part by part as they are decoded ([`PartMap`]), for a caller that writes
/// the table's canonical CSV and keeps of its rows only the columns the queries read: each part's rows
/// are cleaned, their NULLs counted and their CSV lines made ([`csv_lines`]) while the part's text is
/// still in the cache, and of its columns only those read, 64 bits of the record hash and the lines are
/// kept. The table is never held whole as columns, and its CSV needs no gather of every column.
///
/// It gives what cleaning the whole table would ([`CleanOutput::add_table`]) when no two records share a
/// key and none equals another without being byte-identical (the case of real traffic: the key is the
/// post's); otherwise [`CleanWhileDecoding::finish`] says so, and the caller cleans the table whole.
pub struct CleanWhileDecoding {
    table: Table,
    parts: Arc<Mutex<PartsCleaned>>,
}

/// What the parts cleaned so far counted.
#[derive(Default)]
struct PartsCleaned {
    rows: usize,
    nulls: NullCounts,
}

impl CleanWhileDecoding {
    /// Nothing cleaned yet.
    pub fn new(table: Table) -> Self {
        CleanWhileDecoding { table, parts: Arc::default() }
    }

    /// The map each decoded part goes through. A part keeps only the low 64 bits of its record hashes
    /// ([`hash_bits`]): 8 bytes a record, not 32.
    pub fn part_map(&self) -> PolarsResult<PartMap> {
        let (table, parts) = (self.table, Arc::clone(&self.parts));
        let kept = columns_read(table)?;
        Ok(Arc::new(move |raw: DataFrame| {
            let cleaned = clean(table, raw)?;
            let lines = csv_lines(&without_hash(&cleaned.frame)?)?;
            let mut counted = parts.lock().unwrap_or_else(PoisonError::into_inner);
            counted.rows += cleaned.frame.height();
            counted.nulls.add(&cleaned.nulls);
            drop(counted);
            let mut part = cleaned.frame.select(kept.iter().cloned())?;
            part.with_column(hash_bits(cleaned.frame.column(RAW_HASH_COLUMN)?)?)?;
            part.with_column(lines)?;
            Ok(part)
        }))
    }

    /// Adds the table's records, decoded through [`CleanWhileDecoding::part_map`], to `output` as
    /// [`CleanOutput::add_table`] would have (only the columns the queries read, in key order), and gives
    /// their CSV lines in canonical order; or adds nothing and gives `None` when the table must be decoded
    /// again and cleaned whole (two records share a key, or records were dropped after their parts were
    /// cleaned and counted: equal ones that are not byte-identical, or distinct ones whose hashes share the
    /// 64 bits the parts keep).
    pub fn finish(self, decoded: DistinctDecoded, output: &mut CleanOutput) -> PolarsResult<Option<CsvLines>> {
        let PartsCleaned { rows, nulls } =
            std::mem::take(&mut *self.parts.lock().unwrap_or_else(PoisonError::into_inner));
        let frame = &decoded.decoded.frame;
        if rows != frame.height() {
            return Ok(None);
        }
        let Some(lines) = CsvLines::in_key_order(self.table, frame)? else { return Ok(None) };
        let DecodedTable { raw, quality: mut counts, rejected } = DecodedTable::of(self.table, decoded);
        count_cleaned(&mut counts, raw.height(), &nulls);
        output.rejected.extend(rejected);
        output.cleaned.insert(self.table, gathered_by_key(raw.select(columns_read(self.table)?)?, lines.order())?);
        output.quality.insert(self.table, counts);
        Ok(Some(lines))
    }
}

/// `rows` (in the parts they were decoded in) as one chunk per column, gathered in `order`, the order of
/// their keys ([`KEY_COLUMN`]), which Polars is told are sorted: it then joins two such tables on their keys
/// by merging them, with no hash table (every query joins pin to geo or user). The parts are made one chunk
/// first: a gather from hundreds of chunks looks up each row's chunk and copies its text.
fn gathered_by_key(mut rows: DataFrame, order: &IdxCa) -> PolarsResult<DataFrame> {
    rows.rechunk_mut_par();
    let mut rows = rows.take(order)?;
    let mut keys = rows.column(KEY_COLUMN)?.clone();
    keys.set_sorted_flag(IsSorted::Ascending);
    rows.with_column(keys)?;
    Ok(rows)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_gathered_by_key_are_one_chunk_each_and_their_keys_flagged_sorted() {
        let part =
            |keys: Vec<i32>, names: Vec<&str>| df!(KEY_COLUMN => keys, "name" => names).expect("a part of two columns");
        let mut rows = part(vec![30, 10], vec!["c", "a"]);
        rows.vstack_mut(&part(vec![20], vec!["b"])).unwrap();
        assert_eq!(rows.first_col_n_chunks(), 2);
        let order = rows.column(KEY_COLUMN).unwrap().as_materialized_series().arg_sort(SortOptions::default());

        let sorted = gathered_by_key(rows, &order).unwrap();
        let keys = sorted.column(KEY_COLUMN).unwrap();
        assert_eq!(keys.i32().unwrap().into_no_null_iter().collect::<Vec<_>>(), [10, 20, 30]);
        let names = sorted.column("name").unwrap();
        assert_eq!(names.str().unwrap().iter().flatten().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(keys.is_sorted_flag(), IsSorted::Ascending);
        assert!(sorted.columns().iter().all(|column| column.n_chunks() == 1));
    }
}
