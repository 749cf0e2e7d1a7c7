//! The `stream-processor` Lambda: a Kinesis batch → the same cleaning as the batch transform →
//! Parquet parts appended to the stream tables `stream/<table>/` (SPEC §3, §4).
//!
//! * **Event:** [`KinesisBatch`], the fields of Lambda's Kinesis event that the processor reads
//!   (the same JSON as `aws_lambda_events`' `KinesisEvent`, parsed and dropped at a fraction of its cost).
//! * **Routing:** each record's table comes from the stream name in its `eventSourceARN`
//!   (`streaming-<prefix>-pin|geo|user`, the prefix from `PINPIPE_PREFIX`).
//! * **Cleaning:** [`pinpipe_core::decode::decode_records`] (the batch's per-record decoding) and
//!   [`pinpipe_core::clean::clean`] (the batch's rules). No duplicates are dropped: the stream
//!   appends every record.
//! * **Storage:** the cleaned rows of each (shard, table) of the batch become one Parquet part at
//!   [`layout::stream_part_key`]`(table, shard, first sequence number)`, with the columns of a
//!   `cleaned/` part (the SPEC §4 columns, then `_raw_hash`) and the record's lineage, `_shard_id`
//!   and `_sequence_number`. A retried batch starts at the same
//!   sequence number, so it rewrites the same part instead of adding a second one.
//! * **Bad records** (not JSON, not an object, no integer key, or from a stream that feeds no table)
//!   go to `rejected/stream-processor/<table or unrouted>/<shard>-<first sequence number>.jsonl`
//!   with their reason; they never block the shard.
//! * **Transient failures** (an S3 write) are answered with `batchItemFailures` naming the records of
//!   what was not stored (from the first record of the failed group on), so Lambda retries from there
//!   and the retry rewrites the same objects.

mod event;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context as _;
use aws_lambda_events::streams::KinesisEventResponse;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use pinpipe_core::batch::parquet_bytes;
use pinpipe_core::clean::clean;
use pinpipe_core::decode::{decode_records, RejectKind};
use pinpipe_core::Table;
use pinpipe_lake::{layout, ObjectStore};
use polars::prelude::{Column, DataFrame, ParquetCompression, PlSmallStr, Scalar};
use serde::Serialize;

pub use event::{KinesisBatch, KinesisBatchRecord, KinesisPayload};

/// The name this stage files refused records under (`rejected/stream-processor/…`).
pub const STAGE: &str = "stream-processor";

/// The folder of `rejected/stream-processor/` for records whose stream feeds no table.
pub const UNROUTED: &str = "unrouted";

/// The stream tables' lineage column naming the shard a row came from.
pub const SHARD_ID_COLUMN: &str = "_shard_id";

/// The stream tables' lineage column holding the Kinesis sequence number of a row's record: with
/// [`SHARD_ID_COLUMN`], it names the record exactly, so readers can tell a redelivered record from
/// an equal but distinct one.
pub const SEQUENCE_NUMBER_COLUMN: &str = "_sequence_number";

/// How stream parts are compressed: Snappy, as Kinesis Data Firehose writes Parquet. Parts are
/// small, many and written on every batch; Snappy costs a fraction of zstd's CPU there
/// (`benches/stream.rs`, `stream/stage/parquet_*`) for somewhat larger objects.
pub const PART_COMPRESSION: ParquetCompression = ParquetCompression::Snappy;

/// S3 puts in flight at once.
pub const WRITE_CONCURRENCY: usize = 8;

/// The three stream names of one prefix: `streaming-<prefix>-pin|geo|user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamNames {
    /// The stream of each table, in [`Table::ALL`] order (made once: every record is routed).
    names: [(Table, String); 3],
}

impl StreamNames {
    /// The streams of `prefix` (validate it with [`pinpipe_lake::config::validate_prefix`]).
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        Self { names: Table::ALL.map(|table| (table, pinpipe_lake::config::stream_name(&prefix, table.name()))) }
    }

    /// The table a record's `eventSourceARN` feeds, or why it feeds none.
    pub fn route(&self, event_source_arn: Option<&str>) -> Result<Table, String> {
        let arn = event_source_arn.ok_or("the record has no eventSourceARN")?;
        let stream =
            stream_name_of_arn(arn).ok_or_else(|| format!("eventSourceARN {arn:?} is not a Kinesis stream ARN"))?;
        self.names.iter().find(|(_, name)| name == stream).map(|(table, _)| *table).ok_or_else(|| {
            let [pin, geo, user] = &self.names;
            format!("stream {stream:?} feeds no table: the streams are {}, {} and {}", pin.1, geo.1, user.1)
        })
    }
}

/// The stream name of `arn:aws:kinesis:<region>:<account>:stream/<name>` (an enhanced fan-out
/// consumer's `…:stream/<name>/consumer/…` too).
pub fn stream_name_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let resource = parts.nth(2)?;
    if arn_word != "arn" || service != "kinesis" {
        return None;
    }
    let name = resource.strip_prefix("stream/")?.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// Where a group of records goes: a table, or nowhere (their stream feeds no table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Route {
    Table(Table),
    Unrouted,
}

