//! The `batch-transform` Lambda: on the daily EventBridge schedule, clean the raw records that
//! arrived since the last run and recompute every query (see [`pinpipe_batch::run_batch`]), then
//! compact the stream tables and vacuum every table ([`pinpipe_batch::maintain_tables`]).
//!
//! With the template's `QueryEngine=Athena`, a Step Functions state machine asks for a run in
//! stages ([`Stage`]) around the queries it runs on Athena: the cleaning fanned out over the day's
//! raw objects (plan, one decoding per part, clean), then the results.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, NaiveDate, Utc};
use lambda_runtime::LambdaEvent;
use pinpipe_batch::{AthenaPlan, BatchError, CleanParts, CleanPlan, Manifest, PartDecoded, Upkeep, UpkeepDone};
use pinpipe_contract::{layout, Table};
use pinpipe_core::quality::TableQuality;
use pinpipe_lake::ObjectStore;
use pinpipe_metrics::Metrics;
use serde::{Deserialize, Serialize};

/// The function's name when `AWS_LAMBDA_FUNCTION_NAME` is not set (the binary's name).
pub const FUNCTION: &str = "batch-transform";

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
    /// What the tables' upkeep did.
    pub upkeep: UpkeepDone,
}

/// The run date of a scheduled event: the UTC date of its `time` (today when the event has none).
pub fn run_date_of(event: &EventBridgeEvent) -> NaiveDate {
    event.time.unwrap_or_else(Utc::now).date_naive()
}

/// What the function is asked.
#[derive(Debug)]
pub enum BatchRequest {
    /// A scheduled event (or any payload without `stage`): a whole run, its queries in the function.
    Scheduled(EventBridgeEvent),
    /// One stage of a run whose queries run on Athena.
    Stage(Stage),
}

/// A stage of a run on Athena, as the state machine asks for it.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case", deny_unknown_fields)]
pub enum Stage {
    /// `{"stage": "plan", "time": …}`: split the run date's new raw objects into parts
    /// ([`pinpipe_batch::plan_clean`], parts of [`CleanParts::from_env`]); the run date is the UTC
    /// date of `time` (today without).
    Plan {
        /// The scheduled event's time.
        time: Option<DateTime<Utc>>,
    },
    /// `{"stage": "decode_part", "run_date", "run_id", "part"}`: decode one part of the plan and stage
    /// its records ([`pinpipe_batch::decode_part`]).
    DecodePart {
        /// The run date.
        run_date: NaiveDate,
        /// The run's id, as the plan gave it.
        run_id: String,
        /// The part's number.
        part: usize,
    },
    /// `{"stage": "clean", "run_date", "run_id"}`: commit the decoded parts as the date's cleaned
    /// rows and give the statements ([`pinpipe_batch::clean_for_athena`]).
    Clean {
        /// The run date.
        run_date: NaiveDate,
        /// The run's id, as the plan gave it.
        run_id: String,
    },
    /// `{"stage": "results", "run_date", "unload_prefix"}`: commit what the statements unloaded
    /// ([`pinpipe_batch::commit_unloaded`]), then keep the tables as a whole run does.
    Results {
        /// The run date.
        run_date: NaiveDate,
        /// Where the statements unloaded, as the clean stage gave it.
        unload_prefix: String,
    },
}

impl BatchRequest {
    /// The request a payload makes: a stage when it has a `stage` field, else a scheduled event.
    pub fn from_json(payload: serde_json::Value) -> Result<Self, BatchError> {
        if payload.get("stage").is_some() {
            serde_json::from_value(payload).map(BatchRequest::Stage).map_err(BatchError::Request)
        } else {
            serde_json::from_value(payload).map(BatchRequest::Scheduled).map_err(BatchError::Request)
        }
    }
}

/// What the function answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum BatchAnswer {
    /// A whole run's, or the results stage's, summary.
    Run(RunSummary),
    /// The plan stage's parts.
    Parts(CleanPlan),
    /// What decoding a part staged.
    Decoded(PartDecoded),
    /// The clean stage's statements for Athena.
    Statements(AthenaPlan),
}

