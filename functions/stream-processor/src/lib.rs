//! The `stream-processor` Lambda: a Kinesis batch → the same cleaning as the batch transform →
//! Parquet parts appended to the stream tables `stream/<table>/` (docs/SPEC.md §3, §4).
//!
//! * **Event:** [`KinesisBatch`], the fields of Lambda's Kinesis event that the processor reads
//!   (the same JSON as `aws_lambda_events`' `KinesisEvent`, parsed and dropped at a fraction of its cost).
//! * **Routing:** each record's table comes from the stream name in its `eventSourceARN`
//!   (`streaming-<prefix>-pin|geo|user`, the prefix from `PINPIPE_PREFIX`).
//! * **Cleaning:** [`pinpipe_core::decode::decode_records`] (the batch's per-record decoding) and
//!   [`pinpipe_core::clean::clean`] (the batch's rules). No duplicates are dropped: the stream
//!   appends every record.
//! * **Storage:** the cleaned rows of each (shard, table) of the batch become one Parquet part at
//!   [`layout::stream_part_key`]`(table, shard, sequence number of its first row)`, with the columns of a
//!   `cleaned/` part (the docs/SPEC.md §4 columns, then `_raw_hash`) and the record's lineage,
//!   [`SHARD_ID_COLUMN`] and [`SEQUENCE_NUMBER_COLUMN`]. A retried batch starts at the same
//!   sequence number, so it rewrites the same part instead of adding a second one.
//! * **Bad records** (not JSON, not an object, no integer key, or from a stream that feeds no table)
//!   go to [`layout::stream_rejected_key`] as [`RejectedRecord`]s with their Kinesis position, reason
//!   and data as received; they never block the shard.
//! * **Transient failures** (an S3 write) are answered with `batchItemFailures` naming the records of
//!   what was not stored (from the first record of the failed group on), so Lambda retries from there
//!   and the retry rewrites the same objects.

mod event;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lambda_events::streams::KinesisEventResponse;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use pinpipe_contract::names::stream_name_of_arn;
use pinpipe_contract::table::{SEQUENCE_NUMBER_COLUMN, SHARD_ID_COLUMN};
use pinpipe_contract::{layout, Names, Origin, Payload, RejectKind, RejectedRecord, Stage, StreamPosition, Table};
use pinpipe_core::clean::clean;
use pinpipe_core::decode::decode_records;
use pinpipe_core::export::parquet_bytes;
use pinpipe_lake::{ObjectStore, StoreError};
use pinpipe_metrics::Metrics;
use polars::prelude::{Column, DataFrame, ParquetCompression, PlSmallStr, PolarsError, Scalar};
use serde::Serialize;

pub use event::{KinesisBatch, KinesisBatchRecord, KinesisPayload};

/// How stream parts are compressed: Snappy, as Kinesis Data Firehose writes Parquet. Parts are
/// small, many and written on every batch; Snappy costs a fraction of zstd's CPU there
/// (`benches/stream.rs`, `stream/stage/parquet_*`) for somewhat larger objects.
pub const PART_COMPRESSION: ParquetCompression = ParquetCompression::Snappy;

/// S3 puts in flight at once.
pub const WRITE_CONCURRENCY: usize = 8;

/// The function's name when `AWS_LAMBDA_FUNCTION_NAME` is not set (the binary's name).
pub const FUNCTION: &str = "stream-processor";

/// Why a batch could not be processed at all (an S3 failure is not one: it is answered with
/// `batchItemFailures`).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Decoding, cleaning or writing the Parquet part of one group of records failed.
    #[error("{step} the {table} records of shard {shard}: {source}")]
    Polars {
        /// What was being done.
        step: &'static str,
        /// The records' table.
        table: Table,
        /// Their shard.
        shard: String,
        /// What went wrong.
        source: PolarsError,
    },
    /// The cleaning task panicked or was cancelled.
    #[error("the cleaning task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Why a record's stream feeds no table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The record names no event source.
    #[error("the record has no eventSourceARN")]
    NoEventSource,
    /// The event source is not a Kinesis stream.
    #[error("eventSourceARN {0:?} is not a Kinesis stream ARN")]
    NotAStream(String),
    /// A stream other than the prefix's three.
    #[error("stream {stream:?} feeds no table: the streams are {}", known.join(", "))]
    UnknownStream {
        /// The record's stream.
        stream: String,
        /// The streams that feed a table.
        known: [String; 3],
    },
}

