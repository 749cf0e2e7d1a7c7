//! The batch over the lake: what the `batch-transform` Lambda runs each day.

use std::collections::{BTreeMap, HashSet};
use std::io::Cursor;
use std::sync::Arc;

use chrono::NaiveDate;
use pinpipe_contract::{layout, RejectedRecord, Table};
use pinpipe_core::export::parquet_bytes;
use pinpipe_core::transform::{transform, TransformOutput};
use pinpipe_lake::{get_many, ObjectMeta, ObjectStore};
use polars::prelude::*;

use crate::error::BatchError;
use crate::inputs::{read_raw_inputs, READ_CONCURRENCY};
use crate::manifest::{Manifest, Timings};
use crate::report::render_run;

/// How the daily batch compresses its Parquet (`cleaned/`, `results/`): zstd, for objects written
/// once a day and read many times.
pub const BATCH_COMPRESSION: ParquetCompression = ParquetCompression::Zstd(None);

/// One batch run over the lake for `run_date`.
///
/// It reads every raw object that no run of another date consumed (an object rewritten since it was
/// consumed counts as new: its records are read again and duplicates dropped), writes its cleaned rows
/// to `cleaned/<table>/run_date=<date>/`, records what it consumed in a ledger, and recomputes every
/// query over all cleaned data, then writes the manifest and the report (`results/<date>/report.html`).
/// Running a date again therefore replaces that date's own outputs with
/// the same bytes: re-runs and backfills never double or lose data.
pub async fn run_batch(store: Arc<dyn ObjectStore>, run_date: NaiveDate) -> Result<Manifest, BatchError> {
    let mut timings = Timings::start();
    let date = run_date.format("%Y-%m-%d").to_string();
    store.check().await?;

    let consumed_elsewhere = consumed_by_other_runs(store.as_ref(), &date).await?;
    let mut inputs = read_raw_inputs(store.as_ref(), &consumed_elsewhere).await?;
    let prior = read_prior_cleaned(store.as_ref(), &date).await?;
    timings.read_done();

    let sources = std::mem::take(&mut inputs.sources);
    let output = tokio::task::spawn_blocking(move || transform(sources, prior)).await??;
    timings.transform_done();

    write_outputs(store.as_ref(), &date, &output, &inputs.consumed).await?;
    let mut manifest = Manifest::of(date.clone(), inputs.consumed, inputs.skipped, &output);
    manifest.timings_ms = timings.finish();
    let manifest_json = json_bytes(&manifest);
    store.put(&layout::manifest_key(&date), manifest_json.clone().into()).await?;
    // The report last: the data it shows is written whatever happens to it.
    let report = render_run(&store.location(), &manifest_json, &output.results, &output.rejected)?;
    store.put(&layout::report_key(&date), report.into()).await?;
    Ok(manifest)
}

/// The raw objects (key, version) the ledgers of runs of other dates than `date` name.
async fn consumed_by_other_runs(store: &dyn ObjectStore, date: &str) -> Result<HashSet<(String, String)>, BatchError> {
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

/// Writes a run's cleaned parts, refused records, ledger and results, replacing the date's earlier ones.
async fn write_outputs(
    store: &dyn ObjectStore,
    date: &str,
    output: &TransformOutput,
    consumed: &[ObjectMeta],
) -> Result<(), BatchError> {
    for (table, frame) in &output.new_cleaned {
        let body = (frame.height() > 0).then(|| parquet_bytes(frame, BATCH_COMPRESSION)).transpose()?;
        put_or_delete(store, &layout::cleaned_part_key(*table, date), body).await?;
    }
    for table in Table::ALL {
        let of_table = output.rejected.iter().filter(|record| record.table == Some(table));
        let lines = RejectedRecord::to_json_lines(of_table);
        let body = (!lines.is_empty()).then(|| lines.into());
        put_or_delete(store, &layout::batch_rejected_key(date, table), body).await?;
    }
    store.put(&layout::consumed_key(date), json_bytes(&consumed).into()).await?;
    for (query, frame) in &output.results {
        store.put(&layout::result_key(date, query.id), parquet_bytes(frame, BATCH_COMPRESSION)?).await?;
    }
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

/// The cleaned parts of every run date but `run_date`, per table.
async fn read_prior_cleaned(store: &dyn ObjectStore, run_date: &str) -> Result<BTreeMap<Table, DataFrame>, BatchError> {
    let mut prior = BTreeMap::new();
    for table in Table::ALL {
        let keys: Vec<String> = store
            .list(&layout::cleaned_table_prefix(table))
            .await?
            .into_iter()
            .filter(|object| layout::run_date_of_cleaned_part(&object.key).is_some_and(|date| date != run_date))
            .map(|object| object.key)
            .collect();
        let mut frames = Vec::new();
        for (key, bytes) in keys.iter().zip(get_many(store, &keys, READ_CONCURRENCY).await?) {
            let frame = ParquetReader::new(Cursor::new(bytes))
                .finish()
                .map_err(|source| BatchError::CleanedPart { key: key.clone(), source })?;
            frames.push(frame);
        }
        if let Some(mut frame) = frames.pop() {
            for other in frames {
                frame.vstack_mut(&other)?;
            }
            prior.insert(table, frame);
        }
    }
    Ok(prior)
}

/// A value the batch writes as pretty JSON (plain data: serialising it cannot fail).
pub(crate) fn json_bytes(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("the batch writes plain JSON")
}
