//! The `kafka-to-s3` Lambda: an MSK (Kafka) batch → raw JSON-lines objects in the lake (docs/SPEC.md §3).
//!
//! The records of each topic partition are ordered by offset and every contiguous run of landed
//! offsets becomes one object at [`layout::raw_key`]`(topic, partition, first offset)`, holding each
//! value exactly as produced (base64-decoded, not re-serialised), one per line, each ending in `\n`:
//! line `i` is offset `first offset + i`. This is the layout a Kafka Connect S3 sink with the default
//! partitioner writes.
//!
//! * **Nothing doubled:** a key depends only on topic, partition and first offset, so a redelivered
//!   batch rewrites the same objects with the same bytes.
//! * **Nothing lost:** every object is written before the function answers; any S3 failure fails the
//!   invocation, so the MSK trigger retries the batch (S3 puts are atomic: no partial object).
//! * **Bad input gets a clear answer:** a value that cannot be one JSON line (missing, not base64,
//!   not UTF-8, not JSON, or holding a raw line break), and every record of a topic that feeds no
//!   table, goes to [`layout::landing_rejected_key`] (`rejected/kafka-to-s3/…`, named by the run's
//!   first offset, so redelivery rewrites it too) as a [`RejectedRecord`] with its Kafka position,
//!   reason and value as received; it does not fail the batch.
//!
//! This crate only moves bytes: it depends on neither Polars nor `pinpipe-core`.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::kafka::{KafkaEvent, KafkaRecord};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use lambda_runtime::LambdaEvent;
use pinpipe_contract::names::{is_kafka_topic_name, table_of_any_topic};
use pinpipe_contract::{layout, Origin, Payload, RejectKind, RejectedRecord, Stage, Table, TopicPosition};
use pinpipe_lake::{ObjectStore, StoreError};
use pinpipe_metrics::Metrics;
use serde::Serialize;

/// S3 puts in flight at once.
pub const WRITE_CONCURRENCY: usize = 16;

/// The function's name when `AWS_LAMBDA_FUNCTION_NAME` is not set (the binary's name).
pub const FUNCTION: &str = "kafka-to-s3";

/// What the function answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LandingSummary {
    /// Raw objects written under `topics/`.
    pub objects_written: usize,
    /// Records landed in those objects.
    pub records_landed: usize,
    /// Records refused (written to `rejected/kafka-to-s3/…`).
    pub records_rejected: usize,
    /// Objects of refused records written.
    pub rejected_objects: usize,
}

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedObject {
    /// Its key in the lake.
    pub key: String,
    /// Its whole content.
    pub body: Bytes,
}

/// Every object one event produces, and the counts for the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Raw objects, then objects of refused records, in key order within each topic partition.
    pub objects: Vec<PlannedObject>,
    /// The counts.
    pub summary: LandingSummary,
    /// Refused records by kind of refusal.
    pub rejected_by_kind: BTreeMap<RejectKind, usize>,
    /// Bytes of the raw objects (not of the objects of refused records).
    pub bytes_landed: usize,
}

/// Works out every object `event` lands: pure, so the same event always gives the same objects.
pub fn plan(event: &KafkaEvent) -> Plan {
    let mut partitions: BTreeMap<(String, i64), Vec<&KafkaRecord>> = BTreeMap::new();
    for (group, records) in &event.records {
        for record in records {
            let topic = record.topic.clone().unwrap_or_else(|| topic_of_group(group).to_string());
            partitions.entry((topic, record.partition)).or_default().push(record);
        }
    }
    let mut plan = Plan::default();
    for ((topic, partition), mut records) in partitions {
        records.sort_by_key(|record| record.offset);
        // The same offset twice in one event is one record delivered twice: land it once.
        records.dedup_by_key(|record| record.offset);
        let route = route(&topic);
        for run in contiguous_runs(&records) {
            plan_run(&mut plan, &topic, partition, run, &route);
        }
    }
    plan
}

