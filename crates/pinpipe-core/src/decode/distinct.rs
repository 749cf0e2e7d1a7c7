//! Dropping duplicate lines before decoding: byte-identical lines are told apart by a hash of their
//! bytes and decoded once; records equal but not byte-identical are dropped by their record hash.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use hashbrown::hash_table::{Entry, HashTable};
use pinpipe_contract::table::{Table, RAW_HASH_COLUMN};
use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use super::columns::{ColumnBuilders, InvalidCounts};
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
        lines.push(&source.name, &source.bytes, 1)?;
    }
    lines.finish()
}

/// Decodes JSON lines fed in pieces, keeping only the distinct ones: the streaming form of
/// [`decode_distinct`], for inputs read block by block.
///
/// Lines are first told apart by a 128-bit hash of their bytes: a line byte-identical to an earlier
/// one decodes to the same record (or the same refusal), so it is counted but neither decoded again
/// nor copied into a column. Each piece's new lines are decoded (in parallel) when it is fed, so the
/// raw text is not kept: memory holds the decoded columns, a few bytes per distinct line, and the
/// bytes of refused lines. [`DistinctLines::finish`] drops records that are equal without being
/// byte-identical (fields reordered, spacing) by their record hash. [`DistinctBlocks`] feeds it
/// blocks it owns, indexing each while the one before is decoded.
pub struct DistinctLines {
    table: Table,
    index: LineIndex,
    found: Found,
    part_map: Option<PartMap>,
}

/// What becomes of each part of a table's distinct records as soon as it is decoded, in the decoding's
/// own tasks (in parallel, while the part's text is still in the cache): the part's raw frame is
/// replaced by the frame it gives, which must keep one row per record (in any order: of equal records,
/// the first in that order is kept) and [`RAW_HASH_COLUMN`], whole or as its low 64 bits
/// ([`hash_bits`]). [`DistinctLines::finish`] then stacks those frames and drops equal records by their
/// hash, as it does raw ones (by those 64 bits when a map kept only them: two distinct records of a
/// million share them at odds of about 1 in 30 million, and the map's caller must tell such a drop from
/// a duplicate's), but leaves the columns in their parts (the map's caller knows which it sorts or
/// groups).
pub type PartMap = Arc<dyn Fn(DataFrame) -> PolarsResult<DataFrame> + Send + Sync>;

/// Which lines were seen: each distinct line's id (ids given in input order), found by the hash of
/// the line's bytes. A slot of the table holds an id and 32 bits of its line's hash (8 bytes; a map from
/// hash to id took 32, and the kernel faulted in every page of it as it grew: on a million distinct
/// lines per table, a sixth of the batch's memory); the whole hashes lie beside it, read only to confirm
/// a match.
#[derive(Default)]
struct LineIndex {
    /// Each distinct line's hash, by id.
    hashes: Vec<u128>,
    /// The ids, placed by the low 32 bits of their line's hash.
    ids: HashTable<Slot>,
    /// The bytes the whole input is expected to hold, when known ([`DistinctBlocks::expecting_bytes`]).
    expected_bytes: u64,
}

/// A distinct line in [`LineIndex`]: its id and the low 32 bits of its hash, from which the table
/// places it (so growing the table reads no hash beside it).
#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    hash: u32,
}

impl Slot {
    /// Where the table places the line: its 32 bits twice, the top ones being the table's tag.
    fn place(self) -> u64 {
        u64::from(self.hash) << 32 | u64::from(self.hash)
    }
}

/// The lines of one piece, indexed but not decoded yet.
struct Indexed {
    /// The lines seen for the first time (byte ranges in the piece), in id order.
    new_lines: Vec<Range<usize>>,
    /// Each non-blank line's id and line number, in input order.
    occurrences: Vec<(u32, u64)>,
}

