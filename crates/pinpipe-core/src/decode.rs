//! Raw record decoding: JSON lines as posted → one typed raw frame per table, plus the refused lines.
//!
//! Every as-posted form of SPEC §1 is accepted: numbers as JSON numbers or strings, `ind` for `index`,
//! fields in any order, unknown fields ignored. A line that is not JSON, not an object, or lacks an
//! integer key is refused with its reason; a field of the wrong JSON type becomes NULL and is counted.
//! Decoding runs in parallel over chunks of lines; cleaning happens afterwards as Polars expressions.
//! [`decode`] reads JSON lines (raw lake objects, files); [`decode_records`] reads inputs that each hold
//! exactly one record (Kinesis records), through the same per-record decoding.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use polars::prelude::*;
use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use crate::table::{Field, FieldKind, Table, KEY_COLUMN, RAW_HASH_COLUMN};

/// The JSON-lines content of one input: a file or a lake object.
#[derive(Debug, Clone)]
pub struct RawSource {
    /// Where the lines came from (a path or an object key); named in rejections.
    pub name: String,
    /// The bytes, one JSON record per line.
    pub bytes: Bytes,
}

/// One input holding exactly one JSON record, such as the data of a Kinesis record. Unlike a
/// [`RawSource`] it is not split into lines: the record may span several lines.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Which record this is (a Kinesis event id, say); named in rejections.
    pub name: String,
    /// The record's bytes.
    pub bytes: Bytes,
}

/// Why a line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// The line is not valid JSON (or not UTF-8).
    NotJson,
    /// The line is JSON but not an object.
    NotObject,
    /// The object has no key field.
    MissingKey,
    /// The key is not a JSON integer.
    KeyNotInteger,
    /// The key is an integer outside the int32 range.
    KeyOutOfRange,
    /// A field appears twice in the object, so its value is ambiguous.
    DuplicateField,
}

/// One refused line, as written to `rejected/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// The table the line was meant for.
    pub table: Table,
    /// The input it came from.
    pub source: String,
    /// Its 1-based line number in that input.
    pub line: u64,
    /// The kind of problem, for counting.
    pub kind: RejectKind,
    /// The specific problem.
    pub reason: String,
    /// The line itself (invalid UTF-8 replaced).
    pub record: String,
}

/// The result of decoding one table's inputs.
#[derive(Debug)]
pub struct Decoded {
    /// One row per accepted record: the key as `ind` (int32), every raw field, and [`RAW_HASH_COLUMN`].
    pub frame: DataFrame,
    /// The refused lines, in input order.
    pub rejected: Vec<Rejected>,
    /// Per field, how many values had a JSON type that field cannot hold (they became NULL).
    pub invalid_values: BTreeMap<String, u64>,
}

/// Lines per parallel decoding task.
const LINES_PER_CHUNK: usize = 16_384;

/// Decodes every line of `sources` as a record of `table`.
pub fn decode(table: Table, sources: &[RawSource]) -> PolarsResult<Decoded> {
    let chunks: Vec<Chunk> = sources.iter().flat_map(split_into_chunks).collect();
    let parts: Vec<PolarsResult<Decoded>> = chunks.par_iter().map(|chunk| decode_chunk(table, chunk)).collect();
    merge(table, parts)
}

/// Decodes each of `records` as one record of `table`, in order, exactly as [`decode`] decodes one
/// line. A refused record is reported with its name as `source` and line 1.
pub fn decode_records(table: Table, records: &[RawRecord]) -> PolarsResult<Decoded> {
    let parts: Vec<PolarsResult<Decoded>> = records
        .par_chunks(LINES_PER_CHUNK)
        .map(|chunk| {
            let mut builders = ColumnBuilders::new(table, chunk.len());
            let mut rejected = Vec::new();
            for record in chunk {
                builders.push_or_reject(&record.bytes, &record.name, 1, &mut rejected);
            }
            builders.into_decoded(rejected)
        })
        .collect();
    merge(table, parts)
}

/// Stacks the decoded parts of one table, in order.
fn merge(table: Table, parts: Vec<PolarsResult<Decoded>>) -> PolarsResult<Decoded> {
    let mut frames = Vec::with_capacity(parts.len());
    let mut rejected = Vec::new();
    let mut invalid_values = BTreeMap::new();
    for part in parts {
        let part = part?;
        frames.push(part.frame);
        rejected.extend(part.rejected);
        for (field, count) in part.invalid_values {
            *invalid_values.entry(field).or_insert(0) += count;
        }
    }
    let frame = match frames.len() {
        0 => ColumnBuilders::new(table, 0).finish()?,
        _ => {
            let mut frames = frames.into_iter();
            let mut frame = frames.next().expect("one frame");
            for next in frames {
                frame.vstack_mut_owned(next)?;
            }
            frame
        }
    };
    Ok(Decoded { frame, rejected, invalid_values })
}

