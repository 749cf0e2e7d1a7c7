//! The wire formats of docs/SPEC.md §2: request bodies in (parsed and checked record by record), response
//! bodies out.
//!
//! * `POST /topics/{topic}`, Kafka REST Proxy v2 with the JSON embedded format:
//!   `{"records":[{"value": <record or [records]>, "key": <optional>, "partition": <optional>}]}` →
//!   `{"offsets":[{"partition","offset","error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}`.
//! * `PUT /streams/{stream}/record`, the API Gateway Kinesis proxy:
//!   `{"StreamName","Data": <record>,"PartitionKey"}` → `{"SequenceNumber","ShardId"}`.
//! * `PUT /streams/{stream}/records`: `{"records":[{"data": <record>,"partition-key"}]}` →
//!   `{"FailedRecordCount","Records":[{"SequenceNumber","ShardId"} or {"ErrorCode","ErrorMessage"}]}`.
//!
//! Values, keys and `Data` are stored as their compact JSON text ([`crate::json::compact`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{codes, ApiError};
use crate::json::{compact, kind, Kind};
use crate::ports::{Offset, ProduceError, RecordFailure, Stored, StreamRecord, TopicRecord};

/// The largest record (value and key) the API produces to Kafka: librdkafka's default
/// `message.max.bytes`, below MSK's default broker limit.
pub const MAX_KAFKA_RECORD_BYTES: usize = 1_000_000;
/// The largest Kinesis record: data and partition key together, 1 MiB.
pub const MAX_KINESIS_RECORD_BYTES: usize = 1 << 20;
/// The longest Kinesis partition key, in Unicode characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;
/// The most records one request takes, on the topic route (each element of an array `value` counts)
/// and on `PutRecords`: the answer lists every record, so this bounds the answer (and the memory a
/// request takes) whatever the body packs into its 6 MiB. A request with more is refused whole (422,
/// [`codes::TOO_MANY_RECORDS`]).
pub const MAX_RECORDS_PER_REQUEST: usize = 10_000;

/// Where a record sits in a request: `records[i]`, or `records[i].value[j]` for an element of an
/// array value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef {
    /// The index in `records`.
    pub record: usize,
    /// The index in the record's array `value`, if it is one.
    pub element: Option<usize>,
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.element {
            None => write!(f, "records[{}]", self.record),
            Some(element) => write!(f, "records[{}].value[{element}]", self.record),
        }
    }
}

/// The body as one JSON value: 400 when it is not UTF-8 JSON.
fn parse_body(body: &[u8]) -> Result<&RawValue, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|err| ApiError::bad_json(format!("the body is not UTF-8 text: {err}")))?;
    serde_json::from_str(text).map_err(|err| ApiError::bad_json(format!("the body is not valid JSON: {err}")))
}

/// The body's `records` (or `Records`) array: 422 unless the body is an object holding a
/// non-empty array there.
fn records_array<'a>(body: &'a RawValue, what: &str) -> Result<Vec<&'a RawValue>, ApiError> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow, default, alias = "Records")]
        records: Option<&'a RawValue>,
    }
    let no_records = |detail: &str| {
        ApiError::unprocessable(
            codes::NO_RECORDS,
            format!("the body must be a JSON object with a non-empty `records` array of {what}: {detail}"),
        )
    };
    if kind(body) != Kind::Object {
        return Err(no_records("the body is not an object"));
    }
    let parsed: Body<'a> = serde_json::from_str(body.get()).map_err(|err| no_records(&err.to_string()))?;
    let Some(records) = parsed.records else {
        return Err(no_records("`records` is missing"));
    };
    if kind(records) != Kind::Array {
        return Err(no_records("`records` is not an array"));
    }
    let records: Vec<&'a RawValue> = serde_json::from_str(records.get()).map_err(|err| no_records(&err.to_string()))?;
    if records.is_empty() {
        return Err(no_records("`records` is empty"));
    }
    Ok(records)
}

