//! The daily run with its queries on Athena (template `QueryEngine=Athena`), in invocations of the
//! batch function around a Step Functions state machine:
//!
//! 1. [`clean_for_athena`]: the run's cleaning, fanned out over the day's raw objects
//!    ([`crate::fan_out`]: planned, decoded part by part, then committed here as the in-process run
//!    commits), then one `UNLOAD` statement per `sql/<id>.sql`, the file's text unchanged inside it,
//!    for the state machine to run on Athena with the Glue database (tables `pin`, `geo`, `user`) as
//!    context;
//! 2. [`commit_unloaded`]: the Parquet files Athena unloaded become the date's partition of each result
//!    table (in canonical order, with the in-process path's schema); the manifest and the report are
//!    written as an in-process run writes them. The files stay until the bucket's lifecycle rule
//!    expires them, so this stage can run again (it replaces the date's partitions with the same rows).

use chrono::NaiveDate;
use pinpipe_contract::layout;
use pinpipe_core::order::canonical_order;
use pinpipe_core::queries::{run_queries, Query, QUERIES};
use pinpipe_core::transform::transform;
use pinpipe_lake::{get_many, ObjectStore};
use pinpipe_tables::table_url;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::BatchError;
use crate::fan_out::clean_parts;
use crate::inputs::READ_AHEAD;
use crate::lake::{json_bytes, write_run_record};
use crate::manifest::{Manifest, Timings};
use crate::report::{manifest_bytes, read_rejected_examples};
use crate::tables::{open_result_tables, replace_results};

/// What the cleaning stage answers: the statements for Athena, and where they unload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AthenaPlan {
    /// The run date.
    pub run_date: String,
    /// Where the statements unload (each query under `<prefix><id>/`), relative to the lake root.
    pub unload_prefix: String,
    /// One statement per query, in docs/SPEC.md order.
    pub queries: Vec<AthenaStatement>,
}

/// One query as Athena runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AthenaStatement {
    /// The query's id (`q1`, `q2a`, …).
    pub id: String,
    /// `UNLOAD (<sql/<id>.sql>) TO '<location>' WITH (format = 'PARQUET', compression = 'ZSTD')`.
    pub statement: String,
}

/// The clean stage of a run on Athena: commits the parts of the run `run_id` that
/// [`crate::plan_clean`] planned and [`crate::decode_part`] decoded, as the date's cleaned rows (as
/// [`crate::run_batch`] commits them), writes the manifest without results, and gives the statements
/// (and the manifest).
pub async fn clean_for_athena(
    store: &dyn ObjectStore,
    run_date: NaiveDate,
    run_id: &str,
) -> Result<(AthenaPlan, Manifest), BatchError> {
    let manifest = clean_parts(store, run_date, run_id).await?;
    let date = manifest.run_date.clone();
    store.put(&layout::manifest_key(&date), json_bytes(&manifest).into()).await?;
    let unload_prefix = layout::athena_unload_prefix(&date, &uuid::Uuid::new_v4().to_string());
    let queries = QUERIES
        .iter()
        .map(|query| {
            let location = table_url(&store.url(), &format!("{unload_prefix}{}", query.id));
            AthenaStatement { id: query.id.to_string(), statement: unload_statement(query, location.as_str()) }
        })
        .collect();
    Ok((AthenaPlan { run_date: date, unload_prefix, queries }, manifest))
}

/// The query's SQL, as its file holds it, unloaded to Parquet at `location` (a folder URL). The SQL
/// goes on lines of its own: a `--` comment on its last line ends before the closing parenthesis.
fn unload_statement(query: &Query, location: &str) -> String {
    format!(
        "UNLOAD (\n{}\n) TO '{}' WITH (format = 'PARQUET', compression = 'ZSTD')",
        query.sql.trim_end(),
        location.replace('\'', "''")
    )
}

/// The last stage of a run on Athena: commits the files the statements of [`clean_for_athena`]
/// unloaded under `unload_prefix` as the date's partition of each result table, and writes the
/// manifest (with the results) and the report.
pub async fn commit_unloaded(
    store: &dyn ObjectStore,
    run_date: NaiveDate,
    unload_prefix: &str,
) -> Result<Manifest, BatchError> {
    let mut timings = Timings::start();
    let date = run_date.format("%Y-%m-%d").to_string();
    let expected_prefix = format!("{}{date}/", layout::ATHENA_UNLOAD_PREFIX);
    if !unload_prefix.starts_with(&expected_prefix) || !unload_prefix.ends_with('/') || unload_prefix.contains("..") {
        return Err(BatchError::UnloadPrefix { prefix: unload_prefix.to_string(), run_date: date });
    }
    let mut manifest: Manifest = serde_json::from_slice(&manifest_bytes(store, &date).await?)
        .map_err(|source| BatchError::Manifest { key: layout::manifest_key(&date), source })?;
    let result_tables = open_result_tables(store, &date).await?;
    let shapes = tokio::task::spawn_blocking(|| run_queries(&transform(Default::default())?.all_cleaned)).await??;
    let mut results = Vec::with_capacity(QUERIES.len());
    for (query, shape) in shapes {
        let prefix = format!("{unload_prefix}{}/", query.id);
        let keys: Vec<String> = store.list(&prefix).await?.into_iter().map(|object| object.key).collect();
        let bodies = get_many(store, &keys, READ_AHEAD.requests).await?;
        let frame = tokio::task::spawn_blocking(move || as_result(&shape, bodies))
            .await?
            .map_err(|source| BatchError::Unloaded { prefix: prefix.clone(), source })?;
        results.push((query, frame));
    }
    timings.mark("read");
    replace_results(store, &date, &results, result_tables, &manifest.inputs).await?;
    manifest.count_results(&results);
    timings.mark("write");
    for (phase, ms) in timings.finish() {
        let phase = if phase == "total" { phase } else { format!("results_{phase}") };
        *manifest.timings_ms.entry(phase).or_default() += ms;
    }
    let rejected = read_rejected_examples(store, &date).await?;
    write_run_record(store, &manifest, &results, &rejected).await?;
    Ok(manifest)
}

/// The rows of the Parquet files `bodies` as a result of the shape `shape` (its columns, in its
/// order and types), in canonical order.
fn as_result(shape: &DataFrame, bodies: Vec<bytes::Bytes>) -> PolarsResult<DataFrame> {
    let mut frame = shape.clear();
    for body in bodies {
        let part = ParquetReader::new(std::io::Cursor::new(body)).finish()?;
        let columns: Vec<Expr> =
            shape.schema().iter().map(|(name, dtype)| col(name.clone()).strict_cast(dtype.clone())).collect();
        frame.vstack_mut(&part.lazy().select(columns).collect()?)?;
    }
    canonical_order(&frame)
}
