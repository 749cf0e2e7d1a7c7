//! Reading and decoding a run's raw inputs: the raw objects of a lake that no other run consumed, or
//! the three table files of a folder.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use pinpipe_contract::{layout, names, Table};
use pinpipe_core::decode::{DistinctBlocks, DistinctDecoded, PartMap};
use pinpipe_lake::{get_in_order, ObjectMeta, ObjectStore, ReadAhead};
use polars::error::PolarsResult;

use crate::error::BatchError;
use crate::manifest::SkippedInput;

/// How far the reading of raw objects runs ahead of their decoding: memory holds these bytes, the
/// object queued and the one being decoded, never every object of the run.
pub(crate) const READ_AHEAD: ReadAhead = ReadAhead { requests: 32, bytes: 128 << 20 };

/// The raw inputs of a run: each table's distinct records, decoded, and the objects they came from.
pub(crate) struct RawInputs {
    pub decoded: BTreeMap<Table, DistinctDecoded>,
    pub consumed: Vec<ObjectMeta>,
    pub skipped: Vec<SkippedInput>,
}

/// Reads and decodes every raw object under `topics/` except those in `already_consumed` (same key and
/// version), in key order ([`new_raw_objects`], [`decode_objects`]).
pub(crate) async fn read_raw_inputs(
    store: &dyn ObjectStore,
    already_consumed: &HashSet<(String, String)>,
) -> Result<RawInputs, BatchError> {
    let (consumed, skipped) = new_raw_objects(store, already_consumed).await?;
    let decoded = decode_objects(store, &consumed).await?;
    Ok(RawInputs { decoded, consumed, skipped })
}

/// The raw objects under `topics/` not in `already_consumed` (same key and version), in key order,
/// and the objects there that are not raw records of a table.
pub(crate) async fn new_raw_objects(
    store: &dyn ObjectStore,
    already_consumed: &HashSet<(String, String)>,
) -> Result<(Vec<ObjectMeta>, Vec<SkippedInput>), BatchError> {
    let mut new = Vec::new();
    let mut skipped = Vec::new();
    for object in store.list(layout::RAW_PREFIX).await? {
        if already_consumed.contains(&(object.key.clone(), object.version.clone())) {
            continue;
        }
        match table_of_raw_object(&object.key) {
            Ok(_) => new.push(object),
            Err(reason) => skipped.push(SkippedInput { key: object.key, reason: reason.to_string() }),
        }
    }
    Ok((new, skipped))
}

/// The table a raw object's records belong to, or why it has none.
pub(crate) fn table_of_raw_object(key: &str) -> Result<Table, &'static str> {
    layout::parse_raw_key(key)
        .ok_or("not a raw object key (topics/<topic>/partition=<p>/<topic>+<p>+<offset>.json)")
        .and_then(|raw| names::table_of_any_topic(&raw.topic).ok_or("its topic feeds no table (pin, geo, user)"))
}

/// Reads and decodes `objects` (raw objects of tables, as [`new_raw_objects`] gives them), keeping
/// each table's distinct records. Objects are decoded as they arrive, on a blocking thread, while the
/// next ones are read ([`READ_AHEAD`]), each dropped once decoded.
pub(crate) async fn decode_objects(
    store: &dyn ObjectStore,
    objects: &[ObjectMeta],
) -> Result<BTreeMap<Table, DistinctDecoded>, BatchError> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let decoder = tokio::task::spawn_blocking(move || decode_as_received(receiver));
    let mut bodies = get_in_order(store, objects, READ_AHEAD).zip(futures::stream::iter(objects));
    while let Some((body, object)) = bodies.next().await {
        let table = table_of_raw_object(&object.key)
            .map_err(|reason| BatchError::NotRaw { key: object.key.clone(), reason: reason.to_string() })?;
        if sender.send((table, object.key.clone(), body?)).await.is_err() {
            break; // the decoder stopped on an error, which it returns below
        }
    }
    drop((sender, bodies));
    decoder.await?
}

