//! The batch over the lake: what the `batch-transform` Lambda runs each day.
//!
//! A run cleans first ([`clean_run`]): it reads only the raw objects no run of another date consumed
//! and, of earlier dates, only the record hashes of the cleaned tables, and commits the date's
//! cleaned rows. Then the queries read the cleaned tables ([`query_run`]): every date's rows, only
//! the columns the SQL uses.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use pinpipe_contract::table::RAW_HASH_COLUMN;
use pinpipe_contract::{layout, RejectedRecord, Table};
use pinpipe_core::clean::without_hash;
use pinpipe_core::queries::{run_queries_on, Query};
use pinpipe_core::transform::{clean_decoded, CleanOutput};
use pinpipe_lake::{ObjectMeta, ObjectStore};
use polars::prelude::*;

use crate::error::BatchError;
use crate::inputs::{read_raw_inputs, table_of_raw_object};
use crate::manifest::{Manifest, Timings};
use crate::report::render_run;
use crate::tables::{open_result_tables, replace_results, replace_run_date, RunTable};

/// One batch run over the lake for `run_date`.
///
/// It reads every raw object that no run of another date consumed (an object rewritten since it was
/// consumed counts as new: its records are read again and duplicates dropped) and checks its records
/// against the record hashes of the other run dates; replaces the date's partition of each cleaned
/// table (`cleaned/<table>`) and query table (`results/<query>`) in one commit per table, records
/// what it consumed in a ledger, and writes the manifest and the report (`runs/<date>/`). Running a
/// date again therefore replaces that date's own data: re-runs and backfills never double or lose
/// data, and two runs at once (of any dates) cannot both commit ([`BatchError::ConcurrentRun`]).
pub async fn run_batch(store: Arc<dyn ObjectStore>, run_date: NaiveDate) -> Result<Manifest, BatchError> {
    // The result tables are opened before the run reads anything (as `clean_run` opens the cleaned
    // tables): a run that commits to one after that makes this run's commit conflict.
    let result_tables = open_result_tables(store.as_ref(), &run_date.format("%Y-%m-%d").to_string()).await?;
    let run = clean_run(store.as_ref(), run_date).await?;
    query_run(store.as_ref(), run, result_tables).await
}

/// A run whose cleaning is committed, with what its queries need.
struct CleanedRun {
    date: String,
    manifest: Manifest,
    timings: Timings,
    rejected: Vec<RejectedRecord>,
    /// Per table: the rows of every date, as this run's rows and a scan of the others'.
    cleaned: BTreeMap<Table, LazyFrame>,
}

/// Cleans the raw objects no run of another date consumed and commits them as the date's partition
/// of the cleaned tables, with the refused records and the ledger.
async fn clean_run(store: &dyn ObjectStore, run_date: NaiveDate) -> Result<CleanedRun, BatchError> {
    let mut timings = Timings::start();
    let date = run_date.format("%Y-%m-%d").to_string();
    store.check().await?;
    // The cleaned tables are opened before anything is read: a run that committed to one before is
    // in the snapshot whose hashes this run checks against; one that commits after makes this run's
    // commit conflict.
    let mut cleaned_tables = BTreeMap::new();
    for table in Table::ALL {
        cleaned_tables.insert(table, RunTable::open(store, &layout::cleaned_table(table), &date).await?);
    }
    let consumed_elsewhere = consumed_by_other_runs(store, &date).await?;
    let mut inputs = read_raw_inputs(store, &consumed_elsewhere).await?;
    let mut earlier = BTreeMap::new();
    for (table, opened) in &cleaned_tables {
        if let Some(scan) = match opened {
            Some(opened) => opened.scan_other_dates(&date).await?,
            None => None,
        } {
            earlier.insert(*table, scan);
        }
    }
    timings.mark("read");

    let decoded = std::mem::take(&mut inputs.decoded);
    let seen: BTreeMap<Table, LazyFrame> =
        earlier.iter().map(|(table, scan)| (*table, scan.clone().select([col(RAW_HASH_COLUMN)]))).collect();
    let (output, earlier_rows, earlier) = tokio::task::spawn_blocking(move || {
        let output = clean_decoded(decoded, seen)?;
        let earlier_rows = earlier
            .iter()
            .map(|(table, scan)| Ok((*table, row_count(scan)?)))
            .collect::<PolarsResult<BTreeMap<Table, u64>>>()?;
        PolarsResult::Ok((output, earlier_rows, earlier))
    })
    .await??;
    timings.mark("transform");

    let CleanOutput { cleaned: new_cleaned, quality, rejected } = output;
    write_cleaned(store, &date, &new_cleaned, &rejected, &inputs.consumed, cleaned_tables).await?;
    let mut manifest = Manifest::of(date.clone(), inputs.consumed, inputs.skipped, quality);
    let mut cleaned = BTreeMap::new();
    for (table, frame) in new_cleaned {
        let rows = without_hash(&frame)?;
        let earlier_count = earlier_rows.get(&table).copied().unwrap_or(0);
        manifest.earlier_hashes_checked.insert(table, earlier_count);
        manifest.cleaned_rows_total.insert(table, earlier_count + rows.height() as u64);
        let all = match earlier.get(&table) {
            Some(scan) => {
                // The files hold Delta's types (e.g. no small integers): read as this run's columns.
                let as_cleaned: Vec<Expr> =
                    rows.schema().iter().map(|(name, dtype)| col(name.clone()).cast(dtype.clone())).collect();
                concat([scan.clone().select(as_cleaned), rows.lazy()], UnionArgs::default())?
            }
            None => rows.lazy(),
        };
        cleaned.insert(table, all);
    }
    timings.mark("write");
    Ok(CleanedRun { date, manifest, timings, rejected, cleaned })
}