/// The table of a record from the stream in its `eventSourceARN`, among the streams of `names`.
pub fn route(names: &Names, event_source_arn: Option<&str>) -> Result<Table, RouteError> {
    let arn = event_source_arn.ok_or(RouteError::NoEventSource)?;
    let stream = stream_name_of_arn(arn).ok_or_else(|| RouteError::NotAStream(arn.to_string()))?;
    names
        .table_of_stream(stream)
        .ok_or_else(|| RouteError::UnknownStream { stream: stream.to_string(), known: names.streams().clone() })
}

/// The records of one shard bound for one table (or, `None`, for none), in event order.
#[derive(Debug)]
struct Group {
    shard: String,
    table: Option<Table>,
    /// The records' indices in the event, ascending.
    records: Vec<usize>,
    /// For records bound for no table, why (by position in `records`).
    reasons: Vec<RouteError>,
}

/// One object a batch writes: a Parquet part, or the refused records of one group.
#[derive(Debug, Clone)]
pub struct Write {
    /// Its key in the lake.
    pub key: String,
    /// Its whole content.
    pub body: Bytes,
    /// For a Parquet part: its table and rows; `None` for an object of refused records.
    pub rows: Option<(Table, usize)>,
    /// The group (position in the event's groups) whose records this object stores.
    group: usize,
}

/// What one batch did, for the logs and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    /// Records in the event.
    pub records_in: usize,
    /// Rows stored per table.
    pub rows_stored: BTreeMap<Table, usize>,
    /// Records refused (written to `rejected/`).
    pub records_rejected: usize,
    /// Records refused, by kind of refusal.
    pub rejected_by_kind: BTreeMap<RejectKind, usize>,
    /// Bytes of the records' data.
    pub bytes_in: usize,
    /// Records reported in `batchItemFailures`.
    pub records_failed: usize,
    /// Objects written.
    pub objects_written: usize,
}

/// The stream processor: a lake and the stream names it accepts.
#[derive(Clone)]
pub struct Processor {
    store: Arc<dyn ObjectStore>,
    names: Names,
}

impl Processor {
    /// A processor writing to `store`, accepting the streams of `names`.
    pub fn new(store: Arc<dyn ObjectStore>, names: Names) -> Self {
        Self { store, names }
    }

    /// Handles one Kinesis event: the Lambda handler.
    pub async fn handle(&self, event: LambdaEvent<KinesisBatch>) -> Result<KinesisEventResponse, ProcessError> {
        self.handle_measured(event).await.map(|(response, _)| response)
    }

    /// [`Processor::handle`], and the invocation's metrics for the function's `main` to emit (none
    /// when it fails: Lambda counts the error, and the retry reports the batch).
    pub async fn handle_measured(
        &self,
        event: LambdaEvent<KinesisBatch>,
    ) -> Result<(KinesisEventResponse, Metrics), ProcessError> {
        let (response, counts) = self.process(event.payload).await?;
        log_counts(&counts);
        Ok((response, counts.metrics(&pinpipe_metrics::function_name(FUNCTION))))
    }