/// What decoding the distinct lines gave, and what their occurrences add up to.
struct Found {
    /// Per distinct line (by id): what decoding it gave.
    outcomes: Vec<Outcome>,
    /// The refused distinct lines: why, and their bytes.
    refusals: Vec<(Refusal, Box<[u8]>)>,
    /// The decoded distinct records, a frame per decoding task.
    parts: Vec<DataFrame>,
    /// Every refused line, duplicates included, in input order.
    refused: Vec<Refused<Line>>,
    /// Invalid values, duplicates included.
    invalid: InvalidCounts,
    records_accepted: u64,
}

/// What decoding a distinct line gave.
#[derive(Clone, Copy)]
enum Outcome {
    /// A record; the bits of the fields whose values were invalid.
    Accepted(u64),
    /// Refused: the index of its refusal.
    Refused(usize),
}

impl DistinctLines {
    /// Nothing fed yet.
    pub fn new(table: Table) -> Self {
        let found = Found {
            outcomes: Vec::new(),
            refusals: Vec::new(),
            parts: Vec::new(),
            refused: Vec::new(),
            invalid: InvalidCounts::new(table),
            records_accepted: 0,
        };
        DistinctLines { table, index: LineIndex::default(), found, part_map: None }
    }

    /// Nothing fed yet; each part decoded will be replaced by what `map` gives for it.
    pub fn with_part_map(table: Table, map: PartMap) -> Self {
        DistinctLines { part_map: Some(map), ..Self::new(table) }
    }

    /// Feeds whole lines of the source `name` (a piece may end without a line break only at the
    /// source's end), the first of them being line `first_line` (1-based), and decodes the lines not
    /// seen before; returns the number of the line after the last one fed. Blank lines count in the
    /// numbering but are not records.
    pub fn push(&mut self, name: &str, bytes: &[u8], first_line: u64) -> PolarsResult<u64> {
        let (indexed, next_line) = self.index.index(bytes, first_line);
        self.found.decode(self.table, name, bytes, indexed, self.part_map.as_ref())?;
        Ok(next_line)
    }

    /// The distinct records decoded, equal records that are not byte-identical dropped.
    pub fn finish(self) -> PolarsResult<DistinctDecoded> {
        let DistinctLines {
            table,
            found: Found { mut parts, refused, invalid, records_accepted, outcomes, refusals },
            part_map,
            index,
        } = self;
        // What only the feeding needed is freed before the parts are stacked.
        drop((index, outcomes, refusals));
        if let (Some(map), true) = (&part_map, parts.is_empty()) {
            // No records: the frame has the columns the map gives.
            parts.push(map(ColumnBuilders::new(table, 0).finish()?)?);
        }
        let parts =
            parts.into_iter().map(|frame| Ok(Decoded { frame, refused: Vec::new(), invalid_values: BTreeMap::new() }));
        let mut decoded = merge(table, parts.collect())?;
        // One chunk per column, the parts' views freed now: Polars' sort and group-by would each make
        // a single-chunk copy of the columns later, while the table is cleaned, written and queried.
        // Mapped parts stay apart: the map's caller knows which of its columns are sorted or grouped.
        if part_map.is_none() {
            decoded.frame.rechunk_mut_par();
        }
        decoded.refused = refused;
        decoded.invalid_values = invalid.by_name(table);
        // Equal records that are not byte-identical: keep the first. Those are rare (fields reordered,
        // other spacing), and dropping them copies every column: only when there are some.
        if has_repeats(decoded.frame.column(RAW_HASH_COLUMN)?)? {
            decoded.frame =
                decoded.frame.unique_stable(Some(&[RAW_HASH_COLUMN.to_string()]), UniqueKeepStrategy::First, None)?;
        }
        Ok(DistinctDecoded { decoded, records_accepted })
    }
}