/// Runs the queries in the process over every date's cleaned rows and commits each result as the
/// date's partition of its table (`result_tables` as the run found them when it started), then
/// writes the manifest and the report.
async fn query_run(
    store: &dyn ObjectStore,
    run: CleanedRun,
    result_tables: Vec<Option<RunTable>>,
) -> Result<Manifest, BatchError> {
    let CleanedRun { date, mut manifest, mut timings, rejected, mut cleaned } = run;
    let mut take = |table| cleaned.remove(&table).expect("every table is cleaned");
    let (pin, geo, user) = (take(Table::Pin), take(Table::Geo), take(Table::User));
    let results = tokio::task::spawn_blocking(move || run_queries_on(pin, geo, user)).await??;
    timings.mark("query");

    replace_results(store, &date, &results, result_tables, &manifest.inputs).await?;
    manifest.count_results(&results);
    timings.mark("write");
    manifest.timings_ms = timings.finish();
    write_run_record(store, &manifest, &results, &rejected).await?;
    Ok(manifest)
}

/// The rows a scan holds (Parquet metadata: no column is read).
pub(crate) fn row_count(scan: &LazyFrame) -> PolarsResult<u64> {
    let counted = scan.clone().select([len()]).collect()?;
    Ok(counted.column("len")?.u32()?.get(0).unwrap_or(0).into())
}

/// The manifest and the report of a run (`runs/<date>/`), the report last: the data it shows is
/// written whatever happens to it.
pub(crate) async fn write_run_record(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    results: &[(Query, DataFrame)],
    rejected: &[RejectedRecord],
) -> Result<(), BatchError> {
    let manifest_json = json_bytes(manifest);
    store.put(&layout::manifest_key(&manifest.run_date), manifest_json.clone().into()).await?;
    let report = render_run(&store.location(), &manifest_json, results, rejected)?;
    store.put(&layout::report_key(&manifest.run_date), report.into()).await?;
    Ok(())
}

/// The raw objects (key, version) the ledgers of runs of other dates than `date` name.
pub(crate) async fn consumed_by_other_runs(
    store: &dyn ObjectStore,
    date: &str,
) -> Result<HashSet<(String, String)>, BatchError> {
    let mut consumed = HashSet::new();
    for ledger in store.list(layout::CONSUMED_PREFIX).await? {
        if layout::run_date_of_consumed(&ledger.key) == Some(date) {
            continue;
        }
        let objects: Vec<ObjectMeta> = serde_json::from_slice(&store.get(&ledger.key).await?)
            .map_err(|source| BatchError::Ledger { key: ledger.key.clone(), source })?;
        consumed.extend(objects.into_iter().map(|object| (object.key, object.version)));
    }
    Ok(consumed)
}

/// Writes a run's cleaned rows (replacing the date's earlier ones), refused records and ledger.
async fn write_cleaned(
    store: &dyn ObjectStore,
    date: &str,
    cleaned: &BTreeMap<Table, DataFrame>,
    rejected: &[RejectedRecord],
    consumed: &[ObjectMeta],
    mut cleaned_tables: BTreeMap<Table, Option<RunTable>>,
) -> Result<(), BatchError> {
    for (table, frame) in cleaned {
        let opened = cleaned_tables.remove(table).flatten();
        let path = layout::cleaned_table(*table);
        replace_run_date(store, &path, opened, date, frame, &of_table(consumed, *table)).await?;
    }
    write_rejected_and_ledger(store, date, rejected, consumed).await
}

/// The raw objects of `consumed` whose records belong to `table`.
pub(crate) fn of_table(consumed: &[ObjectMeta], table: Table) -> Vec<&ObjectMeta> {
    consumed.iter().filter(|object| table_of_raw_object(&object.key) == Ok(table)).collect()
}

/// Writes a run's refused records (replacing the date's earlier ones) and its ledger of consumed
/// objects, once its cleaned rows are committed.
pub(crate) async fn write_rejected_and_ledger(
    store: &dyn ObjectStore,
    date: &str,
    rejected: &[RejectedRecord],
    consumed: &[ObjectMeta],
) -> Result<(), BatchError> {
    for table in Table::ALL {
        let of_table = rejected.iter().filter(|record| record.table == Some(table));
        let lines = RejectedRecord::to_json_lines(of_table);
        let body = (!lines.is_empty()).then(|| lines.into());
        put_or_delete(store, &layout::batch_rejected_key(date, table), body).await?;
    }
    store.put(&layout::consumed_key(date), json_bytes(&consumed).into()).await?;
    Ok(())
}

/// Puts `body` at `key`, or removes what an earlier run of the date left there when there is none.
async fn put_or_delete(store: &dyn ObjectStore, key: &str, body: Option<bytes::Bytes>) -> Result<(), BatchError> {
    match body {
        Some(body) => store.put(key, body).await?,
        None => store.delete(key).await?,
    }
    Ok(())
}

/// A value the batch writes as pretty JSON (plain data: serialising it cannot fail).
pub(crate) fn json_bytes(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("the batch writes plain JSON")
}
