//! What leaves the pipeline as files: the canonical CSV export of docs/SPEC.md §5 (the byte-exact form a
//! person or another tool compares) and the Parquet bytes of the lake's tables.
//!
//! UTF-8, a header row, `\n` line ends, fields quoted only when needed (RFC 4180), NULL as an empty
//! field, timestamps `YYYY-MM-DD HH:MM:SS`, lists `[a, b]`, floats in shortest round-trip decimal form
//! with no exponent and at least one fractional digit. Rows are in [`canonical_order`] (the
//! [`crate::order`] module).

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use pinpipe_contract::Table;

use pinpipe_contract::table::KEY_COLUMN;
use polars::prelude::*;
use polars_arrow::array::{Array, BinaryViewArray, ListArray, PrimitiveArray, Utf8ViewArray, View};
use polars_arrow::datatypes::ArrowDataType;
use rayon::prelude::*;

use crate::order::canonical_indices;
use crate::queries::{Query, QUERIES};

/// Why the canonical CSVs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file could not be created or written.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Ordering or formatting a frame failed.
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// Rows formatted per parallel task.
const ROWS_PER_TASK: usize = 32_768;

/// Writes `frame` (already in canonical order) as canonical CSV.
pub fn write_csv(frame: &DataFrame, out: &mut (impl Write + Send)) -> PolarsResult<()> {
    write_rows(frame, None, out)
}

/// Writes the rows of `frame` as canonical CSV, in the order of the row indices `order` (all of them,
/// each once) or as they are. Blocks of rows are gathered from `frame` and formatted in parallel, a few
/// at a time ([`write_in_waves`]): no copy of the whole table in that order is made.
fn write_rows(frame: &DataFrame, order: Option<&IdxCa>, out: &mut (impl Write + Send)) -> PolarsResult<()> {
    let mut frame = frame.clone();
    frame.rechunk_mut_par(); // one chunk per column: O(1) row access
    write_header(frame.get_column_names().iter().map(|name| name.as_str()), out)?;
    let height = frame.height();
    let block = |task: usize| {
        let first_row = task * ROWS_PER_TASK;
        let rows_in_task = ROWS_PER_TASK.min(height - first_row);
        let part: Vec<Column> = match order {
            Some(order) => {
                let order = order.slice(first_row as i64, rows_in_task);
                frame.columns().iter().map(|column| column.take(&order)).collect::<PolarsResult<_>>()?
            }
            None => frame.columns().iter().map(|column| column.slice(first_row as i64, rows_in_task)).collect(),
        };
        let cells: Vec<Cells<'_>> = part.iter().map(Cells::of).collect::<PolarsResult<_>>()?;
        let rows = 0..rows_in_task;
        let mut block = Vec::with_capacity(cells.iter().map(|cell| cell.block_bytes(rows.clone())).sum());
        write_gathered_lines(&cells, rows, &mut block);
        Ok(block)
    };
    // A few blocks per thread at a time: the whole file is never in memory beside its frame.
    let wave = 2 * rayon::current_num_threads();
    write_in_waves(out, height.div_ceil(ROWS_PER_TASK), wave, block, PolarsError::from)
}

/// Writes `blocks` blocks of text to `out` in order, `block(i)` making the `i`-th. They are made on
/// rayon's pool `wave` at a time, and each wave is written while the next one is made.
fn write_in_waves<E: Send>(
    out: &mut (impl Write + Send),
    blocks: usize,
    wave: usize,
    block: impl Fn(usize) -> Result<Vec<u8>, E> + Sync,
    io_error: impl Fn(std::io::Error) -> E,
) -> Result<(), E> {
    let mut made: Vec<Vec<u8>> = Vec::new();
    for first in (0..blocks).step_by(wave) {
        let (written, next) = rayon::join(
            || made.iter().try_for_each(|text| out.write_all(text)),
            || (first..(first + wave).min(blocks)).into_par_iter().map(&block).collect::<Result<Vec<_>, E>>(),
        );
        written.map_err(&io_error)?;
        made = next?;
    }
    made.iter().try_for_each(|text| out.write_all(text)).map_err(io_error)
}

/// Writes the header line: the column names.
fn write_header<'a>(names: impl Iterator<Item = &'a str>, out: &mut impl Write) -> std::io::Result<()> {
    let mut line = Vec::new();
    for (i, name) in names.enumerate() {
        if i > 0 {
            line.push(b',');
        }
        write_text(&mut line, name);
    }
    line.push(b'\n');
    out.write_all(&line)
}

