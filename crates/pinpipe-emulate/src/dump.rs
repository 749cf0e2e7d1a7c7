//! Writing drawn posts to JSON-lines files.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use pinpipe_contract::Table;

use crate::generator::Generator;

const WRITE_BUFFER: usize = 1 << 20;

/// The file of one table's records in a dump or a `--source` folder: `<table>.jsonl`.
pub fn table_file_name(table: Table) -> String {
    format!("{table}.jsonl")
}

/// Why a dump could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The folder or a file could not be created.
    #[error("creating {}: {error}", path.display())]
    Create {
        /// The folder or file.
        path: PathBuf,
        /// The operating system's error.
        error: io::Error,
    },
    /// A file could not be written.
    #[error("writing {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: io::Error,
    },
}

/// What [`dump`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpSummary {
    /// Posts written (lines in each file).
    pub rows: usize,
    /// Distinct source rows among them (distinct records in each file); fewer than `rows` means
    /// duplicate posts.
    pub distinct_rows: usize,
    /// Bytes written, all three files together.
    pub bytes: u64,
    /// The pin, geo and user files.
    pub files: [PathBuf; 3],
}

/// Posts written between two calls of [`dump_with_progress`]'s `progress`.
pub const DUMP_PROGRESS_EVERY: usize = 50_000;

/// Writes the first `rows` posts of [`Generator::new`]`(seed)` to `pin.jsonl`, `geo.jsonl` and
/// `user.jsonl` in `dir` (created if missing; existing files are replaced): one record per line,
/// `\n` line ends, as [`crate::json_text`] writes them. The same seed gives identical bytes.
pub fn dump(dir: &Path, rows: usize, seed: u64) -> Result<DumpSummary, DumpError> {
    dump_with_progress(dir, rows, Generator::new(seed), |_| {})
}

/// Writes the next `rows` posts of `generator` as [`dump`] does (a generator of any source row
/// count: [`Generator::with_source_rows`]), calling `progress` with the posts written so far every
/// [`DUMP_PROGRESS_EVERY`] posts and once at the end (`pinpipe emulate --dump` draws a progress
/// bar with it).
pub fn dump_with_progress(
    dir: &Path,
    rows: usize,
    mut generator: Generator,
    mut progress: impl FnMut(usize),
) -> Result<DumpSummary, DumpError> {
    fs::create_dir_all(dir).map_err(|error| DumpError::Create { path: dir.to_path_buf(), error })?;
    let files = Table::ALL.map(|table| dir.join(table_file_name(table)));
    let mut writers = files.iter().map(|path| create(path)).collect::<Result<Vec<_>, _>>()?;
    // One bit per source row: 1.25 MB for 10 million.
    let mut drawn = vec![0u64; generator.tables().rows().div_ceil(64)];
    let mut bytes = 0;
    for written in 0..rows {
        if written % DUMP_PROGRESS_EVERY == 0 && written > 0 {
            progress(written);
        }
        let row = generator.next_row();
        drawn[row / 64] |= 1 << (row % 64);
        for ((writer, line), path) in writers.iter_mut().zip(generator.tables().lines(row).iter()).zip(&files) {
            writer.write_all(line.as_bytes()).map_err(|error| DumpError::Write { path: path.clone(), error })?;
            bytes += line.len() as u64;
        }
    }
    for (writer, path) in writers.iter_mut().zip(&files) {
        writer.flush().map_err(|error| DumpError::Write { path: path.clone(), error })?;
    }
    progress(rows);
    let distinct_rows = drawn.iter().map(|word| word.count_ones() as usize).sum();
    Ok(DumpSummary { rows, distinct_rows, bytes, files })
}

fn create(path: &Path) -> Result<BufWriter<File>, DumpError> {
    let file = File::create(path).map_err(|error| DumpError::Create { path: path.to_path_buf(), error })?;
    Ok(BufWriter::with_capacity(WRITE_BUFFER, file))
}
