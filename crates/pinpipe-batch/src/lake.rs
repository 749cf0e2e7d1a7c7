//! The batch over the lake: what the `batch-transform` Lambda runs each day.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use pinpipe_contract::{layout, names, RejectedRecord, Table};
use pinpipe_core::queries::QUERIES;
use pinpipe_core::transform::{transform, TransformOutput};
use pinpipe_lake::{ObjectMeta, ObjectStore};

use crate::error::BatchError;
use crate::inputs::read_raw_inputs;
use crate::manifest::{Manifest, Timings};
use crate::report::render_run;
use crate::tables::{replace_run_date, RunTable};

/// One batch run over the lake for `run_date`.
///
/// It reads every raw object that no run of another date consumed (an object rewritten since it was
/// consumed counts as new: its records are read again and duplicates dropped), and the cleaned rows
/// of the other run dates through the tables' logs; replaces the date's partition of each cleaned
/// table (`cleaned/<table>`) and query table (`results/<query>`) in one commit per table, records
/// what it consumed in a ledger, and writes the manifest and the report (`runs/<date>/`). Running a
/// date again therefore replaces that date's own data: re-runs and backfills never double or lose
/// data, and two runs of one date at once cannot both commit ([`BatchError::ConcurrentRun`]).
pub async fn run_batch(store: Arc<dyn ObjectStore>, run_date: NaiveDate) -> Result<Manifest, BatchError> {
    let mut timings = Timings::start();
    let date = run_date.format("%Y-%m-%d").to_string();
    store.check().await?;

    let consumed_elsewhere = consumed_by_other_runs(store.as_ref(), &date).await?;
    let mut inputs = read_raw_inputs(store.as_ref(), &consumed_elsewhere).await?;
    let mut cleaned_tables = BTreeMap::new();
    let mut prior = BTreeMap::new();
    for table in Table::ALL {
        let opened = RunTable::open(store.as_ref(), &layout::cleaned_table(table), &date).await?;
        if let Some(opened) = &opened {
            prior.insert(table, opened.read_other_dates(&date).await?);
        }
        cleaned_tables.insert(table, opened);
    }
    let mut result_tables = Vec::with_capacity(QUERIES.len());
    for query in QUERIES {
        result_tables.push(RunTable::open(store.as_ref(), &layout::result_table(query.id), &date).await?);
    }
    timings.read_done();

    let sources = std::mem::take(&mut inputs.sources);
    let output = tokio::task::spawn_blocking(move || transform(sources, prior)).await??;
    timings.transform_done();

    write_outputs(store.as_ref(), &date, &output, &inputs.consumed, cleaned_tables, result_tables).await?;
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

/// Writes a run's cleaned rows, refused records, ledger and results, replacing the date's earlier ones.
async fn write_outputs(
    store: &dyn ObjectStore,
    date: &str,
    output: &TransformOutput,
    consumed: &[ObjectMeta],
    mut cleaned_tables: BTreeMap<Table, Option<RunTable>>,
    result_tables: Vec<Option<RunTable>>,
) -> Result<(), BatchError> {
    for (table, frame) in &output.new_cleaned {
        let of_table: Vec<&ObjectMeta> = consumed
            .iter()
            .filter(|object| {
                layout::parse_raw_key(&object.key).and_then(|raw| names::table_of_any_topic(&raw.topic)) == Some(*table)
            })
            .collect();
        let opened = cleaned_tables.remove(table).flatten();
        replace_run_date(store, &layout::cleaned_table(*table), opened, date, frame, &of_table).await?;
    }
    for table in Table::ALL {
        let of_table = output.rejected.iter().filter(|record| record.table == Some(table));
        let lines = RejectedRecord::to_json_lines(of_table);
        let body = (!lines.is_empty()).then(|| lines.into());
        put_or_delete(store, &layout::batch_rejected_key(date, table), body).await?;
    }
    store.put(&layout::consumed_key(date), json_bytes(&consumed).into()).await?;
    let consumed: Vec<&ObjectMeta> = consumed.iter().collect();
    for ((query, frame), opened) in output.results.iter().zip(result_tables) {
        replace_run_date(store, &layout::result_table(query.id), opened, date, frame, &consumed).await?;
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

/// A value the batch writes as pretty JSON (plain data: serialising it cannot fail).
pub(crate) fn json_bytes(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("the batch writes plain JSON")
}