impl Route {
    fn folder(self) -> &'static str {
        match self {
            Route::Table(table) => table.name(),
            Route::Unrouted => UNROUTED,
        }
    }
}

/// The records of one shard bound for one route, in event order.
#[derive(Debug)]
struct Group {
    shard: String,
    route: Route,
    /// The records' indices in the event, ascending.
    records: Vec<usize>,
    /// For unrouted records, why (by position in `records`).
    reasons: Vec<String>,
}

/// The kind of a refusal: a decoding problem, or a stream that feeds no table.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
enum Kind {
    Decode(RejectKind),
    Route(&'static str),
}

/// One refused record, as a line of a `rejected/stream-processor/…` object.
#[derive(Debug, Serialize)]
struct RejectedRecord {
    /// The stream it came from (from its eventSourceARN).
    stream: Option<String>,
    shard_id: String,
    sequence_number: String,
    kind: Kind,
    reason: String,
    /// The record's data as text (invalid UTF-8 replaced).
    record: String,
}

/// One object to write for one group.
struct Write {
    key: String,
    body: Bytes,
    /// The group (position in the event's groups) whose records this object stores.
    group: usize,
    /// For a Parquet part: its table and rows.
    rows: Option<(Table, usize)>,
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
    /// Records reported in `batchItemFailures`.
    pub records_failed: usize,
    /// Objects written.
    pub objects_written: usize,
}

/// The stream processor: a lake and the stream names it accepts.
#[derive(Clone)]
pub struct Processor {
    store: Arc<dyn ObjectStore>,
    streams: StreamNames,
}

impl Processor {
    /// A processor writing to `store`, accepting the streams of `streams`.
    pub fn new(store: Arc<dyn ObjectStore>, streams: StreamNames) -> Self {
        Self { store, streams }
    }

    /// Handles one Kinesis event: the Lambda handler.
    pub async fn handle(&self, event: LambdaEvent<KinesisBatch>) -> anyhow::Result<KinesisEventResponse> {
        let (response, counts) = self.process(event.payload).await?;
        log_counts(&counts);
        Ok(response)
    }