    /// Processes one batch: the response for Lambda and the counts.
    pub async fn process(&self, event: KinesisBatch) -> Result<(KinesisEventResponse, BatchCounts), ProcessError> {
        let bytes_in = event.records.iter().map(|record| record.kinesis.data.0.len()).sum();
        let mut counts = BatchCounts { records_in: event.records.len(), bytes_in, ..BatchCounts::default() };
        if event.records.is_empty() {
            return Ok((KinesisEventResponse::default(), counts));
        }
        // Shared with the cleaning task, which reads the records in place.
        let records = Arc::new(event.records);
        let groups = Arc::new(group(&self.names, &records));
        let (writes, rejected_by_kind) = {
            let (records, groups) = (records.clone(), groups.clone());
            tokio::task::spawn_blocking(move || prepare(&groups, &records)).await??
        };
        counts.records_rejected = rejected_by_kind.values().sum();
        counts.rejected_by_kind = rejected_by_kind;

        let failed_groups = self.store_all(writes, groups.len(), &mut counts).await;
        let retry = records_to_retry(&groups, &failed_groups, records.len());
        let mut response = KinesisEventResponse::default();
        for (record, _) in records.iter().zip(retry).filter(|(_, retry)| *retry) {
            response.add_failure(record.kinesis.sequence_number.clone());
        }
        counts.records_failed = response.batch_item_failures.len();
        Ok((response, counts))
    }

    /// Writes every object, [`WRITE_CONCURRENCY`] at a time, counting what was stored; gives, per
    /// group, whether one of its objects failed.
    async fn store_all(&self, writes: Vec<Write>, groups: usize, counts: &mut BatchCounts) -> Vec<bool> {
        let store = self.store.as_ref();
        let results: Vec<(Write, Result<(), StoreError>)> = stream::iter(writes)
            .map(|mut write| async move {
                let body = std::mem::take(&mut write.body);
                let result = store.put(&write.key, body).await;
                (write, result)
            })
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect()
            .await;
        let mut failed_groups = vec![false; groups];
        for (write, result) in results {
            match result {
                Ok(()) => {
                    counts.objects_written += 1;
                    if let Some((table, rows)) = write.rows {
                        *counts.rows_stored.entry(table).or_insert(0) += rows;
                    }
                }
                Err(error) => {
                    tracing::error!(%error, key = write.key, "write failed; its records are reported for retry");
                    failed_groups[write.group] = true;
                }
            }
        }
        failed_groups
    }
}

/// The objects a batch of `records` writes, from the streams of `names` (what [`Processor::process`]
/// stores): pure, for `pinpipe replay`, which stores the parts and keeps the refusals where they were.
pub fn plan(names: &Names, records: &[KinesisBatchRecord]) -> Result<Vec<Write>, ProcessError> {
    prepare(&group(names, records), records).map(|(writes, _)| writes)
}

/// Splits the event's `records` by shard and table (by the streams of `names`), keeping event order
/// within each group.
fn group(names: &Names, records: &[KinesisBatchRecord]) -> Vec<Group> {
    let mut groups: BTreeMap<(&str, Option<Table>), Group> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        let (table, reason) = match route(names, record.event_source_arn.as_deref()) {
            Ok(table) => (Some(table), None),
            Err(reason) => (None, Some(reason)),
        };
        let shard = record.shard();
        let group = groups.entry((shard, table)).or_insert_with(|| Group {
            shard: shard.to_string(),
            table,
            records: Vec::new(),
            reasons: Vec::new(),
        });
        group.records.push(index);
        group.reasons.extend(reason);
    }
    groups.into_values().collect()
}

/// The objects to write for a batch, and its refusals by kind.
type Prepared = (Vec<Write>, BTreeMap<RejectKind, usize>);

