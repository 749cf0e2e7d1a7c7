//! The properties pinpipe's parsers are fuzzed against: one function per `cargo fuzz` target of
//! `fuzz/`, each reading arbitrary bytes as its parser's input and panicking when an invariant breaks.
//! `tests/properties.rs` runs the same functions over the seed corpus (`fuzz/corpus/<target>/`) and
//! over generated inputs, so `cargo test` checks them on every change.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::kafka::KafkaEvent;
use pinpipe_contract::{layout, Names, Origin, RejectKind, RejectedRecord, Table, TopicPosition};
use pinpipe_core::clean::clean;
use pinpipe_core::decode::{self, RawSource};
use pinpipe_ingest::error::codes;
use pinpipe_ingest::wire::{self, MAX_KAFKA_RECORD_BYTES, MAX_KINESIS_RECORD_BYTES, MAX_RECORDS_PER_REQUEST};
use pinpipe_ingest::{compact, ApiError, StreamRecord};
use serde::de::IgnoredAny;
use serde_json::Value;
use stream_processor::KinesisBatch;

/// A property: panics when `data` breaks it.
pub type Property = fn(data: &[u8]);

/// Every target: its name (that of its seed corpus folder) and its property.
pub const TARGETS: [(&str, Property); 5] = [
    ("decode_records", decode_records),
    ("rest_proxy", rest_proxy),
    ("kinesis_proxy", kinesis_proxy),
    ("msk_event", msk_event),
    ("kinesis_event", kinesis_event),
];

/// The prefix of the streams [`kinesis_proxy`] and [`kinesis_event`] take (that of `events/`).
pub const PREFIX: &str = "pinpipe";

/// Separates the records of a [`decode_records`] input: the ASCII record separator, which no JSON
/// text holds raw.
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// The [`decode_records`] input holding `records` of `table`.
pub fn records_input<R: AsRef<[u8]>>(table: Table, records: &[R]) -> Vec<u8> {
    let selector = Table::ALL.iter().position(|&t| t == table).expect("one of the three") as u8;
    let mut input = vec![selector];
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            input.push(RECORD_SEPARATOR);
        }
        input.extend_from_slice(record.as_ref());
    }
    input
}

/// The record decoder, then cleaning. Input: a table selector byte, then records separated by
/// [`RECORD_SEPARATOR`] ([`records_input`]).
///
/// Every record is decoded or refused, once; refusals are in input order with a decoder's kind, a
/// reason and the record's bytes; records that are single lines decode as the same lines do
/// (docs/SPEC.md §1); cleaning neither fails nor drops a row (the stream processor pairs rows with
/// records).
pub fn decode_records(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let table = Table::ALL[usize::from(selector) % Table::ALL.len()];
    let records: Vec<&[u8]> = rest.split(|&byte| byte == RECORD_SEPARATOR).collect();
    let decoded = decode::decode_records(table, &records).expect("decoding never fails");
    let rows = decoded.frame.height();
    assert_eq!(rows + decoded.refused.len(), records.len(), "every record is decoded or refused");
    let mut previous = None;
    for refused in &decoded.refused {
        assert!(previous < Some(refused.at) && refused.at < records.len(), "refusals in order, once: {refused:?}");
        previous = Some(refused.at);
        let decoder_kind = matches!(
            refused.kind,
            RejectKind::NotJson
                | RejectKind::NotObject
                | RejectKind::MissingKey
                | RejectKind::KeyNotInteger
                | RejectKind::KeyOutOfRange
                | RejectKind::DuplicateField
        );
        assert!(decoder_kind && !refused.reason.is_empty(), "{refused:?}");
        assert_eq!(refused.payload.to_bytes().ok().as_deref(), Some(records[refused.at]), "the refused bytes");
    }
    let one_line = |record: &&[u8]| {
        !record.contains(&b'\n') && !record.ends_with(b"\r") && !record.iter().all(u8::is_ascii_whitespace)
    };
    if records.iter().all(one_line) {
        let source = RawSource { name: "lines".into(), bytes: records.join(&b'\n').into() };
        let by_lines = decode::decode(table, &[source]).expect("decoding never fails");
        assert!(by_lines.frame.equals_missing(&decoded.frame), "{:?}\n{:?}", by_lines.frame, decoded.frame);
        assert_eq!(by_lines.invalid_values, decoded.invalid_values);
        let line_refusals: Vec<(u64, RejectKind)> = by_lines.refused.iter().map(|r| (r.at.number, r.kind)).collect();
        let record_refusals: Vec<(u64, RejectKind)> =
            decoded.refused.iter().map(|r| (r.at as u64 + 1, r.kind)).collect();
        assert_eq!(line_refusals, record_refusals);
    }
    let cleaned = clean(table, decoded.frame).expect("cleaning never fails");
    assert_eq!(cleaned.frame.height(), rows, "cleaning keeps every row");
}