/// Adds the objects of one contiguous run of offsets of one topic partition (whose table, or why it
/// has none, is `route`): one raw object per stretch of landed records between refusals, so that
/// every raw object holds consecutive offsets from the one in its key; and one object of the run's
/// refused records.
fn plan_run(plan: &mut Plan, topic: &str, partition: i64, run: &[&KafkaRecord], route: &Result<Table, Refusal>) {
    let mut stretch = RawStretch::default();
    let mut rejected = Vec::new();
    for record in run {
        let outcome = match route {
            Ok(_) => json_line(record.value.as_deref()),
            Err(refusal) => Err(refusal.clone()),
        };
        match outcome {
            Ok(value) => stretch.push(record.offset, &value),
            Err(refusal) => {
                stretch.flush(plan, topic, partition);
                rejected.push(RejectedRecord {
                    stage: Stage::KafkaToS3,
                    table: route.as_ref().ok().copied(),
                    origin: Origin::Kafka(TopicPosition { topic: topic.to_string(), partition, offset: record.offset }),
                    kind: refusal.kind,
                    reason: refusal.reason,
                    payload: payload_as_received(record.value.as_deref()),
                })
            }
        }
    }
    stretch.flush(plan, topic, partition);
    for refusal in &rejected {
        *plan.rejected_by_kind.entry(refusal.kind).or_insert(0) += 1;
    }
    if !rejected.is_empty() {
        let body = RejectedRecord::to_json_lines(&rejected).into();
        let key = layout::landing_rejected_key(topic, partition, run[0].offset);
        plan.objects.push(PlannedObject { key, body });
        plan.summary.rejected_objects += 1;
        plan.summary.records_rejected += rejected.len();
    }
}

/// Landed values of consecutive offsets, not yet an object.
#[derive(Default)]
struct RawStretch {
    first_offset: Option<i64>,
    lines: Vec<u8>,
    count: usize,
}

impl RawStretch {
    fn push(&mut self, offset: i64, value: &[u8]) {
        self.first_offset.get_or_insert(offset);
        self.lines.extend_from_slice(value);
        self.lines.push(b'\n');
        self.count += 1;
    }

    /// Adds the stretch to `plan` as one raw object, if it holds any record, and starts a new one.
    fn flush(&mut self, plan: &mut Plan, topic: &str, partition: i64) {
        let stretch = std::mem::take(self);
        let Some(first_offset) = stretch.first_offset else { return };
        plan.bytes_landed += stretch.lines.len();
        let key = layout::raw_key(topic, partition, first_offset);
        plan.objects.push(PlannedObject { key, body: stretch.lines.into() });
        plan.summary.objects_written += 1;
        plan.summary.records_landed += stretch.count;
    }
}

/// Why a record is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    kind: RejectKind,
    reason: String,
}

impl Refusal {
    fn new(kind: RejectKind, reason: impl Into<String>) -> Self {
        Refusal { kind, reason: reason.into() }
    }
}

/// The table `topic` feeds, or why none.
fn route(topic: &str) -> Result<Table, Refusal> {
    if !is_kafka_topic_name(topic) {
        return Err(Refusal::new(RejectKind::UnknownTopic, format!("{topic:?} is not a Kafka topic name")));
    }
    table_of_any_topic(topic).ok_or_else(|| {
        let reason = format!("topic {topic:?} feeds no table: topics are <prefix>.pin, <prefix>.geo or <prefix>.user");
        Refusal::new(RejectKind::UnknownTopic, reason)
    })
}

/// The topic of a records group named `<topic>-<partition>`, as MSK names them.
fn topic_of_group(group: &str) -> &str {
    match group.rsplit_once('-') {
        Some((topic, partition)) if partition.parse::<i64>().is_ok() => topic,
        _ => group,
    }
}

/// Splits records sorted by offset into runs of consecutive offsets.
fn contiguous_runs<'a, 'r>(records: &'a [&'r KafkaRecord]) -> Vec<&'a [&'r KafkaRecord]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=records.len() {
        if i == records.len() || records[i].offset != records[i - 1].offset + 1 {
            runs.push(&records[start..i]);
            start = i;
        }
    }
    runs
}