/// Decodes and cleans every group of `records`, giving the objects to write (one Parquet part per
/// group with rows, one object of refused records per group with refusals) and the refusals by kind.
fn prepare(groups: &[Group], records: &[KinesisBatchRecord]) -> Result<Prepared, ProcessError> {
    let mut writes = Vec::new();
    let mut rejected_by_kind = BTreeMap::new();
    for (position, group) in groups.iter().enumerate() {
        let first_sequence_number = &records[group.records[0]].kinesis.sequence_number;
        let mut rejected = match group.table {
            None => refuse_unrouted(group, records),
            Some(table) => {
                let cleaned = clean_group(table, group, records)?;
                if let Some((body, rows, first_stored)) = cleaned.part {
                    let key = layout::stream_part_key(table, &group.shard, &first_stored);
                    writes.push(Write { key, body, group: position, rows: Some((table, rows)) });
                }
                cleaned.rejected
            }
        };
        if !rejected.is_empty() {
            rejected.sort_by_key(|(index, _)| *index);
            for (_, refusal) in &rejected {
                *rejected_by_kind.entry(refusal.kind).or_insert(0) += 1;
            }
            let body = RejectedRecord::to_json_lines(rejected.iter().map(|(_, record)| record)).into();
            let key = layout::stream_rejected_key(group.table, &group.shard, first_sequence_number);
            writes.push(Write { key, body, group: position, rows: None });
        }
    }
    Ok((writes, rejected_by_kind))
}

/// The refusals of a group of records whose stream feeds no table, by index in the event.
fn refuse_unrouted(group: &Group, records: &[KinesisBatchRecord]) -> Vec<(usize, RejectedRecord)> {
    group
        .records
        .iter()
        .zip(&group.reasons)
        .map(|(&index, reason)| {
            let record = &records[index];
            let refusal = RejectedRecord {
                stage: Stage::StreamProcessor,
                table: None,
                origin: origin_of(record),
                kind: RejectKind::UnknownStream,
                reason: reason.to_string(),
                payload: Some(Payload::of_bytes(&record.kinesis.data.0)),
            };
            (index, refusal)
        })
        .collect()
}

/// What the records of one group bound for a table became.
struct CleanedGroup {
    /// The Parquet part, its rows and the sequence number of its first row, when any record was
    /// accepted.
    part: Option<(Bytes, usize, String)>,
    /// The refusals, by index in the event.
    rejected: Vec<(usize, RejectedRecord)>,
}

/// Decodes and cleans the records of a group bound for `table`.
fn clean_group(table: Table, group: &Group, records: &[KinesisBatchRecord]) -> Result<CleanedGroup, ProcessError> {
    let polars_error = |step| {
        let shard = group.shard.clone();
        move |source| ProcessError::Polars { step, table, shard, source }
    };
    let data: Vec<&[u8]> = group.records.iter().map(|&index| records[index].kinesis.data.0.as_slice()).collect();
    let decoded = decode_records(table, &data).map_err(polars_error("decoding"))?;
    let mut refused = vec![false; data.len()];
    let mut rejected = Vec::with_capacity(decoded.refused.len());
    for refusal in decoded.refused {
        refused[refusal.at] = true;
        let index = group.records[refusal.at];
        rejected.push((index, refusal.into_record(Stage::StreamProcessor, table, origin_of(&records[index]))));
    }
    let cleaned = clean(table, decoded.frame).map_err(polars_error("cleaning"))?;
    let sequence_numbers: Vec<&str> = group
        .records
        .iter()
        .zip(&refused)
        .filter(|(_, refused)| !**refused)
        .map(|(&index, _)| records[index].kinesis.sequence_number.as_str())
        .collect();
    let part =
        with_lineage(cleaned.frame, &group.shard, &sequence_numbers).map_err(polars_error("adding lineage to"))?;
    let rows = part.height();
    let body = (rows > 0)
        .then(|| parquet_bytes(&part, PART_COMPRESSION))
        .transpose()
        .map_err(polars_error("writing the Parquet part of"))?;
    let first_stored = sequence_numbers.first().map(|first| first.to_string()).unwrap_or_default();
    Ok(CleanedGroup { part: body.map(|body| (body, rows, first_stored)), rejected })
}