/// The REST-proxy produce body (`POST /topics/{topic}`).
///
/// A refusal has one of the route's error codes; an accepted body gives 1 to
/// [`MAX_RECORDS_PER_REQUEST`] records, numbered in order, each the compact JSON of the value (or
/// array element) it came from, with its key and partition, within Kafka's size.
pub fn rest_proxy(data: &[u8]) {
    let records = match wire::parse_produce(data) {
        Ok(records) => records,
        Err(error) => {
            let route = [
                codes::BAD_JSON,
                codes::NO_RECORDS,
                codes::NO_VALUE,
                codes::BAD_VALUE_ARRAY,
                codes::BAD_PARTITION,
                codes::RECORD_TOO_LARGE,
                codes::TOO_MANY_RECORDS,
            ];
            return assert_refusal(&error, &route);
        }
    };
    assert!((1..=MAX_RECORDS_PER_REQUEST).contains(&records.len()), "{} records", records.len());
    let mut previous: Option<wire::RecordRef> = None;
    for (at, record) in &records {
        let next_entry = previous.map_or(0, |p| p.record + 1);
        let follows = match (previous, at.element) {
            (Some(p), Some(element)) if p.record == at.record => p.element.map(|e| e + 1) == Some(element),
            (_, element) => at.record == next_entry && element.unwrap_or(0) == 0,
        };
        assert!(follows, "{at} after {previous:?}");
        previous = Some(*at);
        assert_stored_json(&record.value);
        assert!(!matches!(record.value.first(), Some(b'n')), "{at}: a null value is no record");
        if at.element.is_some() {
            assert!(!matches!(record.value.first(), Some(b'[')), "{at}: an element is not an array");
        }
        if let Some(key) = &record.key {
            assert_stored_json(key);
        }
        let size = record.value.len() + record.key.as_ref().map_or(0, Vec::len);
        assert!(size <= MAX_KAFKA_RECORD_BYTES, "{at}: {size} bytes");
        assert!(record.partition.is_none_or(|partition| partition >= 0), "{at}");
    }
    // The records are the body's, as serde_json reads it (when it can: nesting deeper than its limit
    // or a lone surrogate are stored as they are).
    let Some(body) = json_value(data) else { return };
    let entries = body.get("records").or_else(|| body.get("Records")).and_then(Value::as_array);
    let entries = entries.expect("an accepted body has records");
    let expected: usize = entries.iter().map(|entry| entry["value"].as_array().map_or(1, Vec::len)).sum();
    assert_eq!(records.len(), expected, "one record per value or array element");
    for (at, record) in &records {
        let entry = &entries[at.record];
        let value = at.element.map_or(&entry["value"], |element| &entry["value"][element]);
        assert_eq!(json_value(&record.value).as_ref(), Some(value), "{at}");
        let key = entry.get("key").filter(|key| !key.is_null());
        assert_eq!(record.key.as_deref().and_then(json_value).as_ref(), key, "{at}");
        assert_eq!(record.partition.map(i64::from), entry.get("partition").and_then(Value::as_i64), "{at}");
    }
}

