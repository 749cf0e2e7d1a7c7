//! Raw record decoding: JSON lines as posted → one typed raw frame per table, plus the refused lines.
//!
//! Every as-posted form of SPEC §1 is accepted: numbers as JSON numbers or strings, `ind` for `index`,
//! fields in any order, unknown fields ignored. A line that is not JSON, not an object, or lacks an
//! integer key is refused with its reason; a field of the wrong JSON type becomes NULL and is counted.
//! Decoding runs in parallel over chunks of lines; cleaning happens afterwards as Polars expressions.
//! [`decode`] reads JSON lines (raw lake objects, files); [`decode_records`] reads inputs that each hold
//! exactly one record (Kinesis records), through the same per-record decoding.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

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

/// Decodes each of `records` (inputs holding exactly one JSON record each, such as the data of
/// Kinesis records; not split into lines, so a record may span several) as one record of `table`,
/// in order, exactly as [`decode`] decodes one line. A refused record is reported with line 1 and,
/// as `source`, its position in `records` (0-based, in decimal).
pub fn decode_records<R: AsRef<[u8]> + Sync>(table: Table, records: &[R]) -> PolarsResult<Decoded> {
    let parts: Vec<PolarsResult<Decoded>> = records
        .par_chunks(LINES_PER_CHUNK)
        .enumerate()
        .map(|(chunk_index, chunk)| {
            let mut builders = ColumnBuilders::new(table, chunk.len());
            let mut rejected = Vec::new();
            for (offset, record) in chunk.iter().enumerate() {
                let position = chunk_index * LINES_PER_CHUNK + offset;
                builders.push_or_reject(record.as_ref(), position, 1, &mut rejected);
            }
            builders.into_decoded(rejected)
        })
        .collect();
    merge(table, parts)
}

/// What [`decode_distinct`] and [`DistinctLines`] return.
#[derive(Debug)]
pub struct DistinctDecoded {
    /// `frame` holds the first of each set of exact duplicate records, in input order (the rows
    /// `decode(..).frame` keeps after dropping duplicates by [`RAW_HASH_COLUMN`], first kept);
    /// `rejected` every refused line and `invalid_values` every invalid value, duplicates included,
    /// exactly as [`decode`] reports them.
    pub decoded: Decoded,
    /// Records accepted, duplicates included (the height of `decode(..).frame`).
    pub records_accepted: u64,
}

/// Decodes every line of `sources` as [`decode`] does, dropping exact duplicate records as it goes
/// (see [`DistinctLines`]).
pub fn decode_distinct(table: Table, sources: &[RawSource]) -> PolarsResult<DistinctDecoded> {
    let mut lines = DistinctLines::new(table);
    for source in sources {
        lines.push(&source.name, &source.bytes, 1);
    }
    lines.finish()
}

/// Decodes JSON lines fed in pieces, keeping only the distinct ones: the streaming form of
/// [`decode_distinct`], for inputs read block by block.
///
/// Lines are first told apart by a 128-bit hash of their bytes: a line byte-identical to an earlier
/// one decodes to the same record (or the same refusal), so it is counted but neither kept, decoded
/// again nor copied into a column. Only the distinct lines' bytes are kept; [`DistinctLines::finish`]
/// decodes them (in parallel) and drops records that are equal without being byte-identical (fields
/// reordered, spacing) by their record hash. Duplicates thus cost a hash of their bytes and a few
/// bytes of bookkeeping, and memory stays near the size of the distinct lines, not of the input.
pub struct DistinctLines {
    table: Table,
    /// Distinct line id by the hash of the line's bytes.
    ids: HashMap<u128, u32, BuildHasherDefault<PrehashedHasher>>,
    /// The distinct lines' bytes, back to back.
    text: Vec<u8>,
    /// Per distinct line: where it ends in `text`, where it was first seen, how many copies there are.
    firsts: Vec<FirstLine>,
    /// Every non-blank line, in input order: its distinct id and where it is (for refusals).
    occurrences: Vec<Occurrence>,
    /// The names of the sources fed so far.
    sources: Vec<String>,
}

