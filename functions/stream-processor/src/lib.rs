//! The `stream-processor` Lambda: a Kinesis batch → the same cleaning as the batch transform →
//! rows appended to the Delta stream tables `stream/<table>` (docs/SPEC.md §3, §4).
//!
//! * **Event:** [`KinesisBatch`], the fields of Lambda's Kinesis event that the processor reads
//!   (the same JSON as `aws_lambda_events`' `KinesisEvent`, parsed and dropped at a fraction of its cost).
//! * **Routing:** each record's table comes from the stream name in its `eventSourceARN`
//!   (`streaming-<prefix>-pin|geo|user`, the prefix from `PINPIPE_PREFIX`).
//! * **Cleaning:** [`pinpipe_core::decode::decode_records`] (the batch's per-record decoding) and
//!   [`pinpipe_core::clean::clean`] (the batch's rules). No duplicate content is dropped: the stream
//!   appends every record.
//! * **Storage, exactly once:** the rows of each (shard, table) of the batch are one commit to the
//!   table, partitioned by the records' arrival date, with the docs/SPEC.md §4 columns, `_raw_hash`
//!   and the lineage `_shard_id`, `_sequence_number` and `_arrival_time`. The commit
//!   sets the shard's last sequence number in the table's log (`txn`), and records the log already
//!   holds are left out: a redelivered, shorter, longer or concurrent batch adds nothing twice
//!   (`table` module).
//! * **Bad records** (not JSON, not an object, no integer key, or from a stream that feeds no table)
//!   go to [`layout::stream_rejected_key`] as [`RejectedRecord`]s with their Kinesis position, reason
//!   and data as received, written before the commit that takes them; they never block the shard.
//! * **Transient failures** (S3) are answered with `batchItemFailures` naming the records of what was
//!   not committed (from the first record of the failed group on), so Lambda retries from there.

mod clean;
mod event;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lambda_events::streams::KinesisEventResponse;
use lambda_runtime::LambdaEvent;
use pinpipe_contract::names::stream_name_of_arn;
use pinpipe_contract::{layout, Names, Payload, RejectKind, RejectedRecord, Stage, Table};
use pinpipe_lake::ObjectStore;
use pinpipe_metrics::Metrics;
use polars::prelude::PolarsError;
use serde::Serialize;

pub use event::{KinesisBatch, KinesisBatchRecord, KinesisPayload};
use table::{Refusals, ShardRecords, StreamTables};

/// The function's name when `AWS_LAMBDA_FUNCTION_NAME` is not set (the binary's name).
pub const FUNCTION: &str = "stream-processor";

/// Why a batch could not be processed at all (a storage failure is not one: it is answered with
/// `batchItemFailures`).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Decoding or cleaning one group of records failed.
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

/// Whose positions a batch's commits keep: where a record counts as already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    /// Each record's stream and shard (`<stream>/<shard>`): the trigger's batches.
    Shards,
    /// One replayed object (`replay/<key>`): its records are taken once, whatever the shards took.
    Replay(&'a str),
}

impl Source<'_> {
    fn id(&self, stream: &str, shard: &str) -> String {
        match self {
            Source::Shards => format!("{stream}/{shard}"),
            Source::Replay(key) => format!("replay/{key}"),
        }
    }
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
    /// Records the tables already held: delivered again.
    pub records_already_taken: usize,
    /// Bytes of the records' data.
    pub bytes_in: usize,
    /// Records reported in `batchItemFailures`.
    pub records_failed: usize,
    /// Objects written: data files and objects of refused records.
    pub objects_written: usize,
}

/// What one (shard, table) group of a batch becomes before it is stored ([`plan`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    /// The shard.
    pub shard: String,
    /// The table (`None`: the records' stream feeds none).
    pub table: Option<Table>,
    /// Rows per arrival date (`YYYY-MM-DD`).
    pub rows_by_date: Vec<(String, usize)>,
    /// The records refused, in event order.
    pub refused: Vec<RejectedRecord>,
}