/// The Kinesis-proxy bodies, `PutRecord` and `PutRecords`, for the stream `streaming-pinpipe-pin`.
///
/// A refusal has one of the route's error codes; an accepted record is the compact JSON of its
/// `Data`, with a partition key of 1 to 256 characters, within Kinesis's size (on `PutRecords` a
/// larger one is a per-record failure); a `StreamName` is the path's.
pub fn kinesis_proxy(data: &[u8]) {
    let stream = format!("streaming-{PREFIX}-pin");
    let body = json_value(data);
    let field = |value: &Value, names: [&str; 2]| value.get(names[0]).or_else(|| value.get(names[1])).cloned();
    let common = [codes::BAD_JSON, codes::NO_VALUE, codes::BAD_PARTITION_KEY, codes::STREAM_NAME_MISMATCH];
    match wire::parse_put_record(data, &stream) {
        Err(error) => assert_refusal(&error, &[&common[..], &[codes::RECORD_TOO_LARGE]].concat()),
        Ok(record) => {
            assert_stream_record(&record);
            if let Some(body) = &body {
                assert!(body.get("StreamName").is_none_or(|name| name.is_null() || name == &stream));
                assert_eq!(json_value(&record.data), field(body, ["Data", "data"]));
                assert_eq!(Some(Value::from(record.partition_key)), field(body, ["PartitionKey", "partition-key"]));
            }
        }
    }
    match wire::parse_put_records(data, &stream) {
        Err(error) => assert_refusal(&error, &[&common[..], &[codes::NO_RECORDS, codes::TOO_MANY_RECORDS]].concat()),
        Ok(records) => {
            assert!((1..=MAX_RECORDS_PER_REQUEST).contains(&records.len()), "{} records", records.len());
            let entries = body.as_ref().map(|body| field(body, ["records", "Records"]));
            for (i, record) in records.iter().enumerate() {
                match record {
                    Ok(record) => assert_stream_record(record),
                    Err(failure) => assert_eq!(failure.error_code, wire::TOO_LARGE_ERROR_CODE, "records[{i}]"),
                }
                let Some(Some(entries)) = &entries else { continue };
                let entry = &entries[i];
                if let Ok(record) = record {
                    assert_eq!(json_value(&record.data), field(entry, ["data", "Data"]), "records[{i}]");
                    let key = field(entry, ["partition-key", "PartitionKey"]);
                    assert_eq!(Some(Value::from(record.partition_key.as_str())), key, "records[{i}]");
                }
            }
            if let Some(Some(entries)) = entries {
                assert_eq!(entries.as_array().map(Vec::len), Some(records.len()), "one result per entry");
            }
        }
    }
}

