//! The `kafka-to-s3` Lambda: an MSK (Kafka) batch → raw JSON-lines objects in the lake (SPEC §3).
//!
//! The records of each topic partition are ordered by offset and every contiguous run of offsets
//! becomes one object at [`layout::raw_key`]`(topic, partition, first offset)`, holding each value
//! exactly as produced (base64-decoded, not re-serialised), one per line, each ending in `\n`. This is
//! the layout a Kafka Connect S3 sink with the default partitioner writes.
//!
//! * **Nothing doubled:** a key depends only on topic, partition and first offset, so a redelivered
//!   batch rewrites the same objects with the same bytes.
//! * **Nothing lost:** every object is written before the function answers; any S3 failure fails the
//!   invocation, so the MSK trigger retries the batch (S3 puts are atomic: no partial object).
//! * **Bad input gets a clear answer:** a value that cannot be one JSON line (missing, not base64,
//!   not UTF-8, not JSON, or holding a raw line break), and every record of a topic that feeds no
//!   table, goes to `rejected/kafka-to-s3/<topic>/partition=<p>/<topic>+<p>+<first offset>.jsonl`
//!   (the run's first offset, so redelivery rewrites it too) with its reason; it does not fail the batch.
//!
//! This crate only moves bytes: it depends on neither Polars nor `pinpipe-core`.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use aws_lambda_events::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine as _;
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use lambda_runtime::LambdaEvent;
use pinpipe_lake::{layout, ObjectStore};
use serde::Serialize;

/// The name this stage files refused records under (`rejected/kafka-to-s3/…`).
pub const STAGE: &str = "kafka-to-s3";

/// The tables a topic may feed: `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`.
pub const TABLES: [&str; 3] = ["pin", "geo", "user"];

/// S3 puts in flight at once.
pub const WRITE_CONCURRENCY: usize = 16;

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
}

/// One refused record, as a line of a `rejected/kafka-to-s3/…` object.
#[derive(Debug, Serialize)]
struct RejectedRecord<'a> {
    topic: &'a str,
    partition: i64,
    offset: i64,
    reason: String,
    /// The value's text (invalid UTF-8 replaced; the base64 text when it is not base64), or null.
    value: Option<String>,
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
        let topic_problem = topic_problem(&topic);
        for run in contiguous_runs(&records) {
            plan_run(&mut plan, &topic, partition, run, topic_problem.as_deref());
        }
    }
    plan
}

/// Adds the objects of one contiguous run of offsets of one topic partition.
fn plan_run(plan: &mut Plan, topic: &str, partition: i64, run: &[&KafkaRecord], topic_problem: Option<&str>) {
    let first_offset = run[0].offset;
    let mut landed = Vec::new();
    let mut landed_count = 0;
    let mut rejected = Vec::new();
    let mut rejected_count = 0;
    for record in run {
        let outcome = match topic_problem {
            Some(problem) => Err((problem.to_string(), decoded_text(record.value.as_deref()))),
            None => json_line(record.value.as_deref()),
        };
        match outcome {
            Ok(value) => {
                landed.extend_from_slice(&value);
                landed.push(b'\n');
                landed_count += 1;
            }
            Err((reason, value)) => {
                let line = RejectedRecord { topic, partition, offset: record.offset, reason, value };
                serde_json::to_writer(&mut rejected, &line).expect("a rejection serialises");
                rejected.push(b'\n');
                rejected_count += 1;
            }
        }
    }
    if landed_count > 0 {
        plan.objects.push(PlannedObject { key: layout::raw_key(topic, partition, first_offset), body: landed.into() });
        plan.summary.objects_written += 1;
        plan.summary.records_landed += landed_count;
    }
    if rejected_count > 0 {
        plan.objects.push(PlannedObject { key: rejected_key(topic, partition, first_offset), body: rejected.into() });
        plan.summary.rejected_objects += 1;
        plan.summary.records_rejected += rejected_count;
    }
}

/// The key of the refused records of the run of `topic` partition `partition` starting at `first_offset`:
/// `rejected/kafka-to-s3/<topic>/partition=<p>/<topic>+<p>+<first offset, 10 digits>.jsonl`.
pub fn rejected_key(topic: &str, partition: i64, first_offset: i64) -> String {
    // A name that is no Kafka topic name (never from MSK) is hex-encoded so it cannot shape the key.
    let topic = if is_kafka_topic_name(topic) {
        topic.to_string()
    } else {
        let hex: String = topic.bytes().map(|b| format!("{b:02x}")).collect();
        format!("invalid-topic-{hex}")
    };
    let raw = layout::raw_key(&topic, partition, first_offset);
    let name = raw
        .strip_prefix(layout::RAW_PREFIX)
        .and_then(|rest| rest.strip_suffix(".json"))
        .expect("raw keys are topics/….json");
    layout::rejected_key(STAGE, name)
}