    /// Processes one batch: the response for Lambda and the counts.
    pub async fn process(&self, event: KinesisBatch) -> anyhow::Result<(KinesisEventResponse, BatchCounts)> {
        let mut counts = BatchCounts { records_in: event.records.len(), ..BatchCounts::default() };
        if event.records.is_empty() {
            return Ok((KinesisEventResponse::default(), counts));
        }
        // Shared with the cleaning task, which reads the records in place.
        let records = Arc::new(event.records);
        let groups = Arc::new(group(&self.streams, &records));
        let (writes, records_rejected) = {
            let (records, groups) = (records.clone(), groups.clone());
            tokio::task::spawn_blocking(move || prepare(&groups, &records))
                .await
                .context("the cleaning task failed")??
        };
        counts.records_rejected = records_rejected;

        let store = self.store.as_ref();
        let results: Vec<(Write, Result<(), anyhow::Error>)> = stream::iter(writes)
            .map(|mut write| async move {
                let body = std::mem::take(&mut write.body);
                let result = store.put(&write.key, body).await.with_context(|| format!("storing {}", write.key));
                (write, result)
            })
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect()
            .await;
        let mut failed_groups = vec![false; groups.len()];
        for (write, result) in results {
            match result {
                Ok(()) => {
                    counts.objects_written += 1;
                    if let Some((table, rows)) = write.rows {
                        *counts.rows_stored.entry(table).or_insert(0) += rows;
                    }
                }
                Err(error) => {
                    tracing::error!(
                        error = %format!("{error:#}"),
                        records = groups[write.group].records.len(),
                        "write failed; its records are reported for retry"
                    );
                    failed_groups[write.group] = true;
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
}

/// Splits the event's `records` by shard and route (by `streams`), keeping event order within each
/// group.
fn group(streams: &StreamNames, records: &[KinesisBatchRecord]) -> Vec<Group> {
    let mut groups: BTreeMap<(&str, Route), Group> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        let (route, reason) = match streams.route(record.event_source_arn.as_deref()) {
            Ok(table) => (Route::Table(table), None),
            Err(reason) => (Route::Unrouted, Some(reason)),
        };
        let shard = record.shard();
        let group = groups.entry((shard, route)).or_insert_with(|| Group {
            shard: shard.to_string(),
            route,
            records: Vec::new(),
            reasons: Vec::new(),
        });
        group.records.push(index);
        group.reasons.extend(reason);
    }
    groups.into_values().collect()
}

/// Decodes and cleans every group of `records`, giving the objects to write: one Parquet part per
/// group with rows, one object of refused records per group with refusals; and the number of
/// refusals.
fn prepare(groups: &[Group], records: &[KinesisBatchRecord]) -> anyhow::Result<(Vec<Write>, usize)> {
    let mut writes = Vec::new();
    let mut records_rejected = 0;
    for (position, group) in groups.iter().enumerate() {
        let of_group: Vec<&KinesisBatchRecord> = group.records.iter().map(|&index| &records[index]).collect();
        let first_sequence_number = &of_group[0].kinesis.sequence_number;
        let refusal = |index: usize, kind: Kind, reason: String, record: String| {
            let arn = records[index].event_source_arn.as_deref();
            let line = RejectedRecord {
                stream: arn.map(|arn| stream_name_of_arn(arn).unwrap_or(arn).to_string()),
                shard_id: group.shard.clone(),
                sequence_number: records[index].kinesis.sequence_number.clone(),
                kind,
                reason,
                record,
            };
            (index, line)
        };
        let mut rejected: Vec<(usize, RejectedRecord)> = Vec::new();
        match group.route {
            Route::Unrouted => {
                for ((&index, record), reason) in group.records.iter().zip(&of_group).zip(&group.reasons) {
                    let text = String::from_utf8_lossy(&record.kinesis.data.0).into_owned();
                    rejected.push(refusal(index, Kind::Route("unknown_stream"), reason.clone(), text));
                }
            }
            Route::Table(table) => {
                let data: Vec<&[u8]> = of_group.iter().map(|record| record.kinesis.data.0.as_slice()).collect();
                let decoded = decode_records(table, &data)
                    .with_context(|| format!("decoding the {table} records of {}", group.shard))?;
                let mut refused = vec![false; of_group.len()];
                for refused_record in decoded.rejected {
                    let at: usize = refused_record.source.parse().expect("records are named by position");
                    refused[at] = true;
                    let kind = Kind::Decode(refused_record.kind);
                    rejected.push(refusal(group.records[at], kind, refused_record.reason, refused_record.record));
                }
                let cleaned = clean(table, decoded.frame)
                    .with_context(|| format!("cleaning the {table} records of {}", group.shard))?;
                let sequence_numbers: Vec<&str> = of_group
                    .iter()
                    .zip(&refused)
                    .filter(|(_, refused)| !**refused)
                    .map(|(record, _)| record.kinesis.sequence_number.as_str())
                    .collect();
                let part = with_lineage(cleaned.frame, &group.shard, &sequence_numbers)?;
                let rows = part.height();
                if rows > 0 {
                    writes.push(Write {
                        key: layout::stream_part_key(table.name(), &group.shard, first_sequence_number),
                        body: parquet_bytes(&part, PART_COMPRESSION).context("writing a Parquet part")?,
                        group: position,
                        rows: Some((table, rows)),
                    });
                }
            }
        }
        if !rejected.is_empty() {
            rejected.sort_by_key(|(index, _)| *index);
            let mut body = Vec::new();
            for (_, line) in &rejected {
                serde_json::to_writer(&mut body, line)?;
                body.push(b'\n');
            }
            records_rejected += rejected.len();
            let name = format!("{}/{}-{first_sequence_number}", group.route.folder(), group.shard);
            writes.push(Write {
                key: layout::rejected_key(STAGE, &name),
                body: body.into(),
                group: position,
                rows: None,
            });
        }
    }
    Ok((writes, records_rejected))
}

/// Adds [`SHARD_ID_COLUMN`] and [`SEQUENCE_NUMBER_COLUMN`] to the cleaned rows of one group, whose
/// records (those not refused, in order) have `sequence_numbers`.
fn with_lineage(frame: DataFrame, shard: &str, sequence_numbers: &[&str]) -> anyhow::Result<DataFrame> {
    anyhow::ensure!(
        frame.height() == sequence_numbers.len(),
        "cleaning gave {} rows for {} records of shard {shard}",
        frame.height(),
        sequence_numbers.len()
    );
    let rows = frame.height();
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
            route: Route::Table(Table::Pin),
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
    fn streams_route_to_their_tables() {
        let streams = StreamNames::new("0a1b");
        let arn = |name: &str| format!("arn:aws:kinesis:us-east-1:123456789012:stream/{name}");
        assert_eq!(streams.route(Some(&arn("streaming-0a1b-pin"))), Ok(Table::Pin));
        assert_eq!(streams.route(Some(&arn("streaming-0a1b-geo"))), Ok(Table::Geo));
        assert_eq!(streams.route(Some(&arn("streaming-0a1b-user"))), Ok(Table::User));
        let wrong = streams.route(Some(&arn("streaming-other-pin"))).unwrap_err();
        assert!(wrong.contains("feeds no table") && wrong.contains("streaming-0a1b-user"), "{wrong}");
        assert!(streams.route(None).unwrap_err().contains("no eventSourceARN"));
        assert!(streams
            .route(Some("arn:aws:sqs:us-east-1:123456789012:streaming-0a1b-pin"))
            .unwrap_err()
            .contains("not a Kinesis stream ARN"));
        assert_eq!(stream_name_of_arn("arn:aws:kinesis:us-east-1:1:stream/s/consumer/c:1"), Some("s"));
    }
}