/// The MSK event, as Lambda's runtime reads it, then [`kafka_to_s3::plan`].
///
/// Each distinct (topic, partition, offset) of the event is landed or refused exactly once; line `i`
/// of a raw object is offset `first offset + i` and holds one of that position's values; keys are
/// unique; the counts match the objects; planning twice gives the same plan.
pub fn msk_event(data: &[u8]) {
    if !msk::whole_timestamps(data) {
        return;
    }
    let Ok(event) = serde_json::from_slice::<KafkaEvent>(data) else { return };
    let plan = kafka_to_s3::plan(&event);
    assert_eq!(plan, kafka_to_s3::plan(&event), "the plan is deterministic");
    // Each position with the values sent for it; a record without a topic is of its group's
    // (`<topic>-<partition>`, as MSK names groups).
    let mut sent: BTreeMap<TopicPosition, Vec<Option<Vec<u8>>>> = BTreeMap::new();
    for (group, records) in &event.records {
        let group_topic = match group.rsplit_once('-') {
            Some((topic, partition)) if partition.parse::<i64>().is_ok() => topic,
            _ => group,
        };
        for record in records {
            let topic = record.topic.clone().unwrap_or_else(|| group_topic.to_string());
            let position = TopicPosition { topic, partition: record.partition, offset: record.offset };
            sent.entry(position).or_default().push(record.value.as_deref().and_then(msk::base64));
        }
    }
    let summary = &plan.summary;
    assert_eq!(summary.records_landed + summary.records_rejected, sent.len(), "every position once");
    let mut seen = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let (mut raw_objects, mut rejected_objects, mut bytes_landed) = (0, 0, 0);
    let mut rejected_by_kind: BTreeMap<RejectKind, usize> = BTreeMap::new();
    for object in &plan.objects {
        assert!(keys.insert(object.key.as_str()), "{} twice", object.key);
        if let Some(raw) = layout::parse_raw_key(&object.key) {
            raw_objects += 1;
            bytes_landed += object.body.len();
            let lines = object.body.strip_suffix(b"\n").expect("lines end in \\n");
            for (i, line) in lines.split(|&byte| byte == b'\n').enumerate() {
                let offset = i64::try_from(i).ok().and_then(|i| raw.first_offset.checked_add(i));
                let offset = offset.expect("a run's offsets fit in i64");
                let position = TopicPosition { topic: raw.topic.clone(), partition: raw.partition, offset };
                let values = sent.get(&position).unwrap_or_else(|| panic!("{position:?} was not sent"));
                assert!(values.iter().any(|value| value.as_deref() == Some(line)), "{position:?}: {line:?}");
                assert!(seen.insert(position), "{} lands a position twice", object.key);
            }
        } else {
            rejected_objects += 1;
            let refused: Vec<RejectedRecord> = RejectedRecord::parse_lines(&object.body)
                .collect::<Result<_, _>>()
                .unwrap_or_else(|error| panic!("{}: {error}", object.key));
            assert!(!refused.is_empty() && object.key.starts_with("rejected/kafka-to-s3/"), "{}", object.key);
            for record in refused {
                let Origin::Kafka(position) = record.origin else { panic!("{:?}", record.origin) };
                assert!(sent.contains_key(&position), "{position:?} was not sent");
                *rejected_by_kind.entry(record.kind).or_insert(0) += 1;
                assert!(seen.insert(position), "{} refuses a position twice", object.key);
            }
        }
    }
    assert_eq!((raw_objects, rejected_objects), (summary.objects_written, summary.rejected_objects));
    assert_eq!(bytes_landed, plan.bytes_landed);
    assert_eq!(rejected_by_kind, plan.rejected_by_kind);
}

/// The Kinesis event as the stream processor reads it ([`KinesisBatch`]), then
/// [`stream_processor::plan`]: routing, decoding, cleaning and the Parquet parts, without a store.
///
/// Planning never fails (a failure would block the shard) and is deterministic; every record is a
/// row of a part or a refused record; refusals name a record of the batch; the keys of a one-shard
/// batch (what Lambda delivers) are unique.
pub fn kinesis_event(data: &[u8]) {
    let Ok(batch) = serde_json::from_slice::<KinesisBatch>(data) else { return };
    let names = Names::new(PREFIX);
    let plan = stream_processor::plan(&names, &batch.records).expect("planning never fails");
    let again = stream_processor::plan(&names, &batch.records).expect("planning never fails");
    assert_eq!(plan, again, "the plan is deterministic");
    let sequence_numbers: BTreeSet<&str> =
        batch.records.iter().map(|record| record.kinesis.sequence_number.as_str()).collect();
    let (mut rows, mut refused) = (0, 0);
    for group in &plan {
        for (date, date_rows) in &group.rows_by_date {
            assert!(group.table.is_some() && *date_rows > 0, "{date}: {date_rows} rows of {:?}", group.table);
            rows += date_rows;
        }
        for record in &group.refused {
            let Origin::Kinesis(position) = &record.origin else { panic!("{:?}", record.origin) };
            assert!(sequence_numbers.contains(position.sequence_number.as_str()), "{position:?}");
            assert_eq!(position.shard_id, group.shard);
            refused += 1;
        }
    }
    assert_eq!(rows + refused, batch.records.len(), "every record stored or refused");
    let groups: BTreeSet<(&str, Option<Table>)> =
        plan.iter().map(|group| (group.shard.as_str(), group.table)).collect();
    assert_eq!(groups.len(), plan.len(), "one plan per shard and table");
}