/// What the records of a batch (from the streams of `names`) become, group by group, before any is
/// stored: pure, the same for the same records (but for records without an arrival time, which
/// arrive now).
pub fn plan(names: &Names, records: &[KinesisBatchRecord]) -> Result<Vec<GroupPlan>, ProcessError> {
    let mut plans = Vec::new();
    for group in group(names, records) {
        let (rows_by_date, refused) = match group.table {
            None => (Vec::new(), unrouted(&group, records)),
            Some(table) => {
                let cleaned = clean::clean_records(table, &group.shard, records, &group.records)?;
                let rows = cleaned.by_arrival_date.iter().map(|(date, rows)| (date.clone(), rows.height())).collect();
                (rows, cleaned.refused.into_iter().map(|(_, record)| record).collect())
            }
        };
        plans.push(GroupPlan { shard: group.shard, table: group.table, rows_by_date, refused });
    }
    Ok(plans)
}

/// What a replay of refused records made of them ([`Processor::recover`]).
#[derive(Debug, Default)]
pub struct Recovered {
    /// Rows stored now.
    pub rows_stored: usize,
    /// The records still refused, with today's reasons.
    pub still_refused: Vec<RejectedRecord>,
}

/// The stream processor: a lake, its stream tables and the stream names it accepts.
#[derive(Clone)]
pub struct Processor {
    store: Arc<dyn ObjectStore>,
    names: Names,
    tables: Arc<StreamTables>,
}