struct FirstLine {
    end: usize,
    source: u32,
    number: u64,
    copies: u64,
}

struct Occurrence {
    id: u32,
    source: u32,
    number: u64,
}

impl DistinctLines {
    /// Nothing fed yet.
    pub fn new(table: Table) -> Self {
        DistinctLines {
            table,
            ids: HashMap::default(),
            text: Vec::new(),
            firsts: Vec::new(),
            occurrences: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// Feeds whole lines of the source `name` (a piece may end without a line break only at the
    /// source's end), the first of them being line `first_line` (1-based); returns the number of the
    /// line after the last one fed. Blank lines count in the numbering but are not records.
    pub fn push(&mut self, name: &str, bytes: &[u8], first_line: u64) -> u64 {
        if self.sources.last().map(String::as_str) != Some(name) {
            self.sources.push(name.to_string());
        }
        let source = (self.sources.len() - 1) as u32;
        // Hash the lines in parallel, in pieces of about a megabyte cut at line breaks.
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let end = (start + PIECE_BYTES).min(bytes.len());
            let end = match memchr::memchr(b'\n', &bytes[end..]) {
                Some(newline) if end < bytes.len() => end + newline + 1,
                _ => bytes.len(),
            };
            pieces.push(start..end);
            start = end;
        }
        let hashed: Vec<(Vec<LineRef>, u64)> =
            pieces.into_par_iter().map(|range| hash_lines(&bytes[range.clone()], range.start)).collect();
        let mut number = first_line;
        for (lines, count) in hashed {
            for line in lines {
                let line_number = number + line.number;
                let next_id = self.firsts.len() as u32;
                let id = *self.ids.entry(line.hash).or_insert(next_id);
                if id == next_id {
                    self.text.extend_from_slice(&bytes[line.start..line.end]);
                    self.firsts.push(FirstLine { end: self.text.len(), source, number: line_number, copies: 0 });
                }
                self.firsts[id as usize].copies += 1;
                self.occurrences.push(Occurrence { id, source, number: line_number });
            }
            number += count;
        }
        number
    }

    /// Decodes the distinct lines.
    pub fn finish(self) -> PolarsResult<DistinctDecoded> {
        let DistinctLines { table, ids, text, firsts, occurrences, sources } = self;
        drop(ids);
        let starts: Vec<usize> = std::iter::once(0).chain(firsts.iter().map(|first| first.end)).collect();
        // Each distinct line is decoded once; its invalid values count once per copy.
        let outcomes: Vec<PolarsResult<(Decoded, Vec<Option<Rejected>>)>> = firsts
            .par_chunks(LINES_PER_CHUNK)
            .enumerate()
            .map(|(block, group)| {
                let mut builders = ColumnBuilders::new(table, group.len());
                let mut refused = Vec::with_capacity(group.len());
                for (i, first) in group.iter().enumerate() {
                    let bytes = &text[starts[block * LINES_PER_CHUNK + i]..first.end];
                    refused.push(builders.push_line(bytes, first.copies).err().map(|refusal| {
                        builders.rejected(bytes, &sources[first.source as usize], first.number, refusal)
                    }));
                }
                Ok((builders.into_decoded(Vec::new())?, refused))
            })
            .collect();
        let mut parts = Vec::with_capacity(outcomes.len());
        let mut refusals: Vec<Option<Rejected>> = Vec::with_capacity(firsts.len());
        for outcome in outcomes {
            let (part, refused) = outcome?;
            parts.push(Ok(part));
            refusals.extend(refused);
        }
        // Every copy of a refused line is refused, at its own place, in input order.
        let mut rejected = Vec::new();
        let mut records_accepted = 0u64;
        for occurrence in &occurrences {
            match &refusals[occurrence.id as usize] {
                None => records_accepted += 1,
                Some(first) => rejected.push(Rejected {
                    source: sources[occurrence.source as usize].clone(),
                    line: occurrence.number,
                    ..first.clone()
                }),
            }
        }
        let mut decoded = merge(table, parts)?;
        decoded.rejected = rejected;
        // Equal records that are not byte-identical: keep the first.
        if decoded.frame.height() > 1 {
            decoded.frame =
                decoded.frame.unique_stable(Some(&[RAW_HASH_COLUMN.to_string()]), UniqueKeepStrategy::First, None)?;
        }
        Ok(DistinctDecoded { decoded, records_accepted })
    }
}

/// Bytes per parallel hashing task in [`DistinctLines::push`].
const PIECE_BYTES: usize = 1 << 20;

/// One non-blank line: where it is, its line offset (0-based) in its piece and the hash of its bytes.
struct LineRef {
    hash: u128,
    start: usize,
    end: usize,
    number: u64,
}

/// The non-blank lines of `bytes` (whole lines at `offset` in what was pushed; a trailing `\r` is
/// not part of a line, as in [`decode`]) and how many lines, blank ones included, it holds.
fn hash_lines(bytes: &[u8], offset: usize) -> (Vec<LineRef>, u64) {
    let mut lines = Vec::new();
    let ends = memchr::memchr_iter(b'\n', bytes).chain((bytes.last() != Some(&b'\n')).then_some(bytes.len()));
    let (mut start, mut count) = (0usize, 0u64);
    for end in ends {
        if start > bytes.len() {
            break;
        }
        let line = &bytes[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            lines.push(LineRef {
                hash: xxhash_rust::xxh3::xxh3_128(line),
                start: offset + start,
                end: offset + start + line.len(),
                number: count,
            });
        }
        count += 1;
        start = end + 1;
    }
    (lines, count)
}

/// A hasher for keys that already are uniformly distributed hashes: it keeps their low 64 bits.
#[derive(Default)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
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

