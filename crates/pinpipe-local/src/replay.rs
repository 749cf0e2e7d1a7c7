//! `pinpipe replay`: sends what the pipeline set aside through the handlers again, on a lake folder or
//! a deployed lake bucket, once the cause is fixed (docs/SPEC.md §3):
//!
//! * **failed invocations** (`aws/lambda/`): each record's event goes to its handler as it was
//!   (`kafka-to-s3` for an MSK batch, `stream-processor` for a Kinesis batch); the object is deleted
//!   once the handler took the whole event (kept with `keep`);
//! * **records the landing or stream function refused** (`rejected/kafka-to-s3/`,
//!   `rejected/stream-processor/`): the records of each object are planned again by the function's
//!   own code; what it now accepts is stored (raw objects, stream table rows) and the object keeps only
//!   what it still refuses, or goes;
//! * **lines the batch refused** (`rejected/batch-transform/<date>/`): the batch runs again for
//!   each such date, then for the latest run date, so the latest results count what was recovered.
//!
//! Replaying is idempotent: every handler names its objects after the records' positions, so
//! replaying twice (or again after a crash mid-way) rewrites the same objects and lands nothing twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_lambda_events::kafka::KafkaEvent;
use chrono::{NaiveDate, NaiveTime};
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_contract::failed::{FailedInvocation, FailedTrigger};
use pinpipe_contract::{layout, Names, Origin, RejectedRecord, Stage};
use pinpipe_events::{kafka_event, kinesis_event, scheduled_event, EventOrigin, ShardRecord, TopicMessage};
use pinpipe_lake::{ObjectStore, StoreError};
use serde::Serialize;
use stream_processor::{KinesisBatch, Processor, Source};

/// What to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Failed invocations under `aws/lambda/`.
    pub failed: bool,
    /// Refused records under `rejected/`.
    pub rejected: bool,
    /// Keep the failed-invocation objects after their replay (they are deleted otherwise).
    pub keep: bool,
}