/// Parses and checks a REST-proxy produce body: one [`TopicRecord`] per record, and per element of
/// an array `value`, in order. Any malformed or too large record refuses the whole request (422,
/// naming the record), so nothing is produced.
pub fn parse_produce(body: &[u8]) -> Result<Vec<(RecordRef, TopicRecord)>, ApiError> {
    let body = parse_body(body)?;
    let records = records_array(body, "records")?;
    check_record_count(records.len(), None)?;
    let mut out = Vec::new();
    for (index, raw) in records.into_iter().enumerate() {
        push_produce_entry(index, raw, &mut out)?;
        check_record_count(out.len(), Some(index))?;
    }
    Ok(out)
}

/// 422 when a request holds more than [`MAX_RECORDS_PER_REQUEST`] records: `count` records, or (on
/// the topic route, `at` the entry being counted) at least `count` so far.
fn check_record_count(count: usize, at: Option<usize>) -> Result<(), ApiError> {
    if count <= MAX_RECORDS_PER_REQUEST {
        return Ok(());
    }
    let held = match at {
        None => format!("{count} records"),
        Some(index) => format!(
            "more than {MAX_RECORDS_PER_REQUEST} records (records[0] to records[{index}] hold {count}, each element of an array `value` counting as one)"
        ),
    };
    Err(ApiError::unprocessable(
        codes::TOO_MANY_RECORDS,
        format!(
            "the request holds {held}: a request takes at most {MAX_RECORDS_PER_REQUEST} records; send them in several requests"
        ),
    ))
}

/// Checks entry `index` of `records` and adds its records to `out`: its `value`, or each element of
/// an array `value`, with the entry's key and partition.
fn push_produce_entry(index: usize, raw: &RawValue, out: &mut Vec<(RecordRef, TopicRecord)>) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Entry<'a> {
        #[serde(borrow, default)]
        value: Option<&'a RawValue>,
        #[serde(borrow, default)]
        key: Option<&'a RawValue>,
        #[serde(borrow, default)]
        partition: Option<&'a RawValue>,
    }

    let at = RecordRef { record: index, element: None };
    if kind(raw) != Kind::Object {
        return Err(ApiError::unprocessable(codes::NO_VALUE, format!("{at} is not an object with a `value`")));
    }
    let entry: Entry = serde_json::from_str(raw.get())
        .map_err(|err| ApiError::unprocessable(codes::NO_VALUE, format!("{at} is malformed: {err}")))?;
    let Some(value) = entry.value else {
        return Err(ApiError::unprocessable(codes::NO_VALUE, format!("{at} has no `value` (or a null one)")));
    };
    let partition = entry.partition.map(|raw| parse_partition(raw, at)).transpose()?;
    let key = entry.key.map(|raw| compact(raw.get()).into_bytes());
    if kind(value) != Kind::Array {
        out.push((at, topic_record(at, value, key.as_deref(), partition)?));
        return Ok(());
    }
    let elements: Vec<&RawValue> = serde_json::from_str(value.get())
        .map_err(|err| ApiError::unprocessable(codes::BAD_VALUE_ARRAY, format!("{at}.value: {err}")))?;
    if elements.is_empty() {
        return Err(ApiError::unprocessable(
            codes::BAD_VALUE_ARRAY,
            format!("{at}.value is an empty array: it holds no record"),
        ));
    }
    for (element, value) in elements.into_iter().enumerate() {
        let at = RecordRef { record: index, element: Some(element) };
        check_array_element(at, value)?;
        out.push((at, topic_record(at, value, key.as_deref(), partition)?));
    }
    Ok(())
}

