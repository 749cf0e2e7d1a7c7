//! Raw record decoding: JSON lines as posted → one typed raw frame per table, plus the refused records.
//!
//! Every as-posted form of docs/SPEC.md §1 is accepted: numbers as JSON numbers or strings, `ind` for
//! `index`, fields in any order, unknown fields ignored. A record that is not JSON, not an object, or
//! lacks an integer key is refused with its reason; a field of the wrong JSON type becomes NULL and
//! is counted. Decoding runs in parallel over chunks of lines; cleaning happens afterwards as Polars
//! expressions. [`decode`] reads JSON lines (raw lake objects, files); [`decode_records`] reads inputs
//! that each hold exactly one record (Kinesis records), through the same per-record decoding;
//! [`decode_distinct`], [`DistinctLines`] and [`DistinctBlocks`] drop duplicate lines before decoding them.
//!
//! * `record`: parsing one record into its key and field values, or the reason it is refused.
//! * `columns`: building the raw frame's columns from parsed records.
//! * `distinct`: dropping duplicate lines.

mod columns;
mod distinct;
mod record;

use std::collections::BTreeMap;

use bytes::Bytes;
use pinpipe_contract::{Origin, Payload, RejectKind, RejectedRecord, Stage, Table};
use polars::prelude::*;
use rayon::prelude::*;

use columns::ColumnBuilders;
pub use distinct::{decode_distinct, hash_bits, DistinctBlocks, DistinctDecoded, DistinctLines, PartMap};
pub use record::Refusal;

/// The JSON-lines content of one input: a file or a lake object.
#[derive(Debug, Clone)]
pub struct RawSource {
    /// Where the lines came from (a path or an object key); named in refusals.
    pub name: String,
    /// The bytes, one JSON record per line.
    pub bytes: Bytes,
}

/// A line of an input: where [`decode`] found a refused record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The input's name ([`RawSource::name`]).
    pub source: String,
    /// The 1-based line number.
    pub number: u64,
}

impl From<Line> for Origin {
    fn from(line: Line) -> Self {
        Origin::Line { source: line.source, line: line.number }
    }
}

/// One refused record: where it was (`P`: a [`Line`], or for [`decode_records`] its index among the
/// records), why, and its bytes as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused<P> {
    /// Where it was.
    pub at: P,
    /// The kind of problem, for counting.
    pub kind: RejectKind,
    /// The specific problem.
    pub reason: String,
    /// The record as received.
    pub payload: Payload,
}

impl<P> Refused<P> {
    fn new(at: P, refusal: Refusal, record: &[u8]) -> Self {
        Refused { at, kind: refusal.kind, reason: refusal.reason, payload: Payload::of_bytes(record) }
    }

    /// The refusal as a line of `rejected/` (docs/SPEC.md §3), refused by `stage` from `table`, found at `origin`.
    pub fn into_record(self, stage: Stage, table: Table, origin: Origin) -> RejectedRecord {
        RejectedRecord {
            stage,
            table: Some(table),
            origin,
            kind: self.kind,
            reason: self.reason,
            payload: Some(self.payload),
        }
    }
}

impl Refused<Line> {
    /// The refusal as a line of `rejected/`, refused by `stage` from `table`, at its line.
    pub fn into_line_record(self, stage: Stage, table: Table) -> RejectedRecord {
        let origin = Origin::from(self.at.clone());
        self.into_record(stage, table, origin)
    }
}

/// The result of decoding one table's inputs.
#[derive(Debug)]
pub struct Decoded<P> {
    /// One row per accepted record: the key as `ind` (int32), every raw field, and
    /// [`RAW_HASH_COLUMN`](pinpipe_contract::table::RAW_HASH_COLUMN).
    pub frame: DataFrame,
    /// The refused records, in input order.
    pub refused: Vec<Refused<P>>,
    /// Per field, how many values had a JSON type that field cannot hold (they became NULL).
    pub invalid_values: BTreeMap<String, u64>,
}

/// Lines per parallel decoding task.
const LINES_PER_CHUNK: usize = 16_384;

/// Decodes every line of `sources` as a record of `table`.
pub fn decode(table: Table, sources: &[RawSource]) -> PolarsResult<Decoded<Line>> {
    let chunks: Vec<Chunk> = sources.iter().flat_map(split_into_chunks).collect();
    let parts: Vec<PolarsResult<Decoded<Line>>> = chunks.par_iter().map(|chunk| decode_chunk(table, chunk)).collect();
    merge(table, parts)
}

/// Decodes each of `records` (inputs holding exactly one JSON record each, such as the data of
/// Kinesis records; not split into lines, so a record may span several) as one record of `table`,
/// in order, exactly as [`decode`] decodes one line. A refused record is named by its index in `records`.
pub fn decode_records<R: AsRef<[u8]> + Sync>(table: Table, records: &[R]) -> PolarsResult<Decoded<usize>> {
    let parts: Vec<PolarsResult<Decoded<usize>>> = records
        .par_chunks(LINES_PER_CHUNK)
        .enumerate()
        .map(|(chunk_index, chunk)| {
            let mut builders = ColumnBuilders::new(table, chunk.len());
            let mut refused = Vec::new();
            for (offset, record) in chunk.iter().enumerate() {
                builders.push_or_reject(record.as_ref(), || chunk_index * LINES_PER_CHUNK + offset, &mut refused);
            }
            builders.into_decoded(refused)
        })
        .collect();
    merge(table, parts)
}