/// Where a record was: its stream (from its `eventSourceARN`, or the ARN itself when it names no
/// stream), shard and sequence number.
fn origin_of(record: &KinesisBatchRecord) -> Origin {
    let arn = record.event_source_arn.as_deref().unwrap_or_default();
    Origin::Kinesis(StreamPosition {
        stream: stream_name_of_arn(arn).unwrap_or(arn).to_string(),
        shard_id: record.shard().to_string(),
        sequence_number: record.kinesis.sequence_number.clone(),
    })
}

/// Adds [`SHARD_ID_COLUMN`] and [`SEQUENCE_NUMBER_COLUMN`] to the cleaned rows of one group, whose
/// records (those not refused, in order) have `sequence_numbers`.
fn with_lineage(frame: DataFrame, shard: &str, sequence_numbers: &[&str]) -> Result<DataFrame, PolarsError> {
    let rows = frame.height();
    if rows != sequence_numbers.len() {
        let message = format!("cleaning gave {rows} rows for {} records", sequence_numbers.len());
        return Err(PolarsError::ShapeMismatch(message.into()));
    }
    let mut frame = frame;
    frame.with_column(Column::new_scalar(SHARD_ID_COLUMN.into(), Scalar::from(PlSmallStr::from(shard)), rows))?;
    frame.with_column(Column::new(SEQUENCE_NUMBER_COLUMN.into(), sequence_numbers))?;
    Ok(frame)
}

/// The records Lambda must deliver again when the groups in `failed_groups` were not (wholly)
/// stored: per shard, every record from the first record of the earliest failed group on.
///
/// Lambda resumes a shard at the lowest reported sequence number and redelivers everything after
/// it, so the start is moved back to the first record of any group the retry would otherwise split:
/// the retried batch then names its parts and rejected objects exactly as this one did, and rewrites
/// them instead of adding rows twice.
fn records_to_retry(groups: &[Group], failed_groups: &[bool], records: usize) -> Vec<bool> {
    let mut retry = vec![false; records];
    let shards: BTreeSet<&str> = groups.iter().map(|group| group.shard.as_str()).collect();
    for shard in shards {
        let of_shard: Vec<(usize, &Group)> =
            groups.iter().enumerate().filter(|(_, group)| group.shard == shard).collect();
        let Some(mut start) =
            of_shard.iter().filter(|(position, _)| failed_groups[*position]).map(|(_, group)| group.records[0]).min()
        else {
            continue;
        };
        loop {
            let widened = of_shard
                .iter()
                .filter(|(_, group)| group.records.last().is_some_and(|&last| last >= start))
                .map(|(_, group)| group.records[0])
                .min()
                .unwrap_or(start);
            if widened >= start {
                break;
            }
            start = widened;
        }
        for (_, group) in of_shard {
            for &index in group.records.iter().filter(|&&index| index >= start) {
                retry[index] = true;
            }
        }
    }
    retry
}

impl BatchCounts {
    /// The metrics of the batch, for the function named `function`.
    pub fn metrics(&self, function: &str) -> Metrics {
        use pinpipe_metrics::{
            label, BYTES_IN, KIND_DIMENSION, OBJECTS_WRITTEN, RECORDS_CLEANED, RECORDS_IN, RECORDS_REJECTED,
            RECORDS_RETRIED,
        };
        let mut metrics = Metrics::new(function);
        metrics
            .put(RECORDS_IN, self.records_in)
            .put(RECORDS_CLEANED, self.rows_stored.values().sum::<usize>())
            .put(RECORDS_REJECTED, self.records_rejected)
            .put(RECORDS_RETRIED, self.records_failed)
            .put(OBJECTS_WRITTEN, self.objects_written)
            .put(BYTES_IN, self.bytes_in);
        for (kind, count) in &self.rejected_by_kind {
            metrics.put_by(RECORDS_REJECTED, KIND_DIMENSION, label(kind), *count);
        }
        metrics
    }
}