/// A run of whole lines of one source.
struct Chunk<'a> {
    source: &'a str,
    first_line: u64,
    bytes: &'a [u8],
}

fn split_into_chunks(source: &RawSource) -> Vec<Chunk<'_>> {
    let bytes: &[u8] = &source.bytes;
    let mut chunks = Vec::new();
    let (mut start, mut line) = (0usize, 1u64);
    let mut lines_in_chunk = 0usize;
    for newline in memchr::memchr_iter(b'\n', bytes) {
        lines_in_chunk += 1;
        if lines_in_chunk == LINES_PER_CHUNK {
            chunks.push(Chunk { source: &source.name, first_line: line, bytes: &bytes[start..=newline] });
            (start, line, lines_in_chunk) = (newline + 1, line + LINES_PER_CHUNK as u64, 0);
        }
    }
    if start < bytes.len() {
        chunks.push(Chunk { source: &source.name, first_line: line, bytes: &bytes[start..] });
    }
    chunks
}

fn decode_chunk(table: Table, chunk: &Chunk<'_>) -> PolarsResult<Decoded> {
    let mut builders = ColumnBuilders::new(table, LINES_PER_CHUNK);
    let mut rejected = Vec::new();
    for (offset, line) in chunk.bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        builders.push_or_reject(line, chunk.source, chunk.first_line + offset as u64, &mut rejected);
    }
    builders.into_decoded(rejected)
}

/// A JSON value as posted, borrowed from the line where possible.
#[derive(Debug, Clone, PartialEq)]
enum Posted<'a> {
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    /// An array or object: no field holds one.
    Nested(&'static str),
}

impl Posted<'_> {
    fn describe(&self) -> String {
        match self {
            Posted::Null => "null".into(),
            Posted::Text(text) => format!("the string {text:?}"),
            Posted::Int(v) => v.to_string(),
            Posted::UInt(v) => v.to_string(),
            Posted::Float(v) => format!("{v:?}"),
            Posted::Bool(v) => v.to_string(),
            Posted::Nested(kind) => format!("an {kind}"),
        }
    }

    /// Feeds the value into a record hash; every variant is tagged so `"1"` and `1` differ.
    fn hash_into(&self, hasher: &mut Xxh3) {
        match self {
            Posted::Null => hasher.update(&[0]),
            Posted::Text(text) => {
                hasher.update(&[1]);
                hasher.update(&(text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            Posted::Int(v) => {
                hasher.update(&[2]);
                hasher.update(&v.to_le_bytes());
            }
            Posted::UInt(v) => {
                hasher.update(&[3]);
                hasher.update(&v.to_le_bytes());
            }
            Posted::Float(v) => {
                hasher.update(&[4]);
                hasher.update(&v.to_bits().to_le_bytes());
            }
            Posted::Bool(v) => hasher.update(&[5, u8::from(*v)]),
            Posted::Nested(kind) => {
                hasher.update(&[6]);
                hasher.update(kind.as_bytes());
            }
        }
    }
}

impl<'de> de::Deserialize<'de> for Posted<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PostedVisitor)
    }
}

struct PostedVisitor;