/// Stacks the decoded parts of one table, in order.
fn merge<P>(table: Table, parts: Vec<PolarsResult<Decoded<P>>>) -> PolarsResult<Decoded<P>> {
    let mut frames = Vec::with_capacity(parts.len());
    let mut refused = Vec::new();
    let mut invalid_values = BTreeMap::new();
    for part in parts {
        let part = part?;
        frames.push(part.frame);
        refused.extend(part.refused);
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
    Ok(Decoded { frame, refused, invalid_values })
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

fn decode_chunk(table: Table, chunk: &Chunk<'_>) -> PolarsResult<Decoded<Line>> {
    let mut builders = ColumnBuilders::new(table, LINES_PER_CHUNK);
    let mut refused = Vec::new();
    for (offset, line) in chunk.bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = || Line { source: chunk.source.to_string(), number: chunk.first_line + offset as u64 };
        builders.push_or_reject(line, at, &mut refused);
    }
    builders.into_decoded(refused)
}

#[cfg(test)]
mod tests {
    use pinpipe_contract::table::{KEY_COLUMN, RAW_HASH_COLUMN};

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
        assert_eq!(by_records.refused.len(), 1);
        assert_eq!(by_records.refused[0].at, 2);
        assert_eq!(by_records.refused[0].kind, RejectKind::KeyNotInteger);
        assert_eq!(by_records.refused[0].payload, Payload::Text(texts[2].to_string()));
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
        assert_eq!(distinct.decoded.refused, all.refused);
        let places: Vec<(&str, u64)> = all.refused.iter().map(|r| (r.at.source.as_str(), r.at.number)).collect();
        assert_eq!(places, [("one.jsonl", 4), ("one.jsonl", 10), ("one.jsonl", 11), ("two.jsonl", 3)]);
        assert_eq!(distinct.decoded.invalid_values, all.invalid_values);
        assert_eq!(all.invalid_values.get("age"), Some(&3));
        // Fed block by block (whole lines each), as files are read, the answer is the same.
        let mut lines = DistinctLines::new(Table::User);
        let mut next = 1;
        for piece in first.split_inclusive('\n').collect::<Vec<_>>().chunks(3) {
            next = lines.push("one.jsonl", piece.concat().as_bytes(), next).unwrap();
        }
        assert_eq!(next, 12);
        assert_eq!(lines.push("two.jsonl", second.as_bytes(), 1).unwrap(), 7);
        let streamed = lines.finish().unwrap();
        // Fed as owned blocks, each indexed while the one before is decoded, the answer is the same.
        let mut blocks = DistinctBlocks::new(Table::User);
        let (mut next, mut returned) = (1, 0);
        for piece in first.split_inclusive('\n').collect::<Vec<_>>().chunks(2) {
            let done;
            (next, done) = blocks.push("one.jsonl", piece.concat().into_bytes(), next).unwrap();
            returned += usize::from(done.is_some());
        }
        assert_eq!((next, returned), (12, 5));
        let (next, done) = blocks.push("two.jsonl", second.clone().into_bytes(), 1).unwrap();
        assert_eq!((next, done.map(|block| block.len())), (7, Some(bad.len())));
        for streamed in [streamed, blocks.finish().unwrap()] {
            assert!(streamed.decoded.frame.equals_missing(&expected));
            assert_eq!(streamed.records_accepted, 11);
            assert_eq!(streamed.decoded.refused, all.refused);
            assert_eq!(streamed.decoded.invalid_values, all.invalid_values);
        }
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
        let refused: Vec<(usize, RejectKind)> = decoded.refused.iter().map(|r| (r.at, r.kind)).collect();
        assert_eq!(
            refused,
            [
                (1, RejectKind::NotJson),
                (2, RejectKind::NotJson),
                (3, RejectKind::MissingKey),
                (4, RejectKind::NotJson),
                (5, RejectKind::NotObject),
            ]
        );
        assert_eq!(decoded.refused[0].payload, Payload::Text("not json".into()));
        assert_eq!(decode_records::<&str>(Table::Pin, &[]).unwrap().frame.height(), 0);
        // Positions count across the parallel chunks.
        let mut many = vec![r#"{"ind": 1}"#; LINES_PER_CHUNK + 2];
        many[LINES_PER_CHUNK + 1] = "{";
        let decoded = decode_records(Table::Geo, &many).unwrap();
        assert_eq!(decoded.frame.height(), LINES_PER_CHUNK + 1);
        let refused: Vec<usize> = decoded.refused.iter().map(|r| r.at).collect();
        assert_eq!(refused, [LINES_PER_CHUNK + 1]);
    }

    #[test]
    fn record_hashes_do_not_change_between_versions() {
        // `_raw_hash` is stored in the cleaned tables and compared with later runs' records (SPEC §3): a
        // change to how records are hashed would add every record cleaned before it again. Each JSON type
        // of a value is covered (text, integer, float, null, boolean and nested become NULL but still hash).
        let records = [
            r#"{"ind": 7, "timestamp": "2020-08-28 03:52:47", "latitude": -1.5, "longitude": 2, "country": "Aruba"}"#,
            r#"{"ind": 8, "timestamp": null, "latitude": true, "longitude": [1], "country": "Chad \u00e9"}"#,
        ];
        let decoded = decode_records(Table::Geo, &records).unwrap();
        let hashes = decoded.frame.column(RAW_HASH_COLUMN).unwrap().binary().unwrap();
        let hex: Vec<String> =
            hashes.iter().map(|hash| hash.unwrap().iter().map(|byte| format!("{byte:02x}")).collect()).collect();
        assert_eq!(hex, ["795f13f49652b05ba2be004525eef8c6", "f396f73919c91da3bf5d019d61926f40"]);
    }
}