    /// Decodes one line into the builders, or says why it is refused. A value whose JSON type its
    /// field cannot hold counts `weight` times (the record stands for that many identical lines).
    fn push_line(&mut self, line: &[u8], weight: u64) -> Result<(), (RejectKind, String)> {
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
                self.invalid[i + 1] += weight;
            }
        }
        self.hashes.append_value(hasher.digest128().to_le_bytes());
        Ok(())
    }

    /// Decodes one record, or files it in `rejected` with where it came from (`source`, formatted
    /// only then) and why.
    fn push_or_reject(&mut self, record: &[u8], source: impl fmt::Display, line: u64, rejected: &mut Vec<Rejected>) {
        if let Err(refusal) = self.push_line(record, 1) {
            rejected.push(self.rejected(record, source, line, refusal));
        }
    }

    /// A refused record, as filed.
    fn rejected(
        &self,
        record: &[u8],
        source: impl fmt::Display,
        line: u64,
        (kind, reason): (RejectKind, String),
    ) -> Rejected {
        Rejected {
            table: self.table,
            source: source.to_string(),
            line,
            kind,
            reason,
            record: String::from_utf8_lossy(record).into_owned(),
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
        let by_records = decode_records(Table::Geo, &texts).unwrap();
        assert!(by_records.frame.equals_missing(&by_lines.frame), "{by_records:?}\n{by_lines:?}");
        assert_eq!(by_records.invalid_values, by_lines.invalid_values);
        assert_eq!(by_records.rejected.len(), 1);
        assert_eq!(by_records.rejected[0].source, "2");
        assert_eq!(by_records.rejected[0].kind, RejectKind::KeyNotInteger);
    }

    #[test]
    fn decoding_distinct_lines_gives_what_decoding_all_then_dropping_duplicates_gives() {
        let a =
            r#"{"ind": 1, "first_name": "Ann", "last_name": "Lee", "age": 30, "date_joined": "2016-01-01 00:00:00"}"#;
        let a_reordered =
            r#"{"age": 30, "ind": 1, "last_name": "Lee", "first_name": "Ann", "date_joined": "2016-01-01 00:00:00"}"#;
        let b = r#"{"ind": 2, "first_name": "Bo", "age": [1], "date_joined": "x"}"#;
        let c = r#"{"ind": 3, "first_name": "Cy", "age": "31"}"#;
        let bad = r#"{"first_name": "no key"}"#;
        let first = [a, "", b, bad, a, "  ", c, b, a_reordered, "not json", bad].join("\n");
        let second = [c, a, bad, b, "{\"ind\": 4}\r", "{\"ind\": 4}"].join("\n") + "\n";
        let sources = [
            RawSource { name: "one.jsonl".into(), bytes: first.clone().into() },
            RawSource { name: "two.jsonl".into(), bytes: second.clone().into() },
        ];
        let all = decode(Table::User, &sources).unwrap();
        let distinct = decode_distinct(Table::User, &sources).unwrap();
        let expected =
            all.frame.unique_stable(Some(&[RAW_HASH_COLUMN.to_string()]), UniqueKeepStrategy::First, None).unwrap();
        assert!(distinct.decoded.frame.equals_missing(&expected), "{:?}\n{expected:?}", distinct.decoded.frame);
        assert_eq!(distinct.decoded.frame.height(), 4);
        assert_eq!(distinct.records_accepted, all.frame.height() as u64);
        assert_eq!(distinct.records_accepted, 11);
        assert_eq!(distinct.decoded.rejected, all.rejected);
        let places: Vec<(&str, u64)> = all.rejected.iter().map(|r| (r.source.as_str(), r.line)).collect();
        assert_eq!(places, [("one.jsonl", 4), ("one.jsonl", 10), ("one.jsonl", 11), ("two.jsonl", 3)]);
        assert_eq!(distinct.decoded.invalid_values, all.invalid_values);
        assert_eq!(all.invalid_values.get("age"), Some(&3));
        // Fed block by block (whole lines each), as files are read, the answer is the same.
        let mut lines = DistinctLines::new(Table::User);
        let mut next = 1;
        for piece in first.split_inclusive('\n').collect::<Vec<_>>().chunks(3) {
            next = lines.push("one.jsonl", piece.concat().as_bytes(), next);
        }
        assert_eq!(next, 12);
        assert_eq!(lines.push("two.jsonl", second.as_bytes(), 1), 7);
        let streamed = lines.finish().unwrap();
        assert!(streamed.decoded.frame.equals_missing(&expected));
        assert_eq!(streamed.records_accepted, 11);
        assert_eq!(streamed.decoded.rejected, all.rejected);
        assert_eq!(streamed.decoded.invalid_values, all.invalid_values);
        let none = decode_distinct(Table::Pin, &[]).unwrap();
        assert_eq!((none.decoded.frame.height(), none.records_accepted), (0, 0));
    }

    #[test]
    fn a_record_may_span_lines_and_bad_records_are_refused_by_position() {
        let records = [
            "{\n  \"ind\": 1,\n  \"first_name\": \"Ann\",\n  \"age\": 30\n}\n",
            "not json",
            "{\"ind\": 2}\n{\"ind\": 3}",
            r#"{"first_name": "Bo"}"#,
            "",
            "[1, 2]",
        ];
        let decoded = decode_records(Table::User, &records).unwrap();
        assert_eq!(decoded.frame.height(), 1);
        assert_eq!(decoded.frame.column(KEY_COLUMN).unwrap().i32().unwrap().get(0), Some(1));
        let refused: Vec<(&str, u64, RejectKind)> =
            decoded.rejected.iter().map(|r| (r.source.as_str(), r.line, r.kind)).collect();
        assert_eq!(
            refused,
            [
                ("1", 1, RejectKind::NotJson),
                ("2", 1, RejectKind::NotJson),
                ("3", 1, RejectKind::MissingKey),
                ("4", 1, RejectKind::NotJson),
                ("5", 1, RejectKind::NotObject),
            ]
        );
        assert_eq!(decoded.rejected[0].record, "not json");
        assert_eq!(decode_records::<&str>(Table::Pin, &[]).unwrap().frame.height(), 0);
        // Positions count across the parallel chunks.
        let mut many = vec![r#"{"ind": 1}"#; LINES_PER_CHUNK + 2];
        many[LINES_PER_CHUNK + 1] = "{";
        let decoded = decode_records(Table::Geo, &many).unwrap();
        assert_eq!(decoded.frame.height(), LINES_PER_CHUNK + 1);
        let refused: Vec<&str> = decoded.rejected.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(refused, [(LINES_PER_CHUNK + 1).to_string()]);
    }
}