/// An element of an array `value` is one record: not null, and not an array itself.
fn check_array_element(at: RecordRef, value: &RawValue) -> Result<(), ApiError> {
    let problem = match kind(value) {
        Kind::Null => "is null, not a record",
        Kind::Array => "is an array: records in a `value` array are not nested",
        _ => return Ok(()),
    };
    Err(ApiError::unprocessable(codes::BAD_VALUE_ARRAY, format!("{at} {problem}")))
}

/// The record of `value` (its compact text) with `key` and `partition`: 422 when value and key
/// together are larger than Kafka takes.
fn topic_record(
    at: RecordRef,
    value: &RawValue,
    key: Option<&[u8]>,
    partition: Option<i32>,
) -> Result<TopicRecord, ApiError> {
    let value = compact(value.get()).into_bytes();
    let size = value.len() + key.map_or(0, <[u8]>::len);
    if size > MAX_KAFKA_RECORD_BYTES {
        return Err(ApiError::unprocessable(
            codes::RECORD_TOO_LARGE,
            format!("{at} is too large: {size} bytes of value and key, at most {MAX_KAFKA_RECORD_BYTES} are taken"),
        ));
    }
    Ok(TopicRecord { key: key.map(<[u8]>::to_vec), value, partition })
}

fn parse_partition(raw: &RawValue, at: RecordRef) -> Result<i32, ApiError> {
    serde_json::from_str::<i64>(raw.get())
        .ok()
        .and_then(|partition| i32::try_from(partition).ok())
        .filter(|partition| *partition >= 0)
        .ok_or_else(|| {
            ApiError::unprocessable(
                codes::BAD_PARTITION,
                format!("{at}.partition is {}: a partition is an integer from 0 to 2147483647", raw.get()),
            )
        })
}

/// A body's optional `StreamName`, which must name the stream of the path.
fn check_stream_name(raw: Option<&RawValue>, stream: &str) -> Result<(), ApiError> {
    let Some(raw) = raw else { return Ok(()) };
    match serde_json::from_str::<Option<String>>(raw.get()) {
        Ok(None) => Ok(()),
        Ok(Some(name)) if name == stream => Ok(()),
        _ => Err(ApiError::unprocessable(
            codes::STREAM_NAME_MISMATCH,
            format!("the body's StreamName {} differs from the stream of the path, {stream:?}", raw.get()),
        )),
    }
}

/// A partition key: a string of 1 to 256 characters.
fn partition_key(raw: Option<&RawValue>, at: &str, field: &str) -> Result<String, ApiError> {
    let bad = |detail: String| {
        ApiError::unprocessable(
            codes::BAD_PARTITION_KEY,
            format!("{at} {detail}: a partition key is a string of 1 to {MAX_PARTITION_KEY_CHARS} characters"),
        )
    };
    let Some(raw) = raw else {
        return Err(bad(format!("has no `{field}`")));
    };
    let key: String = match kind(raw) {
        Kind::String => serde_json::from_str(raw.get()).map_err(|err| bad(err.to_string()))?,
        Kind::Null => return Err(bad(format!("has a null `{field}`"))),
        _ => return Err(bad(format!("has `{field}` {}", raw.get()))),
    };
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_PARTITION_KEY_CHARS {
        return Err(bad(format!("has a `{field}` of {chars} characters")));
    }
    Ok(key)
}

/// The payload of a stream record: the compact JSON text of its data.
fn stream_data(raw: Option<&RawValue>, at: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    match raw {
        Some(raw) if kind(raw) != Kind::Null => Ok(compact(raw.get()).into_bytes()),
        _ => Err(ApiError::unprocessable(codes::NO_VALUE, format!("{at} has no `{field}` (or a null one)"))),
    }
}

fn too_large_message(at: &str, record: &StreamRecord) -> Option<String> {
    let size = record.data.len() + record.partition_key.len();
    (size > MAX_KINESIS_RECORD_BYTES).then(|| {
        format!(
            "{at} is too large: {size} bytes of data and partition key, Kinesis takes at most {MAX_KINESIS_RECORD_BYTES}"
        )
    })
}

