//! Writing drawn posts to JSON-lines files.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::generator::Generator;

/// The file names of the pin, geo and user dumps.
const FILE_NAMES: [&str; 3] = ["pin.jsonl", "geo.jsonl", "user.jsonl"];
const WRITE_BUFFER: usize = 1 << 20;

/// What [`dump`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpSummary {
    /// Posts written (lines in each file).
    pub rows: usize,
    /// Distinct source rows among them; fewer than `rows` means duplicate posts.
    pub distinct_rows: usize,
    /// Bytes written, all three files together.
    pub bytes: u64,
    /// The pin, geo and user files.
    pub files: [PathBuf; 3],
}

/// Writes the first `rows` posts of [`Generator::new`]`(seed)` to `pin.jsonl`, `geo.jsonl` and
/// `user.jsonl` in `dir` (created if missing; existing files are replaced): one record per line,
/// `\n` line ends, as [`crate::json_text`] writes them. The same seed gives identical bytes.
pub fn dump(dir: &Path, rows: usize, seed: u64) -> Result<DumpSummary> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let files = FILE_NAMES.map(|name| dir.join(name));
    let mut writers = files.iter().map(|path| create(path)).collect::<Result<Vec<_>>>()?;
    let mut generator = Generator::new(seed);
    let mut drawn = vec![false; generator.tables().posts().len()];
    let mut bytes = 0;
    for _ in 0..rows {
        let row = generator.next_row();
        drawn[row] = true;
        for ((writer, line), path) in writers.iter_mut().zip(generator.tables().lines(row)).zip(&files) {
            writer.write_all(line.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
            bytes += line.len() as u64;
        }
    }
    for (writer, path) in writers.iter_mut().zip(&files) {
        writer.flush().with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(DumpSummary { rows, distinct_rows: drawn.iter().filter(|&&seen| seen).count(), bytes, files })
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(WRITE_BUFFER, file))
}