/// [`DistinctLines`] fed blocks it keeps until their lines are decoded: a block's lines are hashed and
/// looked up while the block before it is decoded, so the lookups (one at a time, in input order)
/// leave no core idle. Answers exactly as [`DistinctLines::push`] fed the same blocks does.
pub struct DistinctBlocks<B> {
    lines: DistinctLines,
    /// The last block fed, indexed, with its source's name.
    pending: Option<(String, B, Indexed)>,
}

impl<B: AsRef<[u8]>> DistinctBlocks<B> {
    /// Nothing fed yet.
    pub fn new(table: Table) -> Self {
        Self::of(DistinctLines::new(table))
    }

    /// Nothing fed yet; each part decoded will be replaced by what `map` gives for it
    /// ([`DistinctLines::with_part_map`]).
    pub fn with_part_map(table: Table, map: PartMap) -> Self {
        Self::of(DistinctLines::with_part_map(table, map))
    }

    fn of(lines: DistinctLines) -> Self {
        DistinctBlocks { lines, pending: None }
    }

    /// Says how many bytes will be fed in all (a file's size), so that the line index can be sized
    /// once from the first block rather than grown by doubling ([`LineIndex::index`]).
    pub fn expecting_bytes(mut self, bytes: u64) -> Self {
        self.lines.index.expected_bytes = bytes;
        self
    }

    /// Feeds a block of whole lines as [`DistinctLines::push`] does; gives the number of the line
    /// after its last one and the block fed before it, whose lines are now decoded (to reuse).
    pub fn push(&mut self, name: &str, block: B, first_line: u64) -> PolarsResult<(u64, Option<B>)> {
        let DistinctLines { table, index, found, part_map } = &mut self.lines;
        let bytes = block.as_ref();
        let (indexed, next_line, done) = match self.pending.take() {
            None => {
                let (indexed, next_line) = index.index(bytes, first_line);
                (indexed, next_line, None)
            }
            Some((pending_name, pending, pending_indexed)) => {
                let pending_bytes = pending.as_ref();
                let ((indexed, next_line), decoded) = THREAD_POOL.install(|| {
                    rayon::join(
                        || index.index(bytes, first_line),
                        || found.decode(*table, &pending_name, pending_bytes, pending_indexed, part_map.as_ref()),
                    )
                });
                decoded?;
                (indexed, next_line, Some(pending))
            }
        };
        self.pending = Some((name.to_string(), block, indexed));
        Ok((next_line, done))
    }

    /// What [`DistinctLines::finish`] gives, once the last block is decoded.
    pub fn finish(mut self) -> PolarsResult<DistinctDecoded> {
        if let Some((name, block, indexed)) = self.pending.take() {
            let lines = &mut self.lines;
            lines.found.decode(lines.table, &name, block.as_ref(), indexed, lines.part_map.as_ref())?;
        }
        self.lines.finish()
    }
}

impl LineIndex {
    /// Hashes the lines of `bytes` (whole lines, the first being line `first_line`) and gives each
    /// non-blank one its id, new ids to lines not seen before; gives the number of the line after the last.
    fn index(&mut self, bytes: &[u8], first_line: u64) -> (Indexed, u64) {
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
        let first_block = self.hashes.is_empty();
        let mut indexed = Indexed { new_lines: Vec::new(), occurrences: Vec::new() };
        let mut number = first_line;
        for (lines, count) in hashed {
            for line in lines {
                let (id, new) = self.id(line.hash);
                if new {
                    indexed.new_lines.push(line.start..line.end);
                }
                indexed.occurrences.push((id, number + line.number));
            }
            number += count;
        }
        if first_block {
            self.reserve_after_first_block(bytes.len(), &indexed);
        }
        (indexed, number)
    }