fn log_counts(counts: &BatchCounts) {
    for (table, rows) in &counts.rows_stored {
        tracing::info!(%table, rows_stored = rows, "stream rows appended");
    }
    if counts.records_rejected > 0 {
        tracing::warn!(records_rejected = counts.records_rejected, "records refused (see rejected/stream-processor/)");
    }
    tracing::info!(
        records_in = counts.records_in,
        rows_stored = counts.rows_stored.values().sum::<usize>(),
        records_rejected = counts.records_rejected,
        records_failed = counts.records_failed,
        objects_written = counts.objects_written,
        "stream batch processed"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_starts_where_no_group_is_split() {
        let span = |shard: &str, records: &[usize]| Group {
            shard: shard.to_string(),
            table: Some(Table::Pin),
            records: records.to_vec(),
            reasons: Vec::new(),
        };
        let retried = |failed: &[bool]| -> Vec<usize> {
            let spans = [span("s0", &[0, 2, 4]), span("s0", &[1, 3]), span("s0", &[5, 6]), span("s1", &[7, 8])];
            let retry = records_to_retry(&spans, failed, 9);
            (0..9).filter(|&i| retry[i]).collect()
        };
        assert_eq!(retried(&[false; 4]), Vec::<usize>::new());
        // Only the last group of shard s0 failed: only its records.
        assert_eq!(retried(&[false, false, true, false]), [5, 6]);
        // The second group failed: retrying from record 1 would split the first group, so from 0.
        assert_eq!(retried(&[false, true, false, false]), [0, 1, 2, 3, 4, 5, 6]);
        // Shards are independent.
        assert_eq!(retried(&[false, false, false, true]), [7, 8]);
    }

    #[test]
    fn the_metrics_carry_the_counts_and_the_refusals_by_kind() {
        let counts = BatchCounts {
            records_in: 10,
            rows_stored: BTreeMap::from([(Table::Pin, 4), (Table::Geo, 3)]),
            records_rejected: 2,
            rejected_by_kind: BTreeMap::from([(RejectKind::NotJson, 1), (RejectKind::UnknownStream, 1)]),
            bytes_in: 2048,
            records_failed: 1,
            objects_written: 3,
        };
        let lines: Vec<serde_json::Value> = counts
            .metrics("pinpipe-stream-processor")
            .to_lines(0)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let totals = &lines[0];
        assert_eq!(totals["Function"], "pinpipe-stream-processor");
        assert_eq!((totals["RecordsIn"].as_u64(), totals["RecordsCleaned"].as_u64()), (Some(10), Some(7)));
        assert_eq!((totals["RecordsRejected"].as_u64(), totals["RecordsRetried"].as_u64()), (Some(2), Some(1)));
        assert_eq!((totals["ObjectsWritten"].as_u64(), totals["BytesIn"].as_u64()), (Some(3), Some(2048)));
        let kinds: Vec<&str> = lines[1..].iter().map(|line| line["Kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["not_json", "unknown_stream"]);
    }

    #[test]
    fn streams_route_to_their_tables() {
        let names = Names::new("0a1b");
        let arn = |name: &str| format!("arn:aws:kinesis:us-east-1:123456789012:stream/{name}");
        assert_eq!(route(&names, Some(&arn("streaming-0a1b-pin"))), Ok(Table::Pin));
        assert_eq!(route(&names, Some(&arn("streaming-0a1b-geo"))), Ok(Table::Geo));
        assert_eq!(route(&names, Some(&arn("streaming-0a1b-user"))), Ok(Table::User));
        let wrong = route(&names, Some(&arn("streaming-other-pin"))).unwrap_err();
        assert!(matches!(&wrong, RouteError::UnknownStream { stream, .. } if stream == "streaming-other-pin"));
        assert!(wrong.to_string().contains("feeds no table") && wrong.to_string().contains("streaming-0a1b-user"));
        assert_eq!(route(&names, None), Err(RouteError::NoEventSource));
        let sqs = "arn:aws:sqs:us-east-1:123456789012:streaming-0a1b-pin";
        assert_eq!(route(&names, Some(sqs)), Err(RouteError::NotAStream(sqs.to_string())));
    }
}