/// Parses and checks a `PutRecord` body for `stream`.
pub fn parse_put_record(body: &[u8], stream: &str) -> Result<StreamRecord, ApiError> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow, default, rename = "StreamName")]
        stream_name: Option<&'a RawValue>,
        #[serde(borrow, default, rename = "Data", alias = "data")]
        data: Option<&'a RawValue>,
        #[serde(borrow, default, rename = "PartitionKey", alias = "partition-key")]
        partition_key: Option<&'a RawValue>,
    }
    let body = parse_body(body)?;
    if kind(body) != Kind::Object {
        return Err(ApiError::unprocessable(
            codes::NO_VALUE,
            "the body must be a JSON object with `Data` and `PartitionKey`",
        ));
    }
    let parsed: Body = serde_json::from_str(body.get())
        .map_err(|err| ApiError::unprocessable(codes::NO_VALUE, format!("the body is malformed: {err}")))?;
    check_stream_name(parsed.stream_name, stream)?;
    let record = StreamRecord {
        data: stream_data(parsed.data, "the record", "Data")?,
        partition_key: partition_key(parsed.partition_key, "the record", "PartitionKey")?,
    };
    if let Some(message) = too_large_message("the record", &record) {
        return Err(ApiError::unprocessable(codes::RECORD_TOO_LARGE, message));
    }
    Ok(record)
}

/// The Kinesis error code of a record the API refuses itself because of its size.
pub const TOO_LARGE_ERROR_CODE: &str = "InvalidArgumentException";

/// Parses and checks a `PutRecords` body for `stream`. A malformed record refuses the whole request
/// (422); a record too large for Kinesis becomes a per-record failure (`Err`), so the others can
/// still be stored.
pub fn parse_put_records(body: &[u8], stream: &str) -> Result<Vec<Result<StreamRecord, RecordFailure>>, ApiError> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow, default, rename = "StreamName")]
        stream_name: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Record<'a> {
        #[serde(borrow, default, alias = "Data")]
        data: Option<&'a RawValue>,
        #[serde(borrow, default, rename = "partition-key", alias = "PartitionKey")]
        partition_key: Option<&'a RawValue>,
    }
    let body = parse_body(body)?;
    let records = records_array(body, "records with `data` and `partition-key`")?;
    let parsed: Body = serde_json::from_str(body.get())
        .map_err(|err| ApiError::unprocessable(codes::NO_RECORDS, format!("the body is malformed: {err}")))?;
    check_stream_name(parsed.stream_name, stream)?;
    check_record_count(records.len(), None)?;
    let mut out = Vec::with_capacity(records.len());
    for (index, raw) in records.into_iter().enumerate() {
        let at = format!("records[{index}]");
        if kind(raw) != Kind::Object {
            return Err(ApiError::unprocessable(
                codes::NO_VALUE,
                format!("{at} is not an object with `data` and `partition-key`"),
            ));
        }
        let record: Record = serde_json::from_str(raw.get())
            .map_err(|err| ApiError::unprocessable(codes::NO_VALUE, format!("{at} is malformed: {err}")))?;
        let record = StreamRecord {
            data: stream_data(record.data, &at, "data")?,
            partition_key: partition_key(record.partition_key, &at, "partition-key")?,
        };
        out.push(match too_large_message(&at, &record) {
            None => Ok(record),
            Some(message) => {
                Err(RecordFailure { error_code: TOO_LARGE_ERROR_CODE.to_string(), error_message: message })
            }
        });
    }
    Ok(out)
}

/// One entry of a produce answer's `offsets`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OffsetEntry {
    /// The partition, or null for a record that was not stored.
    pub partition: Option<i32>,
    /// The offset, or null for a record that was not stored.
    pub offset: Option<i64>,
    /// Null when stored; the record's error code otherwise.
    pub error_code: Option<u32>,
    /// Null when stored; the reason otherwise.
    pub error: Option<String>,
}