impl<'de> Visitor<'de> for PostedVisitor {
    type Value = Posted<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Posted::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Posted::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Posted::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Posted::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Posted::UInt(v), Posted::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Posted::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Posted::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Posted::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Posted::Text(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Posted::Nested("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Posted::Nested("object"))
    }
}

/// Reads one JSON object, keeping only the table's fields, in the table's field order.
struct RecordSeed {
    fields: &'static [Field],
}

impl<'de> DeserializeSeed<'de> for RecordSeed {
    type Value = Vec<Posted<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed {
    type Value = Vec<Posted<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![Posted::Null; self.fields.len()];
        let mut seen = vec![false; self.fields.len()];
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let position =
                self.fields.iter().position(|field| field.name == name || field.alias == Some(name.as_ref()));
            match position {
                Some(i) if seen[i] => return Err(de::Error::custom(format_args!("duplicate field `{name}`"))),
                Some(i) => {
                    values[i] = map.next_value()?;
                    seen[i] = true;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen[0] {
            return Err(de::Error::custom(MISSING_KEY));
        }
        Ok(values)
    }
}

const MISSING_KEY: &str = "missing key";

/// Column builders for one table's raw frame.
struct ColumnBuilders {
    table: Table,
    keys: PrimitiveChunkedBuilder<Int32Type>,
    columns: Vec<ColumnBuilder>,
    hashes: BinaryChunkedBuilder,
    invalid: Vec<u64>,
}

enum ColumnBuilder {
    Text(StringChunkedBuilder),
    Integer(PrimitiveChunkedBuilder<Int32Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
}

impl ColumnBuilders {
    fn new(table: Table, capacity: usize) -> Self {
        let fields = table.fields();
        let columns = fields[1..]
            .iter()
            .map(|field| {
                let name = PlSmallStr::from_static(field.name);
                match field.kind {
                    FieldKind::Text => ColumnBuilder::Text(StringChunkedBuilder::new(name, capacity)),
                    FieldKind::Integer => ColumnBuilder::Integer(PrimitiveChunkedBuilder::new(name, capacity)),
                    FieldKind::Float => ColumnBuilder::Float(PrimitiveChunkedBuilder::new(name, capacity)),
                    FieldKind::Key => unreachable!("only the first field is the key"),
                }
            })
            .collect();
        ColumnBuilders {
            table,
            keys: PrimitiveChunkedBuilder::new(KEY_COLUMN.into(), capacity),
            columns,
            hashes: BinaryChunkedBuilder::new(RAW_HASH_COLUMN.into(), capacity),
            invalid: vec![0; fields.len()],
        }
    }

    /// Decodes one line into the builders, or says why it is refused.
    fn push_line(&mut self, line: &[u8]) -> Result<(), (RejectKind, String)> {
        let fields = self.table.fields();
        let mut deserializer = serde_json::Deserializer::from_slice(line);
        let values = RecordSeed { fields }
            .deserialize(&mut deserializer)
            .and_then(|values| deserializer.end().map(|()| values))
            .map_err(|error| classify(error, fields[0].name))?;
        let key = record_key(&values[0], fields[0].name)?;
        let mut hasher = Xxh3::new();
        self.keys.append_value(key);
        hasher.update(&key.to_le_bytes());
        for (i, (value, column)) in values[1..].iter().zip(&mut self.columns).enumerate() {
            value.hash_into(&mut hasher);
            if !column.push(value) {
                self.invalid[i + 1] += 1;
            }
        }
        self.hashes.append_value(hasher.digest128().to_le_bytes());
        Ok(())
    }

    /// Decodes one record, or files it in `rejected` with where it came from and why.
    fn push_or_reject(&mut self, record: &[u8], source: &str, line: u64, rejected: &mut Vec<Rejected>) {
        if let Err((kind, reason)) = self.push_line(record) {
            rejected.push(Rejected {
                table: self.table,
                source: source.to_string(),
                line,
                kind,
                reason,
                record: String::from_utf8_lossy(record).into_owned(),
            });
        }
    }

    /// The decoded frame of everything pushed, with the records refused along the way.
    fn into_decoded(self, rejected: Vec<Rejected>) -> PolarsResult<Decoded> {
        let invalid_values = self.invalid_counts();
        Ok(Decoded { frame: self.finish()?, rejected, invalid_values })
    }

    fn invalid_counts(&self) -> BTreeMap<String, u64> {
        let fields = self.table.fields();
        self.invalid
            .iter()
            .zip(fields)
            .filter(|(count, _)| **count > 0)
            .map(|(count, field)| (field.name.to_string(), *count))
            .collect()
    }

    fn finish(self) -> PolarsResult<DataFrame> {
        let mut columns = Vec::with_capacity(self.columns.len() + 2);
        columns.push(self.keys.finish().into_column());
        columns.extend(self.columns.into_iter().map(ColumnBuilder::finish));
        columns.push(self.hashes.finish().into_column());
        DataFrame::new_infer_height(columns)
    }
}

impl ColumnBuilder {
    /// Appends one value; false when its JSON type does not fit the column (NULL is appended).
    fn push(&mut self, value: &Posted<'_>) -> bool {
        match self {
            ColumnBuilder::Text(builder) => match value {
                Posted::Null => builder.append_null(),
                Posted::Text(text) => builder.append_value(text.as_ref()),
                Posted::Int(v) => builder.append_value(v.to_string()),
                Posted::UInt(v) => builder.append_value(v.to_string()),
                Posted::Float(v) => builder.append_value(format!("{v:?}")),
                Posted::Bool(v) => builder.append_value(v.to_string()),
                Posted::Nested(_) => {
                    builder.append_null();
                    return false;
                }
            },
            ColumnBuilder::Integer(builder) => {
                let parsed = match value {
                    Posted::Null => {
                        builder.append_null();
                        return true;
                    }
                    Posted::Int(v) => i32::try_from(*v).ok(),
                    Posted::Text(text) => text.trim().parse().ok(),
                    Posted::Float(v) if v.fract() == 0.0 && v.abs() <= i32::MAX as f64 => Some(*v as i32),
                    _ => None,
                };
                builder.append_option(parsed);
                return parsed.is_some();
            }
            ColumnBuilder::Float(builder) => {
                let parsed = match value {
                    Posted::Null => {
                        builder.append_null();
                        return true;
                    }
                    Posted::Int(v) => Some(*v as f64),
                    Posted::UInt(v) => Some(*v as f64),
                    Posted::Float(v) => Some(*v),
                    Posted::Text(text) => text.trim().parse().ok().filter(|v: &f64| v.is_finite()),
                    _ => None,
                };
                builder.append_option(parsed);
                return parsed.is_some();
            }
        }
        true
    }

    fn finish(self) -> Column {
        match self {
            ColumnBuilder::Text(builder) => builder.finish().into_column(),
            ColumnBuilder::Integer(builder) => builder.finish().into_column(),
            ColumnBuilder::Float(builder) => builder.finish().into_column(),
        }
    }
}

fn classify(error: serde_json::Error, key: &str) -> (RejectKind, String) {
    match error.classify() {
        serde_json::error::Category::Data if error.to_string().starts_with(MISSING_KEY) => {
            (RejectKind::MissingKey, format!("missing integer key `{key}`"))
        }
        serde_json::error::Category::Data if error.to_string().starts_with("duplicate field") => {
            (RejectKind::DuplicateField, format!("ambiguous record: {error}"))
        }
        serde_json::error::Category::Data => (RejectKind::NotObject, format!("not a JSON object: {error}")),
        _ => (RejectKind::NotJson, format!("not valid JSON: {error}")),
    }
}

fn record_key(value: &Posted<'_>, key: &str) -> Result<i32, (RejectKind, String)> {
    match value {
        Posted::Int(v) => i32::try_from(*v)
            .map_err(|_| (RejectKind::KeyOutOfRange, format!("key `{key}` {v} is outside the int32 range"))),
        Posted::UInt(v) => Err((RejectKind::KeyOutOfRange, format!("key `{key}` {v} is outside the int32 range"))),
        Posted::Null => Err((RejectKind::MissingKey, format!("key `{key}` is null"))),
        other => Err((RejectKind::KeyNotInteger, format!("key `{key}` is {}, not an integer", other.describe()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, text: &str) -> RawRecord {
        RawRecord { name: name.to_string(), bytes: Bytes::copy_from_slice(text.as_bytes()) }
    }

    #[test]
    fn records_decode_exactly_as_the_same_lines_do() {
        let texts = [
            r#"{"ind": 7, "timestamp": "2020-08-28 03:52:47", "latitude": -1.5, "longitude": 2, "country": "Aruba"}"#,
            r#"{"ind": 7, "timestamp": "2020-08-28 03:52:47", "latitude": -1.5, "longitude": 2, "country": "Aruba"}"#,
            r#"{"country": "Chad", "ind": "8", "latitude": "x"}"#,
            r#"{"ind": 9, "country": null}"#,
        ];
        let lines: String = texts.iter().flat_map(|text| [*text, "\n"]).collect();
        let by_lines = decode(Table::Geo, &[RawSource { name: "lines".into(), bytes: lines.into() }]).unwrap();
        let records: Vec<RawRecord> =
            texts.iter().enumerate().map(|(i, text)| record(&format!("r{i}"), text)).collect();
        let by_records = decode_records(Table::Geo, &records).unwrap();
        assert!(by_records.frame.equals_missing(&by_lines.frame), "{by_records:?}\n{by_lines:?}");
        assert_eq!(by_records.invalid_values, by_lines.invalid_values);
        assert_eq!(by_records.rejected.len(), 1);
        assert_eq!(by_records.rejected[0].source, "r2");
        assert_eq!(by_records.rejected[0].kind, RejectKind::KeyNotInteger);
    }

    #[test]
    fn a_record_may_span_lines_and_bad_records_are_refused_by_name() {
        let records = [
            record("pretty", "{\n  \"ind\": 1,\n  \"first_name\": \"Ann\",\n  \"age\": 30\n}\n"),
            record("not-json", "not json"),
            record("two-records", "{\"ind\": 2}\n{\"ind\": 3}"),
            record("no-key", r#"{"first_name": "Bo"}"#),
            record("empty", ""),
            record("array", "[1, 2]"),
        ];
        let decoded = decode_records(Table::User, &records).unwrap();
        assert_eq!(decoded.frame.height(), 1);
        assert_eq!(decoded.frame.column(KEY_COLUMN).unwrap().i32().unwrap().get(0), Some(1));
        let refused: Vec<(&str, u64, RejectKind)> =
            decoded.rejected.iter().map(|r| (r.source.as_str(), r.line, r.kind)).collect();
        assert_eq!(
            refused,
            [
                ("not-json", 1, RejectKind::NotJson),
                ("two-records", 1, RejectKind::NotJson),
                ("no-key", 1, RejectKind::MissingKey),
                ("empty", 1, RejectKind::NotJson),
                ("array", 1, RejectKind::NotObject),
            ]
        );
        assert_eq!(decoded.rejected[0].record, "not json");
        assert_eq!(decode_records(Table::Pin, &[]).unwrap().frame.height(), 0);
    }
}
