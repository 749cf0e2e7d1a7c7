//! The clean stage fanned out over a day's raw objects (template `QueryEngine=Athena`), so that no
//! invocation holds more than a part of the day. Three steps of the batch state machine:
//!
//! 1. [`plan_clean`]: lists the raw objects no run of another date consumed, splits them in key
//!    order into parts of at most [`CleanParts::part_bytes`], and stages the plan;
//! 2. [`decode_part`], one invocation per part, all at once (a Distributed Map): reads and decodes
//!    the part's objects (duplicates among them dropped as in a whole run) and stages each table's
//!    distinct records as Parquet, with the decoding's counts and refused lines;
//! 3. [`clean_parts`] (the clean stage, [`crate::clean_for_athena`]): drops the records that
//!    duplicate a record of an earlier part or of an earlier date by their record hashes alone
//!    (16 bytes a record), then cleans and writes the parts one at a time and commits them as the
//!    date's partition of each cleaned table, as a whole run does; the staged files are deleted.
//!
//! A record kept is the first of its copies in key order, as in a whole run, so the committed rows
//! and every count are those a whole run of the same objects gives.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pinpipe_contract::table::RAW_HASH_COLUMN;
use pinpipe_contract::{layout, RejectedRecord, Table};
use pinpipe_core::quality::TableQuality;
use pinpipe_core::transform::{clean_counted, cleaned_schema, DecodedTable};
use pinpipe_lake::{ObjectMeta, ObjectStore, Url};
use pinpipe_tables::scan_parquet;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::BatchError;
use crate::inputs::{decode_objects, new_raw_objects};
use crate::lake::{consumed_by_other_runs, json_bytes, of_table, row_count, write_rejected_and_ledger};
use crate::manifest::{Manifest, SkippedInput, Timings};
use crate::tables::{RunDateWrite, RunTable};

/// The variable that sets [`CleanParts::part_bytes`], in MB (default [`DEFAULT_PART_MB`]).
pub const PART_MB_VAR: &str = "CLEAN_PART_MB";

/// Raw bytes a part holds at most by default: a day of a million mostly distinct records per table
/// (967 MB) is one part, which a 4,096 MB function decodes (BENCHMARKS.md).
pub const DEFAULT_PART_MB: u64 = 1024;

/// How the clean stage splits a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanParts {
    /// Raw bytes a part holds at most (an object larger than this is a part of its own).
    pub part_bytes: u64,
}

impl Default for CleanParts {
    fn default() -> Self {
        CleanParts { part_bytes: DEFAULT_PART_MB << 20 }
    }
}

impl CleanParts {
    /// The split the environment asks for: [`PART_MB_VAR`], else the default.
    pub fn from_env() -> Result<Self, BatchError> {
        match std::env::var(PART_MB_VAR) {
            Ok(value) if !value.trim().is_empty() => match value.trim().parse::<u64>() {
                Ok(mb) if mb > 0 => Ok(CleanParts { part_bytes: mb << 20 }),
                _ => Err(BatchError::PartSize(value)),
            },
            _ => Ok(CleanParts::default()),
        }
    }
}

/// What the plan step answers the state machine: the run and its parts, one decoding each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanPlan {
    /// The run date.
    pub run_date: String,
    /// The run's id: where its parts are staged.
    pub run_id: String,
    /// The parts' numbers, `0..n` (none for a day with nothing new).
    pub parts: Vec<usize>,
}

/// What decoding one part answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartDecoded {
    /// The part's number.
    pub part: usize,
    /// Raw objects it read.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct records it staged, all tables together.
    pub distinct_records: u64,
}

/// The plan as staged for the other steps.
#[derive(Debug, Serialize, Deserialize)]
struct StagedPlan {
    /// Per cleaned table, the batch runs (of any date) its snapshot held when the plan was made: if
    /// another run commits before the clean stage, that stage fails rather than take an object twice.
    batch_runs: BTreeMap<Table, u64>,
    /// The raw objects of each part, in key order.
    parts: Vec<Vec<ObjectMeta>>,
    /// Objects under the raw prefix that are not raw records of a table.
    skipped: Vec<SkippedInput>,
}

/// What decoding a part counted, staged beside its records.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StagedDecoding {
    /// Per table: records in, refused and invalid values (every copy).
    quality: BTreeMap<Table, TableQuality>,
    /// The part's refused lines.
    rejected: Vec<RejectedRecord>,
}