/// Handles one scheduled event against the lake in `store`.
pub async fn handle(
    store: Arc<dyn ObjectStore>,
    event: LambdaEvent<EventBridgeEvent>,
) -> Result<RunSummary, BatchError> {
    run_measured(store, event.payload).await.map(|(summary, _)| summary)
}

/// Handles what the function is asked ([`BatchRequest`]), giving its answer and the metrics for the
/// function's `main` to emit: a run's records are counted where they are cleaned (a whole run, the
/// clean stage), so that a run on Athena counts them once. None when it fails: Lambda counts the
/// error, and the retried run reports its records.
pub async fn handle_measured(
    store: Arc<dyn ObjectStore>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<(BatchAnswer, Option<Metrics>), BatchError> {
    let function = pinpipe_metrics::function_name(FUNCTION);
    match BatchRequest::from_json(event.payload)? {
        BatchRequest::Scheduled(event) => {
            let (summary, metrics) = run_measured(store, event).await?;
            Ok((BatchAnswer::Run(summary), Some(metrics)))
        }
        BatchRequest::Stage(Stage::Plan { time }) => {
            let run_date = time.unwrap_or_else(Utc::now).date_naive();
            let plan = pinpipe_batch::plan_clean(store.as_ref(), run_date, CleanParts::from_env()?).await?;
            tracing::info!(run_date = plan.run_date, run_id = plan.run_id, parts = plan.parts.len(), "clean planned");
            Ok((BatchAnswer::Parts(plan), None))
        }
        BatchRequest::Stage(Stage::DecodePart { run_date, run_id, part }) => {
            let decoded = pinpipe_batch::decode_part(store.as_ref(), run_date, &run_id, part).await?;
            tracing::info!(%run_date, run_id, ?decoded, "part decoded");
            Ok((BatchAnswer::Decoded(decoded), None))
        }
        BatchRequest::Stage(Stage::Clean { run_date, run_id }) => {
            let (plan, manifest) = pinpipe_batch::clean_for_athena(store.as_ref(), run_date, &run_id).await?;
            log_manifest(&manifest);
            Ok((BatchAnswer::Statements(plan), Some(metrics_of(&manifest, &function))))
        }
        BatchRequest::Stage(Stage::Results { run_date, unload_prefix }) => {
            let upkeep = Upkeep::from_env()?;
            let manifest = pinpipe_batch::commit_unloaded(store.as_ref(), run_date, &unload_prefix).await?;
            let upkeep = keep_tables(store.as_ref(), run_date, &upkeep).await?;
            Ok((BatchAnswer::Run(summary_of(manifest, upkeep)), None))
        }
    }
}

/// A whole run for a scheduled event, and its metrics.
async fn run_measured(
    store: Arc<dyn ObjectStore>,
    event: EventBridgeEvent,
) -> Result<(RunSummary, Metrics), BatchError> {
    let run_date = run_date_of(&event);
    if event.time.is_none() {
        tracing::warn!(%run_date, "the event has no time; running for today's date");
    }
    let upkeep = Upkeep::from_env()?;
    let manifest = pinpipe_batch::run_batch(store.clone(), run_date).await?;
    log_manifest(&manifest);
    let upkeep = keep_tables(store.as_ref(), run_date, &upkeep).await?;
    let metrics = metrics_of(&manifest, &pinpipe_metrics::function_name(FUNCTION));
    Ok((summary_of(manifest, upkeep), metrics))
}

/// The tables' upkeep after the day's data is committed: its failure fails the invocation (and is
/// retried) but leaves that data as it is.
async fn keep_tables(store: &dyn ObjectStore, run_date: NaiveDate, upkeep: &Upkeep) -> Result<UpkeepDone, BatchError> {
    let upkeep = pinpipe_batch::maintain_tables(store, run_date, upkeep).await?;
    tracing::info!(compacted = upkeep.compacted.len(), files_vacuumed = upkeep.files_vacuumed, "tables kept");
    Ok(upkeep)
}

fn summary_of(manifest: Manifest, upkeep: UpkeepDone) -> RunSummary {
    RunSummary {
        manifest_key: layout::manifest_key(&manifest.run_date),
        inputs_consumed: manifest.inputs.len(),
        run_date: manifest.run_date,
        tables: manifest.tables,
        results: manifest.results,
        upkeep,
    }
}

/// The metrics of a run: its records in, cleaned, dropped as duplicates and refused (in all and by
/// kind), the share refused, and the raw objects and bytes it read.
pub fn metrics_of(manifest: &Manifest, function: &str) -> Metrics {
    use pinpipe_metrics::{
        label, BYTES_IN, DUPLICATES_DROPPED, INPUTS_CONSUMED, KIND_DIMENSION, RECORDS_CLEANED, RECORDS_IN,
        RECORDS_REJECTED, REJECTED_SHARE,
    };
    let tables = manifest.tables.values();
    let records_in: u64 = tables.clone().map(|counts| counts.records_in).sum();
    let rejected: u64 = tables.clone().map(TableQuality::rejected_total).sum();
    let share = if records_in == 0 { 0.0 } else { 100.0 * rejected as f64 / records_in as f64 };
    let mut metrics = Metrics::new(function);
    metrics
        .put(RECORDS_IN, records_in)
        .put(RECORDS_CLEANED, tables.clone().map(|counts| counts.records_cleaned).sum::<u64>())
        .put(DUPLICATES_DROPPED, tables.clone().map(|counts| counts.duplicates_dropped).sum::<u64>())
        .put(RECORDS_REJECTED, rejected)
        .put(REJECTED_SHARE, share)
        .put(INPUTS_CONSUMED, manifest.inputs.len())
        .put(BYTES_IN, manifest.inputs.iter().map(|input| input.size).sum::<u64>());
    for counts in tables {
        for (kind, count) in &counts.rejected {
            metrics.put_by(RECORDS_REJECTED, KIND_DIMENSION, label(kind), *count);
        }
    }
    metrics
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

#[cfg(test)]
mod tests {
    use pinpipe_contract::RejectKind;
    use pinpipe_lake::ObjectMeta;

    use super::*;

    #[test]
    fn a_runs_metrics_add_up_its_tables_and_give_the_share_refused() {
        let mut manifest = Manifest::default();
        let mut pin = TableQuality::default();
        (pin.records_in, pin.records_cleaned, pin.duplicates_dropped) = (8, 5, 1);
        pin.rejected.insert(RejectKind::NotJson, 2);
        let mut geo = TableQuality::default();
        (geo.records_in, geo.records_cleaned) = (2, 1);
        geo.rejected.insert(RejectKind::NotJson, 1);
        manifest.tables = BTreeMap::from([(Table::Pin, pin), (Table::Geo, geo)]);
        let input = |size| ObjectMeta { key: "topics/p.pin/x".into(), size, version: "v".into() };
        manifest.inputs = vec![input(100), input(28)];
        let lines: Vec<serde_json::Value> = metrics_of(&manifest, "pinpipe-batch-transform")
            .to_lines(0)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let totals = &lines[0];
        assert_eq!(totals["Function"], "pinpipe-batch-transform");
        let count = |name: &str| totals[name].as_u64().unwrap();
        assert_eq!([count("RecordsIn"), count("RecordsCleaned"), count("DuplicatesDropped")], [10, 6, 1]);
        assert_eq!([count("RecordsRejected"), count("InputsConsumed"), count("BytesIn")], [3, 2, 128]);
        assert_eq!(totals["RejectedShare"], 30.0);
        // One line per kind, summed over the tables.
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[1]["Kind"].as_str(), lines[1]["RecordsRejected"].as_u64()), (Some("not_json"), Some(3)));
        // An empty run refuses nothing.
        let empty = metrics_of(&Manifest::default(), "f");
        assert_eq!(empty.get(pinpipe_metrics::REJECTED_SHARE), Some(pinpipe_metrics::MetricValue::Float(0.0)));
    }
}