impl Processor {
    /// A processor writing to the lake in `store`, accepting the streams of `names`.
    pub fn new(store: Arc<dyn ObjectStore>, names: Names) -> Self {
        let tables = Arc::new(StreamTables::new(store.url()));
        Self { store, names, tables }
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

    /// Processes one batch of the trigger: the response for Lambda and the counts.
    pub async fn process(&self, event: KinesisBatch) -> Result<(KinesisEventResponse, BatchCounts), ProcessError> {
        self.process_from(event, Source::Shards).await
    }

    /// Processes one batch whose positions are kept as `source`.
    pub async fn process_from(
        &self,
        event: KinesisBatch,
        source: Source<'_>,
    ) -> Result<(KinesisEventResponse, BatchCounts), ProcessError> {
        let bytes_in = event.records.iter().map(|record| record.kinesis.data.0.len()).sum();
        let mut counts = BatchCounts { records_in: event.records.len(), bytes_in, ..BatchCounts::default() };
        let records = Arc::new(event.records);
        let groups = group(&self.names, &records);
        let mut failed_groups = vec![false; groups.len()];
        for (position, group) in groups.iter().enumerate() {
            let stored = match group.table {
                None => self.refuse_unrouted(group, &records).await.map_err(table::StoreGroupError::from),
                Some(table) => {
                    let source = source.id(self.names.stream(table), &group.shard);
                    let shard_records =
                        ShardRecords { table, shard: &group.shard, source, records: &records, indices: &group.records };
                    self.tables.store(self.store.as_ref(), shard_records, Refusals::Write).await
                }
            };
            match stored {
                Ok(stored) => counts.add(group.table, stored),
                Err(table::StoreGroupError::Process(error)) => return Err(error),
                Err(error) => {
                    tracing::error!(%error, shard = group.shard, "storing failed; the records are reported for retry");
                    failed_groups[position] = true;
                }
            }
        }
        let retry = records_to_retry(&groups, &failed_groups, records.len());
        let mut response = KinesisEventResponse::default();
        for (record, _) in records.iter().zip(retry).filter(|(_, retry)| *retry) {
            response.add_failure(record.kinesis.sequence_number.clone());
        }
        counts.records_failed = response.batch_item_failures.len();
        Ok((response, counts))
    }

    /// Stores the records of `event` that the rules accept now (records some stage refused before),
    /// each once whatever happens (positions kept as `replay/<source>`); gives back what is still
    /// refused instead of writing it. A record taken by an earlier replay of the same source counts
    /// as stored if the rules accept it.
    pub async fn recover(&self, event: KinesisBatch, source: &str) -> Result<Recovered, RecoverError> {
        let records = Arc::new(event.records);
        let mut recovered = Recovered::default();
        for group in group(&self.names, &records) {
            let Some(table) = group.table else {
                recovered.still_refused.extend(unrouted(&group, &records));
                continue;
            };
            let source = Source::Replay(source).id(self.names.stream(table), &group.shard);
            let shard_records =
                ShardRecords { table, shard: &group.shard, source, records: &records, indices: &group.records };
            let stored = self.tables.store(self.store.as_ref(), shard_records, Refusals::Return).await?;
            recovered.rows_stored += stored.rows;
            if stored.already_taken > 0 {
                // Taken by an earlier replay: what the rules refuse was left refused then too.
                let (records, names) = (records.clone(), self.names.clone());
                let planned =
                    tokio::task::spawn_blocking(move || plan(&names, &records)).await.map_err(ProcessError::from)??;
                let of_group =
                    planned.into_iter().find(|planned| planned.shard == group.shard && planned.table == group.table);
                recovered.still_refused.extend(of_group.into_iter().flat_map(|planned| planned.refused));
            } else {
                recovered.still_refused.extend(stored.refused);
            }
        }
        Ok(recovered)
    }

    /// Writes the refusals of a group bound for no table.
    async fn refuse_unrouted(
        &self,
        group: &Group,
        records: &[KinesisBatchRecord],
    ) -> Result<table::Stored, pinpipe_lake::StoreError> {
        let refused = unrouted(group, records);
        let (first, last) = (&records[group.records[0]], &records[group.records[group.records.len() - 1]]);
        let key = layout::stream_rejected_key(
            None,
            &group.shard,
            &first.kinesis.sequence_number,
            &last.kinesis.sequence_number,
        );
        self.store.put(&key, RejectedRecord::to_json_lines(&refused).into()).await?;
        Ok(table::Stored { refused, objects: 1, ..table::Stored::default() })
    }
}

/// The refusals of a group of records whose stream feeds no table.
fn unrouted(group: &Group, records: &[KinesisBatchRecord]) -> Vec<RejectedRecord> {
    group
        .records
        .iter()
        .zip(&group.reasons)
        .map(|(&index, reason)| {
            let record = &records[index];
            RejectedRecord {
                stage: Stage::StreamProcessor,
                table: None,
                origin: clean::origin_of(record),
                kind: RejectKind::UnknownStream,
                reason: reason.to_string(),
                payload: Some(Payload::of_bytes(&record.kinesis.data.0)),
            }
        })
        .collect()
}

/// Why a replay of refused records failed.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RecoverError(#[from] table::StoreGroupError);

impl From<ProcessError> for RecoverError {
    fn from(error: ProcessError) -> Self {
        RecoverError(error.into())
    }
}

impl BatchCounts {
    fn add(&mut self, table: Option<Table>, stored: table::Stored) {
        if let Some(table) = table.filter(|_| stored.rows > 0) {
            *self.rows_stored.entry(table).or_insert(0) += stored.rows;
        }
        self.records_rejected += stored.refused.len();
        for refusal in &stored.refused {
            *self.rejected_by_kind.entry(refusal.kind).or_insert(0) += 1;
        }
        self.records_already_taken += stored.already_taken;
        self.objects_written += stored.objects;
    }
}

/// Splits the event's `records` by shard and table (by the streams of `names`), keeping event order
/// within each group.
fn group(names: &Names, records: &[KinesisBatchRecord]) -> Vec<Group> {
    let mut groups: BTreeMap<(&str, Option<Table>), Group> = BTreeMap::new();
    // An event's records mostly name one stream: each ARN is routed once in a row.
    let mut routed: Option<(Option<&str>, Result<Table, RouteError>)> = None;
    for (index, record) in records.iter().enumerate() {
        let arn = record.event_source_arn.as_deref();
        let routing = match &routed {
            Some((last, routing)) if *last == arn => routing,
            _ => &routed.insert((arn, route(names, arn))).1,
        };
        let (table, reason) = match routing {
            Ok(table) => (Some(*table), None),
            Err(reason) => (None, Some(reason.clone())),
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
            label, BYTES_IN, DUPLICATES_DROPPED, KIND_DIMENSION, OBJECTS_WRITTEN, RECORDS_CLEANED, RECORDS_IN,
            RECORDS_REJECTED, RECORDS_RETRIED,
        };
        let mut metrics = Metrics::new(function);
        metrics
            .put(RECORDS_IN, self.records_in)
            .put(RECORDS_CLEANED, self.rows_stored.values().sum::<usize>())
            .put(RECORDS_REJECTED, self.records_rejected)
            .put(RECORDS_RETRIED, self.records_failed)
            .put(DUPLICATES_DROPPED, self.records_already_taken)
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
        records_already_taken = counts.records_already_taken,
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
            records_already_taken: 5,
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
        assert_eq!(totals["DuplicatesDropped"].as_u64(), Some(5));
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