/// Step 1: plans a fanned-out clean of `run_date` (see the module) and stages the plan.
pub async fn plan_clean(
    store: &dyn ObjectStore,
    run_date: NaiveDate,
    parts: CleanParts,
) -> Result<CleanPlan, BatchError> {
    let date = run_date.format("%Y-%m-%d").to_string();
    store.check().await?;
    // The tables' run counts are read before the ledgers, as a whole run opens its tables first.
    let mut batch_runs = BTreeMap::new();
    for table in Table::ALL {
        let opened = RunTable::open(store, &layout::cleaned_table(table), &date).await?;
        batch_runs.insert(table, opened.map_or(0, |opened| opened.all_runs()));
    }
    let consumed_elsewhere = consumed_by_other_runs(store, &date).await?;
    let (objects, skipped) = new_raw_objects(store, &consumed_elsewhere).await?;
    let parts = split_into_parts(objects, parts.part_bytes);
    let run_id = uuid::Uuid::new_v4().to_string();
    let numbers = (0..parts.len()).collect();
    let plan = StagedPlan { batch_runs, parts, skipped };
    store.put(&layout::staged_plan_key(&date, &run_id), json_bytes(&plan).into()).await?;
    Ok(CleanPlan { run_date: date, run_id, parts: numbers })
}

/// Consecutive runs of `objects` of at most `part_bytes` each (an object larger alone).
fn split_into_parts(objects: Vec<ObjectMeta>, part_bytes: u64) -> Vec<Vec<ObjectMeta>> {
    let mut parts: Vec<Vec<ObjectMeta>> = Vec::new();
    let mut bytes = 0;
    for object in objects {
        match parts.last_mut() {
            Some(part) if bytes + object.size <= part_bytes => {
                bytes += object.size;
                part.push(object);
            }
            _ => {
                bytes = object.size;
                parts.push(vec![object]);
            }
        }
    }
    parts
}

/// Step 2: decodes part `part` of the run `run_id` of `run_date` and stages what it gave.
pub async fn decode_part(
    store: &dyn ObjectStore,
    run_date: NaiveDate,
    run_id: &str,
    part: usize,
) -> Result<PartDecoded, BatchError> {
    let date = run_date.format("%Y-%m-%d").to_string();
    let plan = read_plan(store, &date, run_id).await?;
    let objects = plan.parts.get(part).ok_or_else(|| BatchError::NoPart {
        run_date: date.clone(),
        run_id: run_id.to_string(),
        part,
        parts: plan.parts.len(),
    })?;
    let mut staged = StagedDecoding::default();
    let mut distinct_records = 0;
    for (table, decoded) in decode_objects(store, objects).await? {
        let DecodedTable { raw, quality, rejected } = DecodedTable::of(table, decoded);
        distinct_records += raw.height() as u64;
        let body = tokio::task::spawn_blocking(move || parquet_bytes(raw)).await??;
        store.put(&layout::staged_records_key(&date, run_id, part, table), body.into()).await?;
        staged.quality.insert(table, quality);
        staged.rejected.extend(rejected);
    }
    store.put(&layout::staged_decoded_key(&date, run_id, part), json_bytes(&staged).into()).await?;
    let bytes = objects.iter().map(|object| object.size).sum();
    Ok(PartDecoded { part, objects: objects.len(), bytes, distinct_records })
}

/// A frame as Parquet (LZ4: staged once, read once).
fn parquet_bytes(mut frame: DataFrame) -> PolarsResult<Vec<u8>> {
    let mut body = Vec::new();
    ParquetWriter::new(&mut body).with_compression(ParquetCompression::Lz4Raw).finish(&mut frame)?;
    Ok(body)
}

