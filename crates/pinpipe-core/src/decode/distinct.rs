//! Dropping duplicate lines before decoding: byte-identical lines are told apart by a hash of their
//! bytes and decoded once; records equal but not byte-identical are dropped by their record hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pinpipe_contract::table::{Table, RAW_HASH_COLUMN};
use polars::prelude::*;
use rayon::prelude::*;

use super::columns::ColumnBuilders;
use super::record::Refusal;
use super::{merge, Decoded, Line, RawSource, Refused, LINES_PER_CHUNK};

/// What [`decode_distinct`] and [`DistinctLines`] return.
#[derive(Debug)]
pub struct DistinctDecoded {
    /// `frame` holds the first of each set of exact duplicate records, in input order (the rows
    /// `decode(..).frame` keeps after dropping duplicates by [`RAW_HASH_COLUMN`], first kept);
    /// `refused` every refused line and `invalid_values` every invalid value, duplicates included,
    /// exactly as [`super::decode`] reports them.
    pub decoded: Decoded<Line>,
    /// Records accepted, duplicates included (the height of `decode(..).frame`).
    pub records_accepted: u64,
}

/// Decodes every line of `sources` as [`super::decode`] does, dropping exact duplicate records as it goes
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
    /// Per distinct line: where it ends in `text` and how many copies there are.
    firsts: Vec<FirstLine>,
    /// Every non-blank line, in input order: its distinct id and where it is (for refusals).
    occurrences: Vec<Occurrence>,
    /// The names of the sources fed so far.
    sources: Vec<String>,
}

struct FirstLine {
    end: usize,
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
                    self.firsts.push(FirstLine { end: self.text.len(), copies: 0 });
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
        let outcomes: Vec<PolarsResult<DecodedBlock>> = firsts
            .par_chunks(LINES_PER_CHUNK)
            .enumerate()
            .map(|(block, group)| {
                let mut builders = ColumnBuilders::new(table, group.len());
                let mut refused = Vec::with_capacity(group.len());
                for (i, first) in group.iter().enumerate() {
                    let bytes = &text[starts[block * LINES_PER_CHUNK + i]..first.end];
                    refused.push(builders.push_line(bytes, first.copies).err());
                }
                Ok((builders.into_decoded(Vec::new())?, refused))
            })
            .collect();
        let mut parts = Vec::with_capacity(outcomes.len());
        let mut refusals: Vec<Option<Refusal>> = Vec::with_capacity(firsts.len());
        for outcome in outcomes {
            let (part, refused) = outcome?;
            parts.push(Ok(part));
            refusals.extend(refused);
        }
        // Every copy of a refused line is refused, at its own place, in input order.
        let mut refused = Vec::new();
        let mut records_accepted = 0u64;
        for occurrence in &occurrences {
            match &refusals[occurrence.id as usize] {
                None => records_accepted += 1,
                Some(refusal) => {
                    let id = occurrence.id as usize;
                    let bytes = &text[starts[id]..firsts[id].end];
                    let at = Line { source: sources[occurrence.source as usize].clone(), number: occurrence.number };
                    refused.push(Refused::new(at, refusal.clone(), bytes));
                }
            }
        }
        let mut decoded = merge(table, parts)?;
        decoded.refused = refused;
        // Equal records that are not byte-identical: keep the first.
        if decoded.frame.height() > 1 {
            decoded.frame =
                decoded.frame.unique_stable(Some(&[RAW_HASH_COLUMN.to_string()]), UniqueKeepStrategy::First, None)?;
        }
        Ok(DistinctDecoded { decoded, records_accepted })
    }
}

/// The distinct lines of one block decoded, and each one's refusal, if refused.
type DecodedBlock = (Decoded<Line>, Vec<Option<Refusal>>);

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
/// not part of a line, as in [`super::decode`]) and how many lines, blank ones included, it holds.
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