/// The bytes of a base64 value if they can be one JSON line, else why not.
fn json_line(value: Option<&str>) -> Result<Vec<u8>, Refusal> {
    let Some(encoded) = value else {
        return Err(Refusal::new(RejectKind::MissingValue, "the record has no value (null)"));
    };
    let bytes = pinpipe_events::decode_base64(encoded)
        .map_err(|error| Refusal::new(RejectKind::NotBase64, format!("the value is not base64: {error}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|error| Refusal::new(RejectKind::NotUtf8, format!("the value is not UTF-8: {error}")))?;
    if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(Refusal::new(RejectKind::NotJson, format!("the value is not valid JSON: {error}")));
    }
    if text.contains('\n') {
        return Err(Refusal::new(
            RejectKind::LineBreak,
            "the value holds a raw line break, so it cannot be one JSON line",
        ));
    }
    Ok(bytes)
}

/// A value as received: its decoded bytes, or the event's text when it is not base64; none when the
/// record has no value.
fn payload_as_received(value: Option<&str>) -> Option<Payload> {
    let encoded = value?;
    Some(match pinpipe_events::decode_base64(encoded) {
        Ok(bytes) => Payload::of_bytes(&bytes),
        Err(_) => Payload::Text(encoded.to_string()),
    })
}

/// Writes every planned object, up to [`WRITE_CONCURRENCY`] at a time; the first failure is the error.
pub async fn write(store: &dyn ObjectStore, objects: Vec<PlannedObject>) -> Result<(), StoreError> {
    stream::iter(objects)
        .map(|object| async move { store.put(&object.key, object.body).await })
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Handles one MSK event against the lake in `store`.
pub async fn handle(store: Arc<dyn ObjectStore>, event: LambdaEvent<KafkaEvent>) -> Result<LandingSummary, StoreError> {
    handle_measured(store, event).await.map(|(summary, _)| summary)
}

/// [`handle`], and the invocation's metrics for the function's `main` to emit (none when it fails:
/// Lambda counts the error, and the retry reports the batch).
pub async fn handle_measured(
    store: Arc<dyn ObjectStore>,
    event: LambdaEvent<KafkaEvent>,
) -> Result<(LandingSummary, Metrics), StoreError> {
    let records_in: usize = event.payload.records.values().map(Vec::len).sum();
    let oldest_timestamp_ms = oldest_timestamp_ms(&event.payload);
    let Plan { objects, summary, rejected_by_kind, bytes_landed } = plan(&event.payload);
    if let Err(error) = write(store.as_ref(), objects).await {
        tracing::error!(
            records_in,
            objects_planned = summary.objects_written + summary.rejected_objects,
            %error,
            "landing failed; the batch will be retried"
        );
        return Err(error);
    }
    if summary.records_rejected > 0 {
        tracing::warn!(
            records_rejected = summary.records_rejected,
            rejected_objects = summary.rejected_objects,
            "records refused (see rejected/kafka-to-s3/)"
        );
    }
    tracing::info!(
        records_in,
        objects_written = summary.objects_written,
        records_landed = summary.records_landed,
        records_rejected = summary.records_rejected,
        "batch landed"
    );
    let landing = Landing { records_in, summary: &summary, rejected_by_kind: &rejected_by_kind, bytes_landed };
    let metrics = landing.metrics(&pinpipe_metrics::function_name(FUNCTION), oldest_timestamp_ms, now_ms());
    Ok((summary, metrics))
}

/// What one landed event did, for its metrics.
struct Landing<'a> {
    records_in: usize,
    summary: &'a LandingSummary,
    rejected_by_kind: &'a BTreeMap<RejectKind, usize>,
    bytes_landed: usize,
}

impl Landing<'_> {
    /// The metrics of `function`'s invocation at `now_ms`, whose oldest record was stamped
    /// `oldest_timestamp_ms`.
    fn metrics(&self, function: &str, oldest_timestamp_ms: Option<i64>, now_ms: i64) -> Metrics {
        use pinpipe_metrics::{
            label, BYTES_LANDED, DUPLICATES_DROPPED, KIND_DIMENSION, OBJECTS_WRITTEN, RECORDS_IN, RECORDS_LANDED,
            RECORDS_REJECTED, RECORD_AGE,
        };
        let summary = self.summary;
        let mut metrics = Metrics::new(function);
        metrics
            .put(RECORDS_IN, self.records_in)
            .put(RECORDS_LANDED, summary.records_landed)
            .put(RECORDS_REJECTED, summary.records_rejected)
            // An offset delivered twice in one event is landed once.
            .put(DUPLICATES_DROPPED, self.records_in.saturating_sub(summary.records_landed + summary.records_rejected))
            .put(OBJECTS_WRITTEN, summary.objects_written + summary.rejected_objects)
            .put(BYTES_LANDED, self.bytes_landed);
        if let Some(oldest) = oldest_timestamp_ms {
            metrics.put(RECORD_AGE, u64::try_from(now_ms.saturating_sub(oldest)).unwrap_or(0));
        }
        for (kind, count) in self.rejected_by_kind {
            metrics.put_by(RECORDS_REJECTED, KIND_DIMENSION, label(kind), *count);
        }
        metrics
    }
}

/// The Kafka timestamp (milliseconds since the epoch) of the event's oldest record; records without
/// one (Kafka's -1) are passed over.
fn oldest_timestamp_ms(event: &KafkaEvent) -> Option<i64> {
    event.records.values().flatten().map(|record| record.timestamp.0.timestamp_millis()).filter(|&ms| ms > 0).min()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn values_that_cannot_be_one_json_line_are_refused_with_a_reason() {
        assert_eq!(json_line(Some(&b64(r#"{"ind": 1}"#))).unwrap(), br#"{"ind": 1}"#);
        assert_eq!(json_line(Some(&b64("[1, 2]"))).unwrap(), b"[1, 2]");
        let refused = |value: Option<&str>| json_line(value).unwrap_err();
        assert_eq!(refused(None).kind, RejectKind::MissingValue);
        assert!(refused(None).reason.contains("no value"));
        assert_eq!(refused(Some("%%%")).kind, RejectKind::NotBase64);
        assert_eq!(refused(Some("QR==")).reason, "the value is not base64: Invalid last symbol 82, offset 1.");
        let latin1 = base64::engine::general_purpose::STANDARD.encode(b"{\"a\": \"\xe9\"}");
        assert_eq!(refused(Some(&latin1)).kind, RejectKind::NotUtf8);
        assert_eq!(refused(Some(&b64("{\"ind\": 1"))).kind, RejectKind::NotJson);
        assert_eq!(refused(Some(&b64(""))).kind, RejectKind::NotJson);
        assert_eq!(refused(Some(&b64("{\"ind\":\n 1}"))).kind, RejectKind::LineBreak);
        // The payload keeps the value as received.
        assert_eq!(payload_as_received(Some(&latin1)).unwrap().to_bytes().unwrap(), b"{\"a\": \"\xe9\"}");
        assert_eq!(payload_as_received(Some("%%%")), Some(Payload::Text("%%%".into())));
        assert_eq!(payload_as_received(None), None);
    }

    #[test]
    fn the_metrics_count_what_the_plan_lands_and_refuses() {
        let record = |offset: i64, value: Option<&str>, timestamp_ms: i64| {
            let mut record = KafkaRecord::default();
            record.topic = Some("p.pin".to_string());
            record.offset = offset;
            record.value = value.map(b64);
            record.timestamp = serde_json::from_value(serde_json::json!(timestamp_ms)).unwrap();
            record
        };
        let mut event = KafkaEvent::default();
        let records = vec![
            record(0, Some(r#"{"ind": 1}"#), 1_000),
            record(1, Some("{oops"), 2_000),
            record(1, Some("{oops"), 2_000),
            record(2, None, 0),
        ];
        event.records.insert("p.pin-0".to_string(), records);
        let plan = plan(&event);
        assert_eq!(plan.bytes_landed, r#"{"ind": 1}"#.len() + 1);
        assert_eq!(plan.rejected_by_kind, BTreeMap::from([(RejectKind::NotJson, 1), (RejectKind::MissingValue, 1)]));
        let landing = Landing {
            records_in: 4,
            summary: &plan.summary,
            rejected_by_kind: &plan.rejected_by_kind,
            bytes_landed: 11,
        };
        let metrics = landing.metrics("pinpipe-kafka-to-s3", oldest_timestamp_ms(&event), 61_000);
        let lines: Vec<serde_json::Value> =
            metrics.to_lines(0).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        let totals = &lines[0];
        assert_eq!(totals["Function"], "pinpipe-kafka-to-s3");
        assert_eq!(
            [totals["RecordsIn"].clone(), totals["RecordsLanded"].clone(), totals["RecordsRejected"].clone()],
            [4, 1, 2]
        );
        assert_eq!(totals["DuplicatesDropped"], 1);
        assert_eq!(totals["ObjectsWritten"], 2);
        assert_eq!(totals["BytesLanded"], 11);
        assert_eq!(totals["RecordAge"], 60_000, "the oldest stamped record, a minute old");
        let kinds: Vec<(&str, u64)> = lines[1..]
            .iter()
            .map(|line| (line["Kind"].as_str().unwrap(), line["RecordsRejected"].as_u64().unwrap()))
            .collect();
        assert_eq!(kinds, [("not_json", 1), ("missing_value", 1)]);
    }

    #[test]
    fn topics_must_feed_a_table_and_be_topic_names() {
        assert_eq!(route("0a1b.pin"), Ok(Table::Pin));
        assert_eq!(route("user"), Ok(Table::User));
        let clicks = route("0a1b.clicks").unwrap_err();
        assert_eq!(clicks.kind, RejectKind::UnknownTopic);
        assert!(clicks.reason.contains("feeds no table"));
        assert!(route("../x.pin").unwrap_err().reason.contains("not a Kafka topic name"));
        assert_eq!(topic_of_group("p.pin-12"), "p.pin");
        assert_eq!(topic_of_group("odd"), "odd");
    }
}