/// Why no record of `topic` can be landed, if so.
fn topic_problem(topic: &str) -> Option<String> {
    if !is_kafka_topic_name(topic) {
        return Some(format!("{topic:?} is not a Kafka topic name"));
    }
    let table = layout::table_of(topic);
    (!TABLES.contains(&table))
        .then(|| format!("topic {topic:?} feeds no table: topics are <prefix>.pin, <prefix>.geo or <prefix>.user"))
}

/// Kafka's rule: 1–249 characters of `A-Z a-z 0-9 . _ -`, and neither `.` nor `..`.
fn is_kafka_topic_name(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic != "."
        && topic != ".."
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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

/// Why a record is refused, and its value's text (if it has one).
type Refusal = (String, Option<String>);

/// The bytes of a base64 value if they can be one JSON line, else why not.
fn json_line(value: Option<&str>) -> Result<Vec<u8>, Refusal> {
    let Some(encoded) = value else {
        return Err(("the record has no value (null)".into(), None));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| (format!("the value is not base64: {error}"), Some(encoded.to_string())))?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(error) => {
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            return Err((format!("the value is not UTF-8: {error}"), Some(lossy)));
        }
    };
    if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err((format!("the value is not valid JSON: {error}"), Some(text.to_string())));
    }
    if text.contains('\n') {
        return Err(("the value holds a raw line break, so it cannot be one JSON line".into(), Some(text.to_string())));
    }
    Ok(bytes)
}

/// A value's text for a rejection: decoded when it is base64, else as sent.
fn decoded_text(value: Option<&str>) -> Option<String> {
    let encoded = value?;
    Some(match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => encoded.to_string(),
    })
}

/// Writes every planned object, up to [`WRITE_CONCURRENCY`] at a time; the first failure is the error.
pub async fn write(store: &dyn ObjectStore, objects: Vec<PlannedObject>) -> anyhow::Result<()> {
    stream::iter(objects)
        .map(|object| async move {
            store.put(&object.key, object.body).await.with_context(|| format!("landing {}", object.key))
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Handles one MSK event against the lake in `store`.
pub async fn handle(store: Arc<dyn ObjectStore>, event: LambdaEvent<KafkaEvent>) -> anyhow::Result<LandingSummary> {
    let records_in: usize = event.payload.records.values().map(Vec::len).sum();
    let Plan { objects, summary } = plan(&event.payload);
    if let Err(error) = write(store.as_ref(), objects).await {
        tracing::error!(
            records_in,
            objects_planned = summary.objects_written + summary.rejected_objects,
            error = %format!("{error:#}"),
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
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn values_that_cannot_be_one_json_line_are_refused_with_a_reason() {
        assert_eq!(json_line(Some(&b64(r#"{"ind": 1}"#))).unwrap(), br#"{"ind": 1}"#);
        assert_eq!(json_line(Some(&b64("[1, 2]"))).unwrap(), b"[1, 2]");
        let reason = |value: Option<&str>| json_line(value).unwrap_err().0;
        assert!(reason(None).contains("no value"));
        assert!(reason(Some("%%%")).contains("not base64"));
        let latin1 = base64::engine::general_purpose::STANDARD.encode(b"{\"a\": \"\xe9\"}");
        assert!(reason(Some(&latin1)).contains("not UTF-8"));
        assert!(reason(Some(&b64("{\"ind\": 1"))).contains("not valid JSON"));
        assert!(reason(Some(&b64(""))).contains("not valid JSON"));
        assert!(reason(Some(&b64("{\"ind\":\n 1}"))).contains("line break"));
    }

    #[test]
    fn topics_must_feed_a_table_and_be_topic_names() {
        assert_eq!(topic_problem("0a1b.pin"), None);
        assert_eq!(topic_problem("user"), None);
        assert!(topic_problem("0a1b.clicks").unwrap().contains("feeds no table"));
        assert!(topic_problem("../x.pin").unwrap().contains("not a Kafka topic name"));
        assert_eq!(topic_of_group("p.pin-12"), "p.pin");
        assert_eq!(topic_of_group("odd"), "odd");
    }

    #[test]
    fn rejected_keys_mirror_raw_keys() {
        assert_eq!(rejected_key("p.pin", 3, 42), "rejected/kafka-to-s3/p.pin/partition=3/p.pin+3+0000000042.jsonl");
        assert_eq!(
            rejected_key("a/b", 0, 0),
            "rejected/kafka-to-s3/invalid-topic-612f62/partition=0/invalid-topic-612f62+0+0000000000.jsonl"
        );
    }
}
