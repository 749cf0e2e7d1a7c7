//! The `batch-transform` Lambda: on the daily EventBridge schedule, clean the raw records that
//! arrived since the last run and recompute every query (see [`pinpipe_batch::run_batch`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{NaiveDate, Utc};
use lambda_runtime::LambdaEvent;
use pinpipe_batch::{BatchError, Manifest};
use pinpipe_contract::{layout, Table};
use pinpipe_core::quality::TableQuality;
use pinpipe_lake::ObjectStore;
use serde::Serialize;

/// What the function answers: the run's counts and where its manifest is.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// The run date the event's time picked.
    pub run_date: String,
    /// The key of the run's manifest.
    pub manifest_key: String,
    /// Raw objects consumed by this run.
    pub inputs_consumed: usize,
    /// Per-table counts of this run.
    pub tables: BTreeMap<Table, TableQuality>,
    /// Rows per query result.
    pub results: BTreeMap<String, u64>,
}

/// The run date of a scheduled event: the UTC date of its `time` (today when the event has none).
pub fn run_date_of(event: &EventBridgeEvent) -> NaiveDate {
    event.time.unwrap_or_else(Utc::now).date_naive()
}

/// Handles one scheduled event against the lake in `store`.
pub async fn handle(
    store: Arc<dyn ObjectStore>,
    event: LambdaEvent<EventBridgeEvent>,
) -> Result<RunSummary, BatchError> {
    let run_date = run_date_of(&event.payload);
    if event.payload.time.is_none() {
        tracing::warn!(%run_date, "the event has no time; running for today's date");
    }
    let manifest = pinpipe_batch::run_batch(store, run_date).await?;
    log_manifest(&manifest);
    Ok(RunSummary {
        manifest_key: layout::manifest_key(&manifest.run_date),
        inputs_consumed: manifest.inputs.len(),
        run_date: manifest.run_date,
        tables: manifest.tables,
        results: manifest.results,
    })
}

fn log_manifest(manifest: &Manifest) {
    for (table, counts) in &manifest.tables {
        tracing::info!(
            run_date = %manifest.run_date,
            %table,
            records_in = counts.records_in,
            records_cleaned = counts.records_cleaned,
            duplicates_dropped = counts.duplicates_dropped,
            rejected = counts.rejected_total(),
            nulls = %serde_json::to_string(&counts.nulls).unwrap_or_default(),
            "table cleaned"
        );
    }
    tracing::info!(
        run_date = %manifest.run_date,
        inputs_consumed = manifest.inputs.len(),
        skipped_inputs = manifest.skipped_inputs.len(),
        timings_ms = %serde_json::to_string(&manifest.timings_ms).unwrap_or_default(),
        "batch run complete"
    );
}