/// Step 3: drops duplicates across the staged parts of the run `run_id` and against earlier dates,
/// cleans and commits the parts (see the module), writes the refused records and the ledger, and
/// deletes the staged files. Gives the run's manifest (without results).
pub(crate) async fn clean_parts(
    store: &dyn ObjectStore,
    run_date: NaiveDate,
    run_id: &str,
) -> Result<Manifest, BatchError> {
    let mut timings = Timings::start();
    let date = run_date.format("%Y-%m-%d").to_string();
    let plan = read_plan(store, &date, run_id).await?;
    let mut opened = BTreeMap::new();
    for table in Table::ALL {
        let table_now = RunTable::open(store, &layout::cleaned_table(table), &date).await?;
        if table_now.as_ref().map_or(0, RunTable::all_runs) != plan.batch_runs.get(&table).copied().unwrap_or(0) {
            return Err(BatchError::ConcurrentRun { run_date: date, table: layout::cleaned_table(table) });
        }
        opened.insert(table, table_now);
    }
    let mut quality: BTreeMap<Table, TableQuality> = BTreeMap::new();
    let mut rejected = Vec::new();
    for part in 0..plan.parts.len() {
        let key = layout::staged_decoded_key(&date, run_id, part);
        let decoding: StagedDecoding = read_json(store, &key).await?;
        for (table, counts) in &decoding.quality {
            quality.entry(*table).or_default().add_decoded(counts);
        }
        rejected.extend(decoding.rejected);
    }
    timings.mark("read");

    let StagedPlan { parts, skipped, .. } = plan;
    let mut manifest = Manifest::of(date.clone(), parts.concat(), skipped, BTreeMap::new());
    for (table, opened) in opened {
        let keys: Vec<String> =
            (0..parts.len()).map(|part| layout::staged_records_key(&date, run_id, part, table)).collect();
        let earlier = match &opened {
            Some(opened) => opened.scan_other_dates(&date).await?,
            None => None,
        };
        let (url, scan_keys, earlier_scan) = (store.url(), keys.clone(), earlier.clone());
        let (kept, earlier_rows) = tokio::task::spawn_blocking(move || {
            let kept = kept_rows(&url, &scan_keys, earlier_scan.clone())?;
            let earlier_rows = earlier_scan.as_ref().map(row_count).transpose()?.unwrap_or(0);
            Ok::<_, BatchError>((kept, earlier_rows))
        })
        .await??;
        let schema = tokio::task::spawn_blocking(move || cleaned_schema(table)).await??;
        let mut counts = quality.remove(&table).unwrap_or_default();
        let mut write = RunDateWrite::start(store, &layout::cleaned_table(table), opened, &date, &schema).await?;
        for (key, rows) in keys.into_iter().zip(kept) {
            let url = store.url();
            let (cleaned, counted) = tokio::task::spawn_blocking(move || {
                let part = scan_parquet(&url, &[key])?.collect()?;
                let fresh = part.take(&IdxCa::from_vec(PlSmallStr::EMPTY, rows))?;
                let cleaned = clean_counted(table, fresh, &mut counts)?;
                Ok::<_, BatchError>((cleaned, counts))
            })
            .await??;
            counts = counted;
            if cleaned.height() > 0 {
                write.file(&cleaned).await?;
            }
        }
        write.commit(&of_table(&manifest.inputs, table)).await?;
        manifest.earlier_hashes_checked.insert(table, earlier_rows);
        manifest.cleaned_rows_total.insert(table, earlier_rows + counts.records_cleaned);
        manifest.tables.insert(table, counts);
    }
    timings.mark("transform");

    write_rejected_and_ledger(store, &date, &rejected, &manifest.inputs).await?;
    for staged in store.list(&layout::staging_prefix(&date, run_id)).await? {
        store.delete(&staged.key).await?;
    }
    timings.mark("write");
    manifest.timings_ms = timings.finish();
    Ok(manifest)
}

const PART: &str = "__part";
const ROW: &str = "__row";

/// For each staged part (Parquet files at `keys` under `url`, in order), the rows to keep: the first
/// of each record hash across the parts, unless `earlier` (the earlier dates' rows) holds it. Reads
/// the hash column only.
fn kept_rows(url: &Url, keys: &[String], earlier: Option<LazyFrame>) -> Result<Vec<Vec<IdxSize>>, BatchError> {
    let mut hashes = Vec::with_capacity(keys.len());
    for (part, key) in keys.iter().enumerate() {
        let scan = scan_parquet(url, std::slice::from_ref(key))?;
        hashes.push(
            scan.select([col(RAW_HASH_COLUMN)])
                .with_row_index(ROW, None)
                .with_column(lit(part as u32).cast(DataType::UInt32).alias(PART)),
        );
    }
    let mut kept = vec![Vec::new(); keys.len()];
    if hashes.is_empty() {
        return Ok(kept);
    }
    let mut hashes = concat(hashes, UnionArgs::default())?;
    if let Some(earlier) = earlier {
        let hash = || [col(RAW_HASH_COLUMN)];
        let anti = JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Anti) };
        hashes = hashes.join(earlier.select(hash()), hash(), hash(), anti);
    }
    let first = hashes
        .unique_stable(Some(cols([RAW_HASH_COLUMN])), UniqueKeepStrategy::First)
        .select([col(PART), col(ROW)])
        .collect()?;
    for (part, row) in first.column(PART)?.u32()?.into_no_null_iter().zip(first.column(ROW)?.idx()?.into_no_null_iter())
    {
        kept[part as usize].push(row);
    }
    Ok(kept)
}

/// The staged plan of the run `run_id` of `date`.
async fn read_plan(store: &dyn ObjectStore, date: &str, run_id: &str) -> Result<StagedPlan, BatchError> {
    if uuid::Uuid::try_parse(run_id).is_err() {
        return Err(BatchError::RunId(run_id.to_string()));
    }
    read_json(store, &layout::staged_plan_key(date, run_id)).await
}

/// A staged JSON object.
async fn read_json<T: serde::de::DeserializeOwned>(store: &dyn ObjectStore, key: &str) -> Result<T, BatchError> {
    serde_json::from_slice(&store.get(key).await?).map_err(|source| BatchError::Staged { key: key.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_key_order_and_hold_at_most_the_bytes_asked() {
        let object = |key: &str, size| ObjectMeta { key: key.into(), size, version: String::new() };
        let objects = vec![object("a", 40), object("b", 50), object("c", 20), object("d", 150), object("e", 10)];
        let parts = split_into_parts(objects, 100);
        let keys: Vec<Vec<&str>> = parts.iter().map(|part| part.iter().map(|o| o.key.as_str()).collect()).collect();
        // An object larger than a part is a part of its own.
        assert_eq!(keys, [vec!["a", "b"], vec!["c"], vec!["d"], vec!["e"]]);
        assert!(split_into_parts(Vec::new(), 100).is_empty());
    }
}