/// Decodes objects (table, name, body) as they are received, keeping each table's distinct lines.
fn decode_as_received(
    mut receiver: tokio::sync::mpsc::Receiver<(Table, String, Bytes)>,
) -> Result<BTreeMap<Table, DistinctDecoded>, BatchError> {
    let mut lines: BTreeMap<Table, DistinctBlocks<Bytes>> =
        Table::ALL.map(|table| (table, DistinctBlocks::new(table))).into();
    while let Some((table, name, body)) = receiver.blocking_recv() {
        lines.get_mut(&table).expect("a decoder per table").push(&name, body, 1)?;
    }
    Ok(lines.into_iter().map(|(table, lines)| Ok((table, lines.finish()?))).collect::<PolarsResult<_>>()?)
}

/// One table's file of JSON lines in a folder (`<dir>/<table>.jsonl`).
pub(crate) struct TableFile {
    pub table: Table,
    pub path: PathBuf,
    /// Its size, when it was found.
    pub size: u64,
}

impl TableFile {
    /// The file read as an input.
    pub fn input(&self) -> ObjectMeta {
        ObjectMeta { key: self.path.display().to_string(), size: self.size, version: String::new() }
    }

    /// Reads and decodes the file block by block, keeping only distinct lines ([`DistinctBlocks`], each
    /// decoded part through `part_map` if there is one): memory holds a few blocks and the distinct
    /// records, never the whole file.
    pub fn decode(&self, part_map: Option<PartMap>) -> Result<DistinctDecoded, BatchError> {
        let file = File::open(&self.path).map_err(|source| BatchError::Io { path: self.path.clone(), source })?;
        let lines = match part_map {
            Some(map) => DistinctBlocks::with_part_map(self.table, map),
            None => DistinctBlocks::new(self.table),
        }
        .expecting_bytes(self.size);
        Ok(read_distinct_lines(lines, &self.path, file)?.finish()?)
    }
}

/// `<dir>/pin.jsonl`, `geo.jsonl` and `user.jsonl` (each must exist), in table order.
pub(crate) fn table_files(dir: &Path) -> Result<Vec<TableFile>, BatchError> {
    if !dir.is_dir() {
        return Err(BatchError::NoInputFolder(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    for table in Table::ALL {
        let path = dir.join(format!("{table}.jsonl"));
        match std::fs::metadata(&path) {
            Ok(metadata) => files.push(TableFile { table, path, size: metadata.len() }),
            Err(source) => return Err(BatchError::Io { path, source }),
        }
    }
    Ok(files)
}

/// Bytes read at once from an input file.
const READ_BLOCK: usize = 8 << 20;

/// Feeds a file (opened from `path`) to `lines` in blocks of whole lines, reading the next block on
/// another thread while this one is decoded. Blocks are reused once decoded: fresh memory for each
/// would be mapped and zeroed by the kernel first.
fn read_distinct_lines(
    mut lines: DistinctBlocks<Vec<u8>>,
    path: &Path,
    mut file: File,
) -> Result<DistinctBlocks<Vec<u8>>, BatchError> {
    let name = path.display().to_string();
    let (sender, receiver) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(2);
    let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            loop {
                let mut block = recycled.try_recv().unwrap_or_default();
                block.clear();
                // Exact: `reserve` would double a reused block each time more of a line is carried over.
                block.reserve_exact(READ_BLOCK + pending.len());
                block.append(&mut pending);
                let read = match (&mut file).take(READ_BLOCK as u64).read_to_end(&mut block) {
                    Ok(read) => read,
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                };
                if read == 0 {
                    if !block.is_empty() && sender.send(Ok(block)).is_err() {
                        return;
                    }
                    return;
                }
                // Only whole lines go out; the rest starts the next block.
                match memchr::memrchr(b'\n', &block) {
                    Some(newline) => {
                        pending.extend_from_slice(&block[newline + 1..]);
                        block.truncate(newline + 1);
                        if sender.send(Ok(block)).is_err() {
                            return;
                        }
                    }
                    None => pending = block,
                }
            }
        });
        let mut next_line = 1u64;
        for block in receiver {
            let block = block.map_err(|source| BatchError::Io { path: path.to_path_buf(), source })?;
            let decoded;
            (next_line, decoded) = lines.push(&name, block, next_line)?;
            // The reader may have ended: then the block is not needed.
            if let Some(block) = decoded {
                let _ = recycle.send(block);
            }
        }
        Ok(lines)
    })
}