    /// Sizes the index for the whole input once its first block (`block_bytes`, `indexed`) is in, when
    /// that block's lines were nearly all distinct: the rest is then taken to hold as many distinct
    /// lines per byte (and an eighth more, so a close estimate does not end in one more doubling).
    /// Grown by doubling instead, a million distinct lines cost rehashing and copying about a million
    /// more (some 1 % of the batch's CPU). A first block with repeats says little about how many
    /// distinct lines follow, so such an input grows as it goes.
    fn reserve_after_first_block(&mut self, block_bytes: usize, indexed: &Indexed) {
        let (new, lines) = (indexed.new_lines.len() as u64, indexed.occurrences.len() as u64);
        let rest = self.expected_bytes.saturating_sub(block_bytes as u64);
        if block_bytes == 0 || rest == 0 || new * 10 < lines * 9 {
            return;
        }
        let additional = usize::try_from(new.saturating_mul(rest) / block_bytes as u64 * 9 / 8).unwrap_or(usize::MAX);
        self.hashes.reserve(additional);
        self.ids.reserve(additional, |slot| slot.place());
    }

    /// The id of the line whose bytes hash to `hash`, and whether it is new (given the next id).
    fn id(&mut self, hash: u128) -> (u32, bool) {
        let hashes = &self.hashes;
        let probe = Slot { id: u32::MAX, hash: hash as u32 };
        let same = |slot: &Slot| slot.hash == probe.hash && hashes[slot.id as usize] == hash;
        match self.ids.entry(probe.place(), same, |slot| slot.place()) {
            Entry::Occupied(entry) => (entry.get().id, false),
            Entry::Vacant(entry) => {
                let id = self.hashes.len() as u32;
                entry.insert(Slot { id, hash: probe.hash });
                self.hashes.push(hash);
                (id, true)
            }
        }
    }
}

impl Found {
    /// Decodes the new lines of `indexed` (a piece of the source `name`, `bytes`; in parallel; each
    /// part's frame then replaced by what `part_map` gives for it), then counts each of its lines by what
    /// its distinct line gave.
    ///
    /// The parts are decoded on Polars' thread pool, so a part map's Polars work runs on the thread that
    /// decoded the part. From another pool, the map's thread would wait for Polars' own threads and
    /// take another part meanwhile: more parts in memory at once, and twice the threads for two cores.
    fn decode(
        &mut self,
        table: Table,
        name: &str,
        bytes: &[u8],
        indexed: Indexed,
        part_map: Option<&PartMap>,
    ) -> PolarsResult<()> {
        let Indexed { new_lines, occurrences } = indexed;
        let decoded = THREAD_POOL.install(|| {
            // Tasks sized by the pool that runs them (the caller may be on another, or on none).
            let tasks = 2 * rayon::current_num_threads();
            let lines_per_task = new_lines.len().div_ceil(tasks).clamp(MIN_LINES_PER_TASK, LINES_PER_CHUNK);
            new_lines
                .par_chunks(lines_per_task)
                .map(|group| {
                    let mut builders = ColumnBuilders::new(table, group.len());
                    let outcomes: Vec<Result<u64, Refusal>> =
                        group.iter().map(|line| builders.push_line(&bytes[line.clone()])).collect();
                    let frame = builders.finish()?;
                    let frame = match part_map {
                        Some(map) => map(frame)?,
                        None => frame,
                    };
                    Ok((frame, outcomes))
                })
                .collect::<PolarsResult<Vec<_>>>()
        })?;
        let mut lines = new_lines.iter();
        for (frame, outcomes) in decoded {
            self.parts.push(frame);
            for (outcome, line) in outcomes.into_iter().zip(&mut lines) {
                self.outcomes.push(match outcome {
                    Ok(invalid) => Outcome::Accepted(invalid),
                    Err(refusal) => {
                        self.refusals.push((refusal, Box::from(&bytes[line.clone()])));
                        Outcome::Refused(self.refusals.len() - 1)
                    }
                });
            }
        }
        for (id, number) in occurrences {
            match self.outcomes[id as usize] {
                Outcome::Accepted(invalid) => {
                    self.records_accepted += 1;
                    self.invalid.add(invalid);
                }
                Outcome::Refused(index) => {
                    let (refusal, bytes) = &self.refusals[index];
                    let at = Line { source: name.to_string(), number };
                    self.refused.push(Refused::new(at, refusal.clone(), bytes));
                }
            }
        }
        Ok(())
    }
}