/// Appends rows `rows` of `cells` as CSV lines to `block`, giving `line_end` the block's length after each.
fn write_lines(cells: &[Cells<'_>], rows: Range<usize>, block: &mut Vec<u8>, mut line_end: impl FnMut(usize)) {
    for row in rows {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                block.push(b',');
            }
            cell.write(row, block);
        }
        block.push(b'\n');
        line_end(block.len());
    }
}

/// [`write_lines`] for rows gathered in another order than their text was written in: each group of
/// rows has its text fetched ([`fetch_text`]) before it is formatted.
fn write_gathered_lines(cells: &[Cells<'_>], rows: Range<usize>, block: &mut Vec<u8>) {
    for first in rows.clone().step_by(ROWS_PER_FETCH) {
        let group = first..(first + ROWS_PER_FETCH).min(rows.end);
        fetch_text(cells, group.clone());
        write_lines(cells, group, block, |_| {});
    }
}

/// The column of [`csv_lines`] in a frame of a table's rows ([`CsvLines`]).
pub const CSV_LINE_COLUMN: &str = "__csv_line";

/// Each row of `frame` as its line of canonical CSV (with its `\n`), as [`CSV_LINE_COLUMN`]: for a
/// caller that keeps a table's rows as the text they are written as ([`CsvLines`]). The
/// lines share one buffer, written in a single pass.
pub fn csv_lines(frame: &DataFrame) -> PolarsResult<Column> {
    let mut frame = frame.clone();
    frame.rechunk_mut_par();
    let cells: Vec<Cells<'_>> = frame.columns().iter().map(Cells::of).collect::<PolarsResult<_>>()?;
    let rows = 0..frame.height();
    let mut text = Vec::with_capacity(cells.iter().map(|cell| cell.block_bytes(rows.clone())).sum());
    let mut ends = Vec::with_capacity(rows.len());
    write_lines(&cells, rows, &mut text, |end| ends.push(end));
    polars_ensure!(
        u32::try_from(text.len()).is_ok(),
        ComputeError: "{} rows of CSV take {} bytes, more than one buffer holds", ends.len(), text.len()
    );
    let mut start = 0;
    let views: Vec<View> = ends
        .into_iter()
        .map(|end| {
            let view = View::new_from_bytes(&text[start..end], 0, start as u32);
            start = end;
            view
        })
        .collect();
    let buffers = std::iter::once(text.into()).collect();
    let lines = BinaryViewArray::try_new(ArrowDataType::BinaryView, views.into(), buffers, None)?;
    Ok(BinaryChunked::with_chunk(CSV_LINE_COLUMN.into(), lines).into_column())
}

/// Rows whose text is fetched together ([`fetch_text`]) before they are formatted.
const ROWS_PER_FETCH: usize = 128;

/// Reads the first byte of each text value of `rows`. Rows are written in canonical order, but their
/// text lies in the order it was decoded in, so each value is a read from a random place in memory;
/// made one at a time by the formatting, those reads cost more than the formatting itself (a profile
/// put 94 % of the quoting check's time on its first load). Issued first, loads that do not depend on
/// each other are in flight together, and the formatting then finds the values in the cache.
fn fetch_text(cells: &[Cells<'_>], rows: Range<usize>) {
    let mut first_bytes = 0u8;
    for cell in cells {
        if let Cells::Text(values) = cell {
            for row in rows.clone() {
                if let Some(&byte) = values.get(row).and_then(|text| text.as_bytes().first()) {
                    first_bytes ^= byte;
                }
            }
        }
    }
    std::hint::black_box(first_bytes);
}

/// One column, ready for row-by-row formatting: its one chunk (the frame is rechunked first).
enum Cells<'a> {
    Text(&'a Utf8ViewArray),
    Int32(&'a PrimitiveArray<i32>),
    Int64(&'a PrimitiveArray<i64>),
    UInt32(&'a PrimitiveArray<u32>),
    Float64(&'a PrimitiveArray<f64>),
    Datetime(&'a PrimitiveArray<i64>, TimeUnit),
    /// The lists and the values they hold.
    FloatList(&'a ListArray<i64>, &'a PrimitiveArray<f64>),
}

impl<'a> Cells<'a> {
    fn of(column: &'a Column) -> PolarsResult<Self> {
        Ok(match column.dtype() {
            DataType::String => Cells::Text(column.str()?.downcast_as_array()),
            DataType::Int32 => Cells::Int32(column.i32()?.downcast_as_array()),
            DataType::Int64 => Cells::Int64(column.i64()?.downcast_as_array()),
            DataType::UInt32 => Cells::UInt32(column.u32()?.downcast_as_array()),
            DataType::Float64 => Cells::Float64(column.f64()?.downcast_as_array()),
            DataType::Datetime(unit, _) => Cells::Datetime(column.datetime()?.physical().downcast_as_array(), *unit),
            DataType::List(inner) if **inner == DataType::Float64 => {
                let lists = column.list()?.downcast_as_array();
                let values = lists.values().as_any().downcast_ref().expect("a list of f64");
                Cells::FloatList(lists, values)
            }
            other => polars_bail!(ComputeError: "no canonical CSV form for column {} of type {other}", column.name()),
        })
    }

    /// The bytes the cells of `rows` take with their separators, about (a block's capacity comes from it,
    /// so that a block is not grown and copied as it fills): text exactly, with quotes, unless it holds
    /// quotes to double. From the mean width of the column's text, a block of rows with longer text
    /// than the mean was grown to twice its size.
    fn block_bytes(&self, rows: Range<usize>) -> usize {
        let width = match self {
            Cells::Text(values) => {
                let text: usize = values.views()[rows.clone()].iter().map(|view| view.length as usize).sum();
                return text + 3 * rows.len();
            }
            Cells::Int32(_) | Cells::UInt32(_) => 11,
            Cells::Int64(_) => 20,
            Cells::Float64(_) => 24,
            Cells::Datetime(..) => "YYYY-MM-DD HH:MM:SS".len(),
            Cells::FloatList(lists, values) => 2 + 26 * (values.len() / lists.len().max(1)),
        };
        (width + 1) * rows.len()
    }

    fn write(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            Cells::Text(values) => {
                if let Some(text) = values.get(row) {
                    write_text(out, text);
                }
            }
            Cells::Int32(values) => write_integer(out, values.get(row)),
            Cells::Int64(values) => write_integer(out, values.get(row)),
            Cells::UInt32(values) => write_integer(out, values.get(row)),
            Cells::Float64(values) => {
                if let Some(value) = values.get(row) {
                    write_float(out, value);
                }
            }
            Cells::Datetime(values, unit) => {
                if let Some(value) = values.get(row) {
                    write_datetime(out, value, *unit);
                }
            }
            Cells::FloatList(lists, values) => write_float_list(out, lists, values, row),
        }
    }
}

fn write_integer(out: &mut Vec<u8>, value: Option<impl itoa::Integer>) {
    if let Some(value) = value {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }
}

/// Fields up to this long are checked for characters that need quotes byte by byte, longer ones by `memchr`.
const SHORT_FIELD_BYTES: usize = 32;

/// True when a field holding `bytes` must be quoted: it holds a comma, a quote or a line break.
fn needs_quotes(bytes: &[u8]) -> bool {
    // Most fields are short: one pass over their bytes costs less than setting up two searches.
    if bytes.len() <= SHORT_FIELD_BYTES {
        return bytes.iter().fold(false, |found, &b| found | matches!(b, b',' | b'"' | b'\n' | b'\r'));
    }
    memchr::memchr3(b',', b'"', b'\n', bytes).is_some() || memchr::memchr(b'\r', bytes).is_some()
}

/// Writes text, quoted only when it [`needs_quotes`].
fn write_text(out: &mut Vec<u8>, text: &str) {
    if needs_quotes(text.as_bytes()) {
        out.push(b'"');
        for part in text.split_inclusive('"') {
            out.extend_from_slice(part.as_bytes());
            if part.ends_with('"') {
                out.push(b'"');
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Shortest round-trip decimal, no exponent, at least one fractional digit: `128.0`, `-0.375174`.
pub fn format_float(value: f64) -> String {
    let mut out = Vec::new();
    write_float(&mut out, value);
    String::from_utf8(out).expect("a float's text is ASCII")
}

/// Appends [`format_float`]'s text of `value`.
fn write_float(out: &mut Vec<u8>, value: f64) {
    // zmij writes the shortest round-trip digits several times faster than Display, with `.0` after
    // a whole number. It is used where the two cannot differ: no exponent (Display never writes one)
    // and at most 15 digits, where the shortest round-trip decimal is the only one (at 16 or 17 digits
    // several may round-trip, and the two need not pick the same).
    if value.is_finite() {
        let mut buffer = zmij::Buffer::new();
        let text = buffer.format_finite(value);
        let (digits, exponent) = text.bytes().fold((0, false), |(digits, exponent), byte| {
            (digits + usize::from(byte.is_ascii_digit()), exponent | (byte == b'e'))
        });
        if !exponent && digits <= 15 {
            out.extend_from_slice(text.as_bytes());
            return;
        }
    }
    let start = out.len();
    write!(out, "{value}").expect("writing to memory");
    if value.is_finite() && !out[start..].contains(&b'.') {
        out.extend_from_slice(b".0");
    }
}

/// Appends a list of floats as `[a, b]`, a field like any other: quoted when it holds more than one
/// value, as only the `, ` between values needs quotes (a float's text and `null` hold no quote).
fn write_float_list(out: &mut Vec<u8>, lists: &ListArray<i64>, values: &PrimitiveArray<f64>, row: usize) {
    if lists.is_null(row) {
        return;
    }
    let (start, end) = lists.offsets().start_end(row);
    let quoted = end - start > 1;
    if quoted {
        out.push(b'"');
    }
    out.push(b'[');
    for i in start..end {
        if i > start {
            out.extend_from_slice(b", ");
        }
        match values.get(i) {
            Some(value) => write_float(out, value),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b']');
    if quoted {
        out.push(b'"');
    }
}

/// `YYYY-MM-DD HH:MM:SS`, as chrono's `%Y-%m-%d %H:%M:%S` writes it (years outside 0–9999 by chrono).
fn write_datetime(out: &mut Vec<u8>, value: i64, unit: TimeUnit) {
    use chrono::{Datelike, Timelike};
    let datetime = match unit {
        TimeUnit::Nanoseconds => chrono::DateTime::from_timestamp_nanos(value),
        TimeUnit::Microseconds => chrono::DateTime::from_timestamp_micros(value).expect("in range"),
        TimeUnit::Milliseconds => chrono::DateTime::from_timestamp_millis(value).expect("in range"),
    };
    if !(0..=9999).contains(&datetime.year()) {
        write!(out, "{}", datetime.format("%Y-%m-%d %H:%M:%S")).expect("writing to memory");
        return;
    }
    let mut text = *b"0000-00-00 00:00:00";
    for (field, value) in [
        (0..4, datetime.year().unsigned_abs()),
        (5..7, datetime.month()),
        (8..10, datetime.day()),
        (11..13, datetime.hour()),
        (14..16, datetime.minute()),
        (17..19, datetime.second()),
    ] {
        write_digits(&mut text[field], value);
    }
    out.extend_from_slice(&text);
}

/// Fills `slot` with the last `slot.len()` decimal digits of `value`, leading zeros included.
fn write_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A frame as a Parquet object, compressed with `compression`.
pub fn parquet_bytes(frame: &DataFrame, compression: ParquetCompression) -> PolarsResult<Bytes> {
    let mut buffer = Vec::new();
    ParquetWriter::new(&mut buffer).with_compression(compression).finish(&mut frame.clone())?;
    Ok(buffer.into())
}

/// The canonical CSV file name of a cleaned table.
pub fn cleaned_csv_name(table: Table) -> String {
    format!("cleaned_{table}.csv")
}

/// Writes one cleaned table (its cleaned columns, without the hash column) as its canonical CSV into
/// `dir`: its rows gathered a block at a time by the canonical order's row indices, with no sorted copy
/// of the table. The frame is dropped once written.
pub fn write_cleaned_csv(dir: &Path, table: Table, frame: DataFrame) -> Result<(), ExportError> {
    let order = canonical_indices(&frame)?;
    write_file(&dir.join(cleaned_csv_name(table)), &frame, Some(&order))
}

/// Rows [`CsvLines::write`] gathers while it writes those before them (pin's are some 8 MB).
const ROWS_PER_WRITE_WINDOW: usize = 16_384;

/// Rows one task of [`CsvLines::write`] gathers into one piece of text.
const ROWS_PER_GATHER: usize = 2_048;

/// A cleaned table as the lines of its canonical CSV ([`csv_lines`]) and the order they are written in.
#[derive(Debug)]
pub struct CsvLines {
    table: Table,
    /// The lines, in the chunks they were made in (joined into one array of views when written).
    lines: BinaryChunked,
    /// The canonical order, as row indices.
    order: IdxCa,
}

impl CsvLines {
    /// The lines of `frame`'s rows ([`CSV_LINE_COLUMN`], made from `table`'s cleaned columns) in canonical
    /// order, when no two rows share a key: that order is then the keys' order. `None` when two rows
    /// share a key: their order then depends on values that lines do not keep (a timestamp's fraction,
    /// `""` as against NULL).
    pub fn in_key_order(table: Table, frame: &DataFrame) -> PolarsResult<Option<Self>> {
        let keys = frame.column(KEY_COLUMN)?.as_materialized_series();
        let order = keys.arg_sort(SortOptions::default());
        let sorted = keys.i32()?.take(&order)?;
        let mut sorted = sorted.iter();
        if let Some(mut previous) = sorted.next() {
            for key in sorted {
                if key == previous {
                    return Ok(None);
                }
                previous = key;
            }
        }
        Ok(Some(CsvLines { table, lines: frame.column(CSV_LINE_COLUMN)?.binary()?.clone(), order }))
    }

    /// The canonical order, as row indices (the keys ascending).
    pub fn order(&self) -> &IdxCa {
        &self.order
    }

    /// Writes the lines in order, after the header, as the table's canonical CSV into `dir`. The lines
    /// are gathered in parallel (on rayon's pool), a window of rows at a time, each window written while
    /// the next one is gathered: a line is a read from a random place in memory, and made one at a time
    /// on one thread, pin's reads took that thread for half a second.
    pub fn write(self, dir: &Path) -> Result<(), ExportError> {
        let path = dir.join(cleaned_csv_name(self.table));
        let io_error = |source| ExportError::Io { path: path.clone(), source };
        let mut file = std::fs::File::create(&path).map_err(io_error)?;
        write_header(self.table.cleaned_columns().iter().copied(), &mut file).map_err(io_error)?;
        // One array of the lines' views (16 bytes a line; their text stays where it is), so a line is
        // found by its row alone: a table comes in hundreds of chunks.
        let lines = self.lines.rechunk();
        let lines: &BinaryViewArray = lines.downcast_as_array();
        let order = self.order.rechunk();
        let pieces: Vec<&[IdxSize]> = order.cont_slice()?.chunks(ROWS_PER_GATHER).collect();
        let gather =
            |piece: usize| Ok(pieces[piece].iter().map(|&row| lines.value(row as usize)).collect::<Vec<_>>().concat());
        write_in_waves(&mut file, pieces.len(), ROWS_PER_WRITE_WINDOW / ROWS_PER_GATHER, gather, io_error)
    }
}

/// Writes the 11 query results (in canonical order already) as their canonical CSVs into `dir`.
pub fn write_result_csvs(dir: &Path, results: &[(Query, DataFrame)]) -> Result<(), ExportError> {
    debug_assert_eq!(results.len(), QUERIES.len());
    for (query, frame) in results {
        write_file(&dir.join(query.csv_name), frame, None)?;
    }
    Ok(())
}

/// Writes `frame` as canonical CSV to the file `path`: its rows in the order of `order`, or as they are
/// (already in canonical order) without one ([`write_rows`]).
fn write_file(path: &Path, frame: &DataFrame, order: Option<&IdxCa>) -> Result<(), ExportError> {
    let io_error = |source| ExportError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::create(path).map_err(io_error)?;
    let mut writer = std::io::BufWriter::new(file);
    write_rows(frame, order, &mut writer)?;
    writer.flush().map_err(io_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::canonical_order;

    fn csv(frame: &DataFrame) -> String {
        let mut out = Vec::new();
        write_csv(&canonical_order(frame).unwrap(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_table_written_in_the_order_of_its_indices_is_its_sorted_copy_written() {
        // More rows than one task writes, repeated keys (ties broken by the next column), NULLs, text
        // that needs quotes, a list column sorted element by element.
        let mut rng = fastrand::Rng::with_seed(5);
        let rows = ROWS_PER_TASK * 2 + 17;
        let ids: Vec<Option<i32>> = (0..rows).map(|_| rng.bool().then(|| rng.i32(0..50))).collect();
        let text = ["a", "b,c", "long \"quoted\" text here"];
        let texts: Vec<Option<String>> = (0..rows).map(|_| rng.bool().then(|| text[rng.usize(0..3)].into())).collect();
        let pairs: Vec<Option<Series>> =
            (0..rows).map(|_| rng.bool().then(|| Series::new("".into(), [rng.f64(), -1.5]))).collect();
        let frame = df!("ind" => ids, "title" => texts, "coordinates" => pairs).unwrap();
        let mut in_order = Vec::new();
        write_rows(&frame, Some(&canonical_indices(&frame).unwrap()), &mut in_order).unwrap();
        assert_eq!(String::from_utf8(in_order).unwrap(), csv(&frame));
    }

    #[test]
    fn each_rows_line_is_that_row_as_the_table_is_written() {
        let frame = df!(
            "ind" => [Some(3), None, Some(1)],
            "title" => [Some("plain"), Some("a, \"b\"\nc"), None],
            "follower_count" => [Some(1.5), None, Some(-0.0)],
        )
        .unwrap();
        let lines = csv_lines(&frame).unwrap();
        let lines: Vec<u8> = lines.binary().unwrap().iter().flat_map(Option::unwrap).copied().collect();
        let mut written = Vec::new();
        write_csv(&frame, &mut written).unwrap();
        let header = b"ind,title,follower_count\n";
        assert_eq!(&written[..header.len()], header);
        assert_eq!(String::from_utf8(lines).unwrap(), String::from_utf8(written[header.len()..].to_vec()).unwrap());
    }

    #[test]
    fn blocks_are_written_in_order_across_waves_and_the_first_error_stops_the_writing() {
        let block = |i: usize| if i == 5 { Err(format!("block {i}")) } else { Ok(format!("{i};").into_bytes()) };
        let io_error = |error: std::io::Error| error.to_string();
        let mut written = Vec::new();
        write_in_waves(&mut written, 5, 2, block, io_error).unwrap();
        assert_eq!(written, b"0;1;2;3;4;");
        let mut written = Vec::new();
        assert_eq!(write_in_waves(&mut written, 8, 3, block, io_error), Err("block 5".to_string()));
        assert_eq!(written, b"0;1;2;", "the wave before the failed one is written, nothing after it");
        let mut full = [0u8; 3];
        let error = write_in_waves(&mut full.as_mut_slice(), 2, 1, block, io_error).unwrap_err();
        assert!(error.contains("write whole buffer"), "{error}");
    }

    #[test]
    fn floats_are_written_as_display_writes_them() {
        // The fast path (zmij) and the fallback (Display) must agree on every finite value: whole
        // numbers, coordinates, tiny and huge magnitudes, and random bit patterns.
        let display = |value: f64| {
            let text = value.to_string();
            if text.contains('.') {
                text
            } else {
                format!("{text}.0")
            }
        };
        let mut rng = fastrand::Rng::with_seed(17);
        let mut values = vec![0.0, -0.0, 1.0, -1.0, 128.0, 1e15, 1e16, 1e21, 1e22, 1e-5, 1e-6, 1e-7, 5e-324, f64::MAX];
        values.extend((0..20_000).map(|_| (rng.f64() - 0.5) * 360.0)); // coordinates
        values.extend((0..20_000).map(|_| ((rng.f64() - 0.5) * 3.6e8).round() / 1e6)); // six decimals
        values.extend((0..20_000).map(|_| ((rng.f64() - 0.5) * 3.6e14).round() / 1e12)); // 14 to 15 digits
        values.extend((0..20_000).map(|_| ((rng.f64() - 0.5) * 3.6e15).round() / 1e13)); // 15 to 16 digits
        values.extend((0..50_000).map(|_| f64::from_bits(rng.u64(..))).filter(|value| value.is_finite()));
        for value in values {
            assert_eq!(format_float(value), display(value), "{value:e}");
        }
    }

    #[test]
    fn floats_are_shortest_round_trip_without_exponent() {
        assert_eq!(format_float(128.0), "128.0");
        assert_eq!(format_float(-0.375174), "-0.375174");
        assert_eq!(format_float(1e21), "1000000000000000000000.0");
        assert_eq!(format_float(1.5e-7), "0.00000015");
        assert_eq!(format_float(-0.0), "-0.0");
        assert_eq!(format_float(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn quotes_only_when_needed_and_nulls_are_empty() {
        let frame = df!(
            "a" => [Some("plain"), Some("with, comma"), Some("say \"hi\""), Some("two\nlines"), None, Some(" spaced ")],
        )
        .unwrap();
        assert_eq!(csv(&frame), "a\n\n spaced \nplain\n\"say \"\"hi\"\"\"\n\"two\nlines\"\n\"with, comma\"\n");
    }

    #[test]
    fn quoting_looks_for_every_character_that_needs_it() {
        for special in [",", "\"", "\n", "\r"] {
            let long = |bytes: usize| format!("{}{special}", "x".repeat(bytes - 1));
            let texts =
                [special.to_string(), format!("a{special}"), long(SHORT_FIELD_BYTES), long(SHORT_FIELD_BYTES + 1)];
            for text in texts.into_iter().chain([format!("{}{special}b", "x".repeat(70))]) {
                let mut out = Vec::new();
                write_text(&mut out, &text);
                assert_eq!(out.first(), Some(&b'"'), "{text:?}");
            }
        }
        let mut out = Vec::new();
        write_text(&mut out, &"plain text; with\ttabs and #".repeat(5));
        assert_ne!(out.first(), Some(&b'"'));
    }

    #[test]
    fn lists_are_quoted_when_they_hold_more_than_one_value() {
        let lists = [None, Some(vec![]), Some(vec![Some(1.5)]), Some(vec![None]), Some(vec![Some(-0.25), None])];
        let frame = df!("ind" => [1, 2, 3, 4, 5], "coordinates" => lists.map(|list| list.map(|values| {
            Series::new("".into(), values)
        })))
        .unwrap();
        assert_eq!(csv(&frame), "ind,coordinates\n1,\n2,[]\n3,[1.5]\n4,[null]\n5,\"[-0.25, null]\"\n");
    }

    #[test]
    fn datetimes_are_written_as_chrono_formats_them() {
        let mut rng = fastrand::Rng::with_seed(17);
        // Years -300..13,000 in microseconds, the edges of 0 and 9999 included.
        let edges =
            [-62_167_219_200_000_000i64, -62_167_219_200_000_001, 253_402_300_799_999_999, 253_402_300_800_000_000];
        let values = (0..100_000).map(|_| rng.i64(-71_600_000_000_000_000..348_000_000_000_000_000)).chain(edges);
        for value in values {
            let mut out = Vec::new();
            write_datetime(&mut out, value, TimeUnit::Microseconds);
            let expected = chrono::DateTime::from_timestamp_micros(value).unwrap().format("%Y-%m-%d %H:%M:%S");
            assert_eq!(String::from_utf8(out).unwrap(), expected.to_string(), "{value}");
        }
    }

    #[test]
    fn rows_sort_by_every_column_nulls_first_and_age_groups_naturally() {
        let frame = df!(
            "age_group" => ["+50", "18-24", "36-50", "25-35", "18-24"],
            "n" => [Some(1i64), Some(2), Some(3), Some(4), None],
        )
        .unwrap();
        assert_eq!(csv(&frame), "age_group,n\n18-24,\n18-24,2\n25-35,4\n36-50,3\n+50,1\n");
    }

    #[test]
    fn timestamps_and_coordinates_have_their_canonical_form() {
        let frame = df!(
            "ind" => [2i32, 1],
            "latitude" => [-0.375174f64, 12.0],
            "longitude" => [128.0f64, -170.188],
            "ts" => ["2020-08-28 03:52:47.250", "2019-01-01 00:00:00"],
        )
        .unwrap()
        .lazy()
        .select([
            col("ind"),
            concat_list([col("latitude"), col("longitude")]).unwrap().alias("coordinates"),
            col("ts").str().to_datetime(
                Some(TimeUnit::Microseconds),
                None,
                StrptimeOptions { format: Some("%Y-%m-%d %H:%M:%S%.f".into()), ..Default::default() },
                lit("raise"),
            ),
        ])
        .collect()
        .unwrap();
        assert_eq!(
            csv(&frame),
            "ind,coordinates,ts\n1,\"[12.0, -170.188]\",2019-01-01 00:00:00\n2,\"[-0.375174, 128.0]\",2020-08-28 03:52:47\n"
        );
    }
}