impl Default for ReplayOptions {
    /// Both, deleting what was replayed.
    fn default() -> Self {
        Self { failed: true, rejected: true, keep: false }
    }
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplaySummary {
    /// Failed invocations whose events the handlers took.
    pub failed_invocations: usize,
    /// Records in those events.
    pub failed_records: usize,
    /// Failed invocations still failing, each with why (left in place).
    pub still_failing: Vec<String>,
    /// Records the landing and stream functions had refused, sent again.
    pub refused_replayed: usize,
    /// Of those, records now stored.
    pub refused_recovered: usize,
    /// Run dates the batch ran again, in order.
    pub batch_dates_rerun: Vec<String>,
    /// Lines the batch refused before the runs, and after.
    pub batch_refused: (usize, usize),
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Listing, reading or writing the lake failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rejected object holds a line that is not a rejected record.
    #[error("{key}: a line is not a rejected record: {source}")]
    RejectedLine {
        /// The object.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The records of a rejected object make no event.
    #[error("{key}: building the {event} event of its records: {source}")]
    Event {
        /// The object.
        key: String,
        /// `MSK`, `Kinesis` or `scheduled`.
        event: &'static str,
        /// Why.
        source: serde_json::Error,
    },
    /// Storing the stream records of a rejected object failed.
    #[error("{key}: {source}")]
    Processing {
        /// The object.
        key: String,
        /// Why.
        source: stream_processor::RecoverError,
    },
    /// A batch run failed.
    #[error("the batch run of {date}: {source}")]
    Batch {
        /// The run date.
        date: String,
        /// Why.
        source: pinpipe_batch::BatchError,
    },
}

/// Why one failed invocation could not be replayed (the replay goes on with the others).
#[derive(Debug, thiserror::Error)]
enum InvocationError {
    #[error("not a failed-invocation record: {0}")]
    Record(serde_json::Error),
    #[error("the payload is neither an MSK nor a Kinesis event")]
    UnknownTrigger,
    #[error("the payload is not a {event} event: {source}")]
    Event { event: &'static str, source: serde_json::Error },
    #[error("the landing function failed: {0}")]
    Landing(StoreError),
    #[error("the stream processor failed: {0}")]
    Processing(stream_processor::ProcessError),
    #[error("the stream processor could not store {0} of its records")]
    RecordsFailed(usize),
}

/// Replays what `options` names in the lake in `store`, whose topics and streams are those of
/// `names`.
pub async fn replay(
    store: Arc<dyn ObjectStore>,
    names: &Names,
    options: ReplayOptions,
) -> Result<ReplaySummary, ReplayError> {
    store.check().await?;
    let origin = &EventOrigin::new("pinpipe-replay");
    let mut summary = ReplaySummary::default();
    let processor = Processor::new(store.clone(), names.clone());
    if options.failed {
        for object in store.list(layout::FAILED_PREFIX).await? {
            match replay_invocation(&store, &processor, &object.key).await {
                Ok(records) => {
                    summary.failed_invocations += 1;
                    summary.failed_records += records;
                    if !options.keep {
                        store.delete(&object.key).await?;
                    }
                }
                Err(error) => {
                    tracing::error!(key = object.key, %error, "a failed invocation is still failing");
                    summary.still_failing.push(format!("{}: {error}", object.key));
                }
            }
        }
    }
    if options.rejected {
        replay_refused_landing(store.as_ref(), origin, &mut summary).await?;
        replay_refused_stream(store.as_ref(), &processor, origin, &mut summary).await?;
        rerun_refused_batch_dates(&store, origin, &mut summary).await?;
    }
    Ok(summary)
}

/// Sends the event of the failed invocation at `key` to its handler: the records it held.
async fn replay_invocation(
    store: &Arc<dyn ObjectStore>,
    processor: &Processor,
    key: &str,
) -> Result<usize, InvocationError> {
    let record = FailedInvocation::parse(&store.get(key).await.map_err(InvocationError::Landing)?)
        .map_err(InvocationError::Record)?;
    match record.trigger().ok_or(InvocationError::UnknownTrigger)? {
        FailedTrigger::Kafka => {
            let event: KafkaEvent = serde_json::from_str(&record.payload)
                .map_err(|source| InvocationError::Event { event: "MSK", source })?;
            let records = event.records.values().map(Vec::len).sum();
            kafka_to_s3::handle(store.clone(), LambdaEvent::new(event, Context::default()))
                .await
                .map_err(InvocationError::Landing)?;
            Ok(records)
        }
        FailedTrigger::Kinesis => {
            let event: KinesisBatch = serde_json::from_str(&record.payload)
                .map_err(|source| InvocationError::Event { event: "Kinesis", source })?;
            let records = event.records.len();
            let (response, _) =
                processor.process_from(event, Source::Replay(key)).await.map_err(InvocationError::Processing)?;
            match response.batch_item_failures.len() {
                0 => Ok(records),
                failed => Err(InvocationError::RecordsFailed(failed)),
            }
        }
    }
}

/// The refused records of the object at `key`, and a hash of its content.
async fn refused_records(store: &dyn ObjectStore, key: &str) -> Result<(Vec<RejectedRecord>, u64), ReplayError> {
    let body = store.get(key).await?;
    let records = RejectedRecord::parse_lines(&body)
        .collect::<Result<_, _>>()
        .map_err(|source| ReplayError::RejectedLine { key: key.to_string(), source })?;
    Ok((records, xxhash_rust::xxh3::xxh3_64(&body)))
}

/// The records `as_source` turns back into what they were when received, and those it cannot (a
/// record of another origin, or whose payload is lost), which stay refused.
fn place<T>(
    records: Vec<RejectedRecord>,
    as_source: impl Fn(&RejectedRecord) -> Option<T>,
) -> (Vec<T>, Vec<RejectedRecord>) {
    let mut placed = Vec::new();
    let mut unplaced = Vec::new();
    for record in records {
        match as_source(&record) {
            Some(source) => placed.push(source),
            None => unplaced.push(record),
        }
    }
    (placed, unplaced)
}

/// Rewrites the rejected object at `key` with `still_refused`, or deletes it when they are none.
async fn keep_still_refused(
    store: &dyn ObjectStore,
    key: &str,
    still_refused: &[RejectedRecord],
) -> Result<(), StoreError> {
    if still_refused.is_empty() {
        store.delete(key).await
    } else {
        store.put(key, RejectedRecord::to_json_lines(still_refused).into()).await
    }
}

/// The records the refusal objects among planned objects hold (`bodies`).
fn refusals_of<'a>(key: &str, bodies: impl Iterator<Item = &'a [u8]>) -> Result<Vec<RejectedRecord>, ReplayError> {
    let mut refused = Vec::new();
    for body in bodies {
        for record in RejectedRecord::parse_lines(body) {
            refused.push(record.map_err(|source| ReplayError::RejectedLine { key: key.to_string(), source })?);
        }
    }
    Ok(refused)
}

/// Replays the records `kafka-to-s3` refused, object by object: the raw objects of those it now
/// lands are written, the rest stay refused.
async fn replay_refused_landing(
    store: &dyn ObjectStore,
    origin: &EventOrigin,
    summary: &mut ReplaySummary,
) -> Result<(), ReplayError> {
    for object in store.list(&layout::rejected_prefix(Stage::KafkaToS3)).await? {
        let (messages, unplaced) = place(refused_records(store, &object.key).await?.0, topic_message);
        if messages.is_empty() {
            continue;
        }
        let event = kafka_event(origin, &messages).map_err(|source| ReplayError::Event {
            key: object.key.clone(),
            event: "MSK",
            source,
        })?;
        let plan = kafka_to_s3::plan(&event);
        let (raw, refusals): (Vec<_>, Vec<_>) =
            plan.objects.into_iter().partition(|planned| layout::parse_raw_key(&planned.key).is_some());
        let mut still_refused = unplaced;
        still_refused.extend(refusals_of(&object.key, refusals.iter().map(|planned| planned.body.as_ref()))?);
        kafka_to_s3::write(store, raw).await?;
        keep_still_refused(store, &object.key, &still_refused).await?;
        summary.refused_replayed += messages.len();
        summary.refused_recovered += plan.summary.records_landed;
    }
    Ok(())
}

/// The Kafka record a refused record was, when it came from Kafka.
fn topic_message(record: &RejectedRecord) -> Option<TopicMessage> {
    let Origin::Kafka(position) = &record.origin else { return None };
    Some(TopicMessage {
        topic: position.topic.clone(),
        partition: i32::try_from(position.partition).ok()?,
        offset: position.offset,
        timestamp_ms: 0,
        key: None,
        value: record.payload.as_ref().map(|payload| payload.to_bytes()).transpose().ok()?,
    })
}

/// Replays the records `stream-processor` refused, object by object (one shard each): the rows of
/// those it now accepts are appended to the stream tables once, the rest stay refused.
async fn replay_refused_stream(
    store: &dyn ObjectStore,
    processor: &Processor,
    origin: &EventOrigin,
    summary: &mut ReplaySummary,
) -> Result<(), ReplayError> {
    for object in store.list(&layout::rejected_prefix(Stage::StreamProcessor)).await? {
        let (records, body_hash) = refused_records(store, &object.key).await?;
        let (shard_records, unplaced) = place(records, shard_record);
        if shard_records.is_empty() {
            continue;
        }
        let event: KinesisBatch = kinesis_event(origin, &shard_records).map_err(|source| ReplayError::Event {
            key: object.key.clone(),
            event: "Kinesis",
            source,
        })?;
        // The object's content names the replay: once rewritten (or after a rule changes what it
        // holds), its records are another replay's.
        let source = format!("{}@{:016x}", object.key, body_hash);
        let recovered = processor
            .recover(event, &source)
            .await
            .map_err(|source| ReplayError::Processing { key: object.key.clone(), source })?;
        let mut still_refused = unplaced;
        still_refused.extend(recovered.still_refused);
        keep_still_refused(store, &object.key, &still_refused).await?;
        summary.refused_replayed += shard_records.len();
        summary.refused_recovered += recovered.rows_stored;
    }
    Ok(())
}

/// The Kinesis record a refused record was, when it came from Kinesis.
fn shard_record(record: &RejectedRecord) -> Option<ShardRecord> {
    let Origin::Kinesis(position) = &record.origin else { return None };
    Some(ShardRecord {
        stream: position.stream.clone(),
        shard: position.shard_id.clone(),
        sequence_number: position.sequence_number.clone(),
        partition_key: "replay".to_string(),
        data: record.payload.as_ref()?.to_bytes().ok()?,
        arrival_ms: 0,
    })
}

/// Runs the batch again for every date with refused lines, then for the latest run date.
async fn rerun_refused_batch_dates(
    store: &Arc<dyn ObjectStore>,
    origin: &EventOrigin,
    summary: &mut ReplaySummary,
) -> Result<(), ReplayError> {
    let refused = store.list(&layout::rejected_prefix(Stage::BatchTransform)).await?;
    let mut dates: BTreeSet<NaiveDate> =
        refused.iter().filter_map(|object| layout::run_date_of_batch_rejected(&object.key)).filter_map(date).collect();
    if dates.is_empty() {
        return Ok(());
    }
    summary.batch_refused.0 = count_batch_refusals(store.as_ref()).await?;
    let manifests = store.list(layout::RUNS_PREFIX).await?;
    dates
        .extend(manifests.iter().filter_map(|object| layout::run_date_of_manifest(&object.key)).filter_map(date).max());
    for day in dates {
        let event = scheduled_event(origin, day.and_time(NaiveTime::MIN).and_utc())
            .map_err(|source| ReplayError::Event { key: day.to_string(), event: "scheduled", source })?;
        batch_transform::handle(store.clone(), LambdaEvent::new(event, Context::default()))
            .await
            .map_err(|source| ReplayError::Batch { date: day.to_string(), source })?;
        summary.batch_dates_rerun.push(day.to_string());
    }
    summary.batch_refused.1 = count_batch_refusals(store.as_ref()).await?;
    Ok(())
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Lines the batch refused, in every run.
async fn count_batch_refusals(store: &dyn ObjectStore) -> Result<usize, ReplayError> {
    let mut lines = 0;
    for object in store.list(&layout::rejected_prefix(Stage::BatchTransform)).await? {
        lines += refused_records(store, &object.key).await?.0.len();
    }
    Ok(lines)
}