impl OffsetEntry {
    /// The entry of one produce result.
    pub fn of(result: &Result<Offset, ProduceError>) -> Self {
        match result {
            Ok(offset) => {
                Self { partition: Some(offset.partition), offset: Some(offset.offset), error_code: None, error: None }
            }
            Err(error) => Self {
                partition: None,
                offset: None,
                error_code: Some(produce_error_code(error)),
                error: Some(error.to_string()),
            },
        }
    }
}

/// The `error_code` of a record Kafka did not take.
pub fn produce_error_code(error: &ProduceError) -> u32 {
    match error {
        ProduceError::UnknownTopic(_) => codes::UNKNOWN_TOPIC,
        ProduceError::UnknownPartition(_) => codes::UNKNOWN_PARTITION,
        ProduceError::TooLarge(_) => codes::RECORD_TOO_LARGE,
        ProduceError::Unavailable(_) => codes::UNAVAILABLE,
    }
}

/// A produce answer: `offsets` plus, when some record failed, the error envelope's fields.
#[derive(Debug, Serialize)]
pub struct ProduceResponse<'a> {
    /// Set when some record failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    /// Set when some record failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// One entry per record, in order.
    pub offsets: Vec<OffsetEntry>,
    /// Always null (no schema registry with the JSON format).
    pub key_schema_id: Option<i32>,
    /// Always null.
    pub value_schema_id: Option<i32>,
}

/// A `PutRecord` answer.
#[derive(Debug, Serialize)]
pub struct PutRecordResponse<'a> {
    /// The sequence number.
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: &'a str,
    /// The shard.
    #[serde(rename = "ShardId")]
    pub shard_id: &'a str,
    /// `KMS` for an encrypted stream.
    #[serde(rename = "EncryptionType", skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'a str>,
}

/// One entry of a `PutRecords` answer: stored (sequence number and shard) or failed (error code and
/// message), never both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PutRecordsEntry {
    /// Stored.
    Stored {
        /// The sequence number.
        #[serde(rename = "SequenceNumber")]
        sequence_number: String,
        /// The shard.
        #[serde(rename = "ShardId")]
        shard_id: String,
    },
    /// Not stored.
    Failed {
        /// Kinesis's error code.
        #[serde(rename = "ErrorCode")]
        error_code: String,
        /// The reason.
        #[serde(rename = "ErrorMessage")]
        error_message: String,
    },
}

impl PutRecordsEntry {
    /// The entry of one record's result.
    pub fn of(result: &Result<Stored, RecordFailure>) -> Self {
        match result {
            Ok(stored) => {
                Self::Stored { sequence_number: stored.sequence_number.clone(), shard_id: stored.shard_id.clone() }
            }
            Err(failure) => {
                Self::Failed { error_code: failure.error_code.clone(), error_message: failure.error_message.clone() }
            }
        }
    }
}