/// A refusal of a body: one of the route's `codes`, with its status and a message.
fn assert_refusal(error: &ApiError, codes: &[u32]) {
    assert!(codes.contains(&error.error_code), "{error:?}");
    assert_eq!(u32::from(error.status), error.error_code / 100, "{error:?}");
    assert!(!error.message.is_empty(), "{error:?}");
}

/// A stored record or key: one line of compact JSON text (docs/SPEC.md §2, "What is stored").
fn assert_stored_json(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("stored JSON is UTF-8");
    assert!(serde_json::from_str::<IgnoredAny>(text).is_ok(), "not JSON: {text:?}");
    assert_eq!(compact(text), text, "not compact");
}

/// A record accepted for Kinesis.
fn assert_stream_record(record: &StreamRecord) {
    assert_stored_json(&record.data);
    assert_ne!(record.data, b"null");
    assert!((1..=wire::MAX_PARTITION_KEY_CHARS).contains(&record.partition_key.chars().count()), "{record:?}");
    assert!(record.data.len() + record.partition_key.len() <= MAX_KINESIS_RECORD_BYTES);
}

/// `text` as serde_json reads it, if it can.
fn json_value(text: &[u8]) -> Option<Value> {
    serde_json::from_slice(text).ok()
}

/// What reading an MSK event needs.
mod msk {
    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
    use serde_json::Value;

    /// A Kafka value's bytes (base64 in the event).
    pub(super) fn base64(value: &str) -> Option<Vec<u8>> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(value).ok()
    }

    /// Whether no record `timestamp` of the event text would make aws_lambda_events panic: its
    /// millisecond-timestamp reader (1.2.1) asserts that the number has no fraction, which MSK never
    /// sends. False also when the text is not an event at all (it would not be read).
    pub(super) fn whole_timestamps(data: &[u8]) -> bool {
        serde_json::from_slice::<Event>(data).is_ok_and(|event| {
            event
                .records
                .iter()
                .flat_map(|groups| &groups.0)
                .flatten()
                .all(|record| !record.timestamp.as_ref().is_some_and(panics_aws_lambda_events))
        })
    }

    /// The reader's steps: the value as an f64, its `to_string` split at `.` into two u64, and an
    /// assertion that the second is 0.
    fn panics_aws_lambda_events(timestamp: &Value) -> bool {
        let input = match timestamp {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.parse::<f64>().ok(),
            _ => None,
        };
        let text = input.map(|input| input.to_string()).unwrap_or_default();
        text.split_once('.').is_some_and(|(whole, fraction)| {
            whole.parse::<u64>().is_ok() && fraction.parse::<u64>().is_ok_and(|fraction| fraction != 0)
        })
    }

    /// `KafkaEvent`'s fields, in its order (serde also reads a struct from an array).
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Event {
        #[serde(default, rename = "eventSource")]
        _event_source: IgnoredAny,
        #[serde(default, rename = "eventSourceArn")]
        _event_source_arn: IgnoredAny,
        #[serde(default)]
        records: Option<Groups>,
    }

    /// The record groups, every one even when a name repeats.
    struct Groups(Vec<Vec<Record>>);

    impl<'de> Deserialize<'de> for Groups {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct GroupsVisitor;
            impl<'de> Visitor<'de> for GroupsVisitor {
                type Value = Groups;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a map of record groups")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Groups, A::Error> {
                    let mut groups = Vec::new();
                    while let Some((IgnoredAny, records)) = map.next_entry()? {
                        groups.push(records);
                    }
                    Ok(Groups(groups))
                }
            }
            deserializer.deserialize_map(GroupsVisitor)
        }
    }

    /// `KafkaRecord`'s fields up to `timestamp`, in its order.
    #[derive(serde::Deserialize)]
    struct Record {
        #[serde(default, rename = "topic")]
        _topic: IgnoredAny,
        #[serde(default, rename = "partition")]
        _partition: IgnoredAny,
        #[serde(default, rename = "offset")]
        _offset: IgnoredAny,
        #[serde(default)]
        timestamp: Option<Value>,
    }
}