/// The low 64 bits of each record hash of `hashes` (a [`RAW_HASH_COLUMN`]), as a column of that name:
/// what a [`PartMap`] may keep instead of the whole hashes (8 bytes a record, not 32 with their views).
pub fn hash_bits(hashes: &Column) -> PolarsResult<Column> {
    let bits: UInt64Chunked = hashes.binary()?.iter().map(low_bits).collect_ca(RAW_HASH_COLUMN.into());
    Ok(bits.into_column())
}

/// The low 64 bits of a record hash. Every hash is 16 bytes; were one not, it would count as 0, and at
/// worst call for the dropping of [`has_repeats`].
fn low_bits(hash: Option<&[u8]>) -> u64 {
    hash.and_then(|hash| hash.get(..8)).and_then(|bits| <[u8; 8]>::try_from(bits).ok()).map_or(0, u64::from_le_bytes)
}

/// Whether two of the record hashes `hashes` (whole, or their [`hash_bits`]) may be equal: true when
/// two share their low 64 bits (a false alarm only costs the exact dropping of duplicates). The hashes
/// are uniformly distributed already, so their bits are their own hash; 8 bytes a record, not the 16
/// of the whole hash. They are first grouped by 8 of their bits ([`REPEAT_GROUP_SHIFT`]), and the
/// groups are checked in parallel, each with a table of its own that fits in the cache: one table of a
/// million, filled one record at a time, took about 25 ms per table on one thread while the others
/// waited (Polars' `n_unique`, before that, hashed the bits again into a table it grew as it went).
fn has_repeats(hashes: &Column) -> PolarsResult<bool> {
    let bits: Vec<u64> = match hashes.dtype() {
        DataType::UInt64 => hashes.u64()?.iter().map(|bits| bits.unwrap_or(0)).collect(),
        _ => hashes.binary()?.iter().map(low_bits).collect(),
    };
    let groups = (bits.len() / RECORDS_PER_REPEAT_GROUP).next_power_of_two().min(256);
    let group = |bits: u64| (bits >> REPEAT_GROUP_SHIFT) as usize & (groups - 1);
    // Each group's start in `grouped` (a counting sort by group).
    let mut starts = vec![0; groups + 1];
    for &bits in &bits {
        starts[group(bits) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut grouped = vec![0; bits.len()];
    let mut next = starts.clone();
    for &bits in &bits {
        let slot = &mut next[group(bits)];
        grouped[*slot] = bits;
        *slot += 1;
    }
    Ok(THREAD_POOL.install(|| starts.par_windows(2).any(|range| repeats_in(&grouped[range[0]..range[1]]))))
}

/// Whether two of `bits` are equal.
fn repeats_in(bits: &[u64]) -> bool {
    let mut seen = HashTable::with_capacity(bits.len());
    bits.iter().any(|&bits| match seen.entry(bits, |&seen| seen == bits, |&seen| seen) {
        Entry::Occupied(_) => true,
        Entry::Vacant(entry) => {
            entry.insert(bits);
            false
        }
    })
}

/// Records per group of [`has_repeats`], about (a group's table is then some 300 KB).
const RECORDS_PER_REPEAT_GROUP: usize = 16_384;

/// Where the bits that pick a record's group in [`has_repeats`] start: above those from which a table
/// of up to 2^48 places a hash (its low bits) and below those it keeps as a tag (its top 7).
const REPEAT_GROUP_SHIFT: u32 = 48;

/// The fewest new lines a decoding task of [`DistinctLines::push`] takes (fewer tasks for a piece with few new lines).
const MIN_LINES_PER_TASK: usize = 1_024;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// `lines` JSON lines, line `i` being distinct when `distinct(i)`, else a repeat of one line.
    fn lines(range: Range<usize>, distinct: impl Fn(usize) -> bool) -> Vec<u8> {
        range
            .map(|i| if distinct(i) { format!("{{\"index\": {i}}}\n") } else { "{}\n".to_string() })
            .collect::<String>()
            .into()
    }

    #[test]
    fn an_input_of_distinct_lines_is_indexed_without_growing_the_index_after_its_first_block() {
        let (first, rest) = (lines(0..1_000, |_| true), lines(1_000..40_000, |_| true));
        let mut index = LineIndex { expected_bytes: (first.len() + rest.len()) as u64, ..LineIndex::default() };
        index.index(&first, 1);
        let capacity = (index.ids.capacity(), index.hashes.capacity());
        assert!(capacity.0 >= 40_000 && capacity.1 >= 40_000, "sized for the whole input: {capacity:?}");
        let (indexed, next_line) = index.index(&rest, 1_001);
        assert_eq!((indexed.new_lines.len(), next_line), (39_000, 40_001));
        assert_eq!((index.ids.capacity(), index.hashes.capacity()), capacity, "no growth after the first block");
    }

    #[test]
    fn an_input_whose_first_block_repeats_lines_grows_as_it_goes() {
        let first = lines(0..1_000, |i| i % 2 == 0);
        let mut index = LineIndex { expected_bytes: 40 * first.len() as u64, ..LineIndex::default() };
        let (indexed, _) = index.index(&first, 1);
        assert_eq!(indexed.new_lines.len(), 501);
        assert!(index.ids.capacity() < 2_000 && index.hashes.capacity() < 2_000, "not sized for 40 blocks");
    }

    #[test]
    fn repeats_are_found_among_records_of_several_groups() {
        // Uniformly spread bits, as record hashes are: splitmix64's outputs.
        let spread = |i: u64| {
            let z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut bits: Vec<u64> = (0..100_000).map(spread).collect();
        assert!(bits.len() > 4 * RECORDS_PER_REPEAT_GROUP, "several groups");
        let column = |bits: &[u64]| UInt64Chunked::from_slice(RAW_HASH_COLUMN.into(), bits).into_column();
        assert!(!has_repeats(&column(&bits)).unwrap());
        for (earlier, later) in [(3, 99_999), (50_000, 50_001), (0, 1)] {
            let kept = bits[later];
            bits[later] = bits[earlier];
            assert!(has_repeats(&column(&bits)).unwrap(), "record {later} repeats record {earlier}");
            bits[later] = kept;
        }
    }

    #[test]
    fn repeats_are_found_in_whole_hashes_and_in_their_low_bits_alike() {
        let hash = |low: u64, high: u64| [low.to_le_bytes(), high.to_le_bytes()].concat();
        let whole = |hashes: &[Vec<u8>]| {
            BinaryChunked::from_iter_values(RAW_HASH_COLUMN.into(), hashes.iter().map(Vec::as_slice)).into_column()
        };
        let distinct = whole(&[hash(1, 7), hash(2, 7), hash(3, 9)]);
        // Equal low bits, different high ones: a repeat for both forms (a false alarm, which only costs
        // the exact dropping).
        let shared_low_bits = whole(&[hash(1, 7), hash(2, 7), hash(1, 8)]);
        for (hashes, repeats) in [(distinct, false), (shared_low_bits, true)] {
            let bits = hash_bits(&hashes).unwrap();
            assert_eq!(bits.dtype(), &DataType::UInt64);
            assert_eq!(bits.u64().unwrap().get(2), Some(if repeats { 1 } else { 3 }));
            assert_eq!(has_repeats(&hashes).unwrap(), repeats);
            assert_eq!(has_repeats(&bits).unwrap(), repeats);
        }
    }
}