/// A `PutRecords` answer; with failures it also carries the error envelope's fields.
#[derive(Debug, Serialize)]
pub struct PutRecordsResponse<'a> {
    /// Set when some record failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    /// Set when some record failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// How many records were not stored.
    #[serde(rename = "FailedRecordCount")]
    pub failed_record_count: usize,
    /// One entry per record, in order.
    #[serde(rename = "Records")]
    pub records: Vec<PutRecordsEntry>,
    /// `KMS` for an encrypted stream.
    #[serde(rename = "EncryptionType", skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce(body: &str) -> Result<Vec<(RecordRef, TopicRecord)>, ApiError> {
        parse_produce(body.as_bytes())
    }

    fn values(records: &[(RecordRef, TopicRecord)]) -> Vec<String> {
        records.iter().map(|(_, record)| String::from_utf8(record.value.clone()).unwrap()).collect()
    }

    #[test]
    fn every_record_and_array_element_is_one_record_in_order() {
        let records = produce(
            r#"{"records":[{"value":{"a": 1}},{"value":[{"b":2},{"c" : 3}],"key":"k","partition":2},{"value":"s"}]}"#,
        )
        .unwrap();
        assert_eq!(values(&records), [r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#, r#""s""#]);
        let refs: Vec<String> = records.iter().map(|(at, _)| at.to_string()).collect();
        assert_eq!(refs, ["records[0]", "records[1].value[0]", "records[1].value[1]", "records[2]"]);
        assert_eq!(records[0].1.key, None);
        assert_eq!(records[1].1.key.as_deref(), Some(&b"\"k\""[..]));
        assert_eq!(records[2].1.partition, Some(2));
        assert_eq!(records[3].1.partition, None);
    }

    #[test]
    fn bad_bodies_get_their_error_codes() {
        let code = |body: &str| produce(body).unwrap_err().error_code;
        assert_eq!(code("{\"records\": ["), codes::BAD_JSON);
        assert_eq!(code(""), codes::BAD_JSON);
        assert_eq!(parse_produce(&[b'"', 0xff, b'"']).unwrap_err().error_code, codes::BAD_JSON);
        assert_eq!(code("[]"), codes::NO_RECORDS);
        assert_eq!(code("{}"), codes::NO_RECORDS);
        assert_eq!(code(r#"{"records":{}}"#), codes::NO_RECORDS);
        assert_eq!(code(r#"{"records":[]}"#), codes::NO_RECORDS);
        assert_eq!(code(r#"{"records":[1]}"#), codes::NO_VALUE);
        assert_eq!(code(r#"{"records":[{"key":"k"}]}"#), codes::NO_VALUE);
        assert_eq!(code(r#"{"records":[{"value":null}]}"#), codes::NO_VALUE);
        assert_eq!(code(r#"{"records":[{"value":[]}]}"#), codes::BAD_VALUE_ARRAY);
        assert_eq!(code(r#"{"records":[{"value":[{},null]}]}"#), codes::BAD_VALUE_ARRAY);
        assert_eq!(code(r#"{"records":[{"value":[[{}]]}]}"#), codes::BAD_VALUE_ARRAY);
        assert_eq!(code(r#"{"records":[{"value":{},"partition":-1}]}"#), codes::BAD_PARTITION);
        assert_eq!(code(r#"{"records":[{"value":{},"partition":"0"}]}"#), codes::BAD_PARTITION);
        assert_eq!(code(r#"{"records":[{"value":{},"partition":1.5}]}"#), codes::BAD_PARTITION);
        let error = produce(r#"{"records":[{"value":{}},{"value":[{},null]}]}"#).unwrap_err();
        assert_eq!(error.status, 422);
        assert!(error.message.contains("records[1].value[1] is null"), "{}", error.message);
    }

    #[test]
    fn records_over_the_kafka_limit_are_refused_by_index() {
        let big = "x".repeat(MAX_KAFKA_RECORD_BYTES);
        let body = format!(r#"{{"records":[{{"value":{{}}}},{{"value":"{big}"}}]}}"#);
        let error = produce(&body).unwrap_err();
        assert_eq!((error.status, error.error_code), (422, codes::RECORD_TOO_LARGE));
        assert!(error.message.starts_with("records[1] is too large: 1000002 bytes"), "{}", error.message);
        let fits = "x".repeat(MAX_KAFKA_RECORD_BYTES - 2);
        assert!(produce(&format!(r#"{{"records":[{{"value":"{fits}"}}]}}"#)).is_ok());
    }

    #[test]
    fn put_record_takes_the_kinesis_proxy_body() {
        let record =
            parse_put_record(br#"{"StreamName":"s","Data":{"index": 1,"t":"a b"},"PartitionKey":"p-1"}"#, "s").unwrap();
        assert_eq!(record.data, br#"{"index":1,"t":"a b"}"#);
        assert_eq!(record.partition_key, "p-1");
        let code = |body: &str| parse_put_record(body.as_bytes(), "s").unwrap_err().error_code;
        assert_eq!(code(r#"{"StreamName":"other","Data":{},"PartitionKey":"p"}"#), codes::STREAM_NAME_MISMATCH);
        assert_eq!(code(r#"{"Data":null,"PartitionKey":"p"}"#), codes::NO_VALUE);
        assert_eq!(code(r#"{"PartitionKey":"p"}"#), codes::NO_VALUE);
        assert_eq!(code(r#"{"Data":{}}"#), codes::BAD_PARTITION_KEY);
        assert_eq!(code(r#"{"Data":{},"PartitionKey":""}"#), codes::BAD_PARTITION_KEY);
        assert_eq!(code(r#"{"Data":{},"PartitionKey":7}"#), codes::BAD_PARTITION_KEY);
        let long_key = "k".repeat(MAX_PARTITION_KEY_CHARS + 1);
        assert_eq!(code(&format!(r#"{{"Data":{{}},"PartitionKey":"{long_key}"}}"#)), codes::BAD_PARTITION_KEY);
        assert_eq!(code("[1]"), codes::NO_VALUE);
        let big = "x".repeat(MAX_KINESIS_RECORD_BYTES);
        assert_eq!(code(&format!(r#"{{"Data":"{big}","PartitionKey":"p"}}"#)), codes::RECORD_TOO_LARGE);
    }

    #[test]
    fn put_records_fails_oversized_records_one_by_one() {
        let big = "x".repeat(MAX_KINESIS_RECORD_BYTES);
        let body = format!(
            r#"{{"records":[{{"data":{{"a":1}},"partition-key":"1"}},{{"data":"{big}","partition-key":"2"}},{{"Data":[1, 2],"PartitionKey":"3"}}]}}"#
        );
        let records = parse_put_records(body.as_bytes(), "s").unwrap();
        assert_eq!(records[0].as_ref().unwrap().data, br#"{"a":1}"#);
        let failure = records[1].as_ref().unwrap_err();
        assert_eq!(failure.error_code, TOO_LARGE_ERROR_CODE);
        assert!(failure.error_message.starts_with("records[1] is too large"), "{}", failure.error_message);
        assert_eq!(records[2].as_ref().unwrap().data, b"[1,2]");
        let code = |body: &str| parse_put_records(body.as_bytes(), "s").unwrap_err().error_code;
        assert_eq!(code(r#"{"records":[{"data":{}}]}"#), codes::BAD_PARTITION_KEY);
        assert_eq!(code(r#"{"records":[{"partition-key":"p"}]}"#), codes::NO_VALUE);
        assert_eq!(code(r#"{"records":[]}"#), codes::NO_RECORDS);
        assert_eq!(
            code(r#"{"StreamName":"t","records":[{"data":{},"partition-key":"p"}]}"#),
            codes::STREAM_NAME_MISMATCH
        );
    }

    #[test]
    fn responses_have_the_wire_shapes() {
        let ok = ProduceResponse {
            error_code: None,
            message: None,
            offsets: vec![OffsetEntry::of(&Ok(Offset { partition: 0, offset: 7 }))],
            key_schema_id: None,
            value_schema_id: None,
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"offsets":[{"partition":0,"offset":7,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}"#
        );
        let entries = [
            PutRecordsEntry::of(&Ok(Stored {
                sequence_number: "1".into(),
                shard_id: "shardId-000000000000".into(),
                encryption_type: None,
            })),
            PutRecordsEntry::of(&Err(RecordFailure {
                error_code: "InternalFailure".into(),
                error_message: "m".into(),
            })),
        ];
        assert_eq!(
            serde_json::to_string(&entries).unwrap(),
            r#"[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"ErrorCode":"InternalFailure","ErrorMessage":"m"}]"#
        );
    }
}
