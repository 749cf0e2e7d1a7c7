//! The batch transform: new raw records → drop exact duplicates → clean → all queries.
//!
//! [`transform`] is the whole computation, pure and in memory. [`run_batch`] drives it over the lake
//! (what the `batch-transform` Lambda runs) and [`transform_dir`] over local files (what
//! `pinpipe transform` runs); both feed it through the same reading code.
//!
//! A run for date D reads every raw object that no run of another date consumed (an object rewritten
//! since it was consumed counts as new: its records are read again and duplicates dropped), writes
//! its cleaned rows to `cleaned/<table>/run_date=D/`, records what it consumed in a ledger, and
//! recomputes every query over all cleaned data. Running D again therefore replaces D's own outputs
//! with the same bytes: re-runs and backfills never double or lose data.

use std::collections::{BTreeMap, HashSet};
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use chrono::NaiveDate;
use pinpipe_lake::{get_many, layout, LocalStore, ObjectMeta, ObjectStore};
use polars::prelude::*;

use crate::clean::{clean, without_hash};
use crate::decode::{decode_distinct, Decoded, DistinctDecoded, DistinctLines, RawSource, Rejected};
use crate::export::{canonical_order, write_csv};
use crate::quality::{Manifest, SkippedInput, TableQuality};
use crate::queries::{run_queries, CleanedTables, Query, QUERIES};
use crate::table::{Table, RAW_HASH_COLUMN};

/// Raw objects read at once from the store.
const READ_CONCURRENCY: usize = 32;

/// The name rejected records of this stage are filed under in the lake.
pub const STAGE: &str = "batch-transform";

/// What one run computed.
#[derive(Debug)]
pub struct TransformOutput {
    /// Per table, the rows this run added (cleaned columns plus [`RAW_HASH_COLUMN`]).
    pub new_cleaned: BTreeMap<Table, DataFrame>,
    /// All cleaned rows, earlier runs' and this run's, without the hash column.
    pub all_cleaned: CleanedTables,
    /// Every query's result, in canonical order.
    pub results: Vec<(Query, DataFrame)>,
    /// Per-table counts of this run.
    pub quality: BTreeMap<Table, TableQuality>,
    /// The refused lines of this run.
    pub rejected: Vec<Rejected>,
}

/// The computation of a run: `new` holds this run's raw inputs per table, `prior` the cleaned rows
/// (with hashes) of earlier runs. Exact duplicates, within `new` or of `prior` rows, are dropped.
pub fn transform(
    mut new: BTreeMap<Table, Vec<RawSource>>,
    prior: BTreeMap<Table, DataFrame>,
) -> PolarsResult<TransformOutput> {
    let mut decoded = BTreeMap::new();
    for table in Table::ALL {
        // Exact duplicates within this run are dropped while decoding (only distinct lines are decoded);
        // each table's raw bytes are freed once decoded.
        decoded.insert(table, decode_distinct(table, &new.remove(&table).unwrap_or_default())?);
    }
    transform_decoded(decoded, prior)
}

/// [`transform`] from this run's inputs already decoded (by [`decode_distinct`] or
/// [`crate::decode::DistinctLines`]), per table; a table missing from `new` had no input.
pub fn transform_decoded(
    mut new: BTreeMap<Table, DistinctDecoded>,
    mut prior: BTreeMap<Table, DataFrame>,
) -> PolarsResult<TransformOutput> {
    let mut new_cleaned = BTreeMap::new();
    let mut all = BTreeMap::new();
    let mut quality = BTreeMap::new();
    let mut rejected = Vec::new();
    for table in Table::ALL {
        let DistinctDecoded { decoded, records_accepted } = match new.remove(&table) {
            Some(decoded) => decoded,
            None => decode_distinct(table, &[])?,
        };
        let mut counts = TableQuality::from_decoded(&decoded);
        counts.records_in = records_accepted + decoded.rejected.len() as u64;
        let Decoded { frame: raw, rejected: refused, .. } = decoded;
        rejected.extend(refused);
        let earlier = match prior.remove(&table) {
            Some(frame) => frame,
            None => clean(table, raw.clear())?.frame,
        };
        let fresh = drop_seen(raw, &earlier)?;
        counts.duplicates_dropped = counts.records_in - counts.rejected_total() - fresh.height() as u64;
        let cleaned = clean(table, fresh)?;
        counts.records_cleaned = cleaned.frame.height() as u64;
        counts.nulls = cleaned.nulls;
        let mut everything = earlier;
        everything.vstack_mut(&cleaned.frame)?;
        all.insert(table, without_hash(&everything)?);
        new_cleaned.insert(table, cleaned.frame);
        quality.insert(table, counts);
    }
    let all_cleaned = CleanedTables {
        pin: all.remove(&Table::Pin).expect("pin"),
        geo: all.remove(&Table::Geo).expect("geo"),
        user: all.remove(&Table::User).expect("user"),
    };
    let results = run_queries(&all_cleaned)?;
    Ok(TransformOutput { new_cleaned, all_cleaned, results, quality, rejected })
}

/// Keeps the raw records (already free of duplicates among themselves) that are not in `earlier`.
fn drop_seen(unique: DataFrame, earlier: &DataFrame) -> PolarsResult<DataFrame> {
    if earlier.height() == 0 {
        return Ok(unique);
    }
    let seen = earlier.select([RAW_HASH_COLUMN])?;
    unique
        .lazy()
        .join(
            seen.lazy(),
            [col(RAW_HASH_COLUMN)],
            [col(RAW_HASH_COLUMN)],
            JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Anti) },
        )
        .collect()
}

/// The raw inputs of a run, grouped by table, and the objects they came from.
struct RawInputs {
    sources: BTreeMap<Table, Vec<RawSource>>,
    consumed: Vec<ObjectMeta>,
    skipped: Vec<SkippedInput>,
}

/// Reads every raw object under `topics/` except those in `already_consumed` (same key and version).
async fn read_raw_inputs(
    store: &dyn ObjectStore,
    already_consumed: &HashSet<(String, String)>,
) -> anyhow::Result<RawInputs> {
    let mut wanted: Vec<(Table, ObjectMeta)> = Vec::new();
    let mut skipped = Vec::new();
    for object in store.list(layout::RAW_PREFIX).await? {
        if already_consumed.contains(&(object.key.clone(), object.version.clone())) {
            continue;
        }
        let table = layout::parse_raw_key(&object.key)
            .ok_or("not a raw object key (topics/<topic>/partition=<p>/<topic>+<p>+<offset>.json)")
            .and_then(|raw| {
                Table::from_name(layout::table_of(&raw.topic)).ok_or("its topic feeds no table (pin, geo, user)")
            });
        match table {
            Ok(table) => wanted.push((table, object)),
            Err(reason) => skipped.push(SkippedInput { key: object.key, reason: reason.to_string() }),
        }
    }
    let keys: Vec<String> = wanted.iter().map(|(_, object)| object.key.clone()).collect();
    let bodies = get_many(store, &keys, READ_CONCURRENCY).await?;
    let mut sources: BTreeMap<Table, Vec<RawSource>> = BTreeMap::new();
    let mut consumed = Vec::with_capacity(wanted.len());
    for ((table, object), bytes) in wanted.into_iter().zip(bodies) {
        sources.entry(table).or_default().push(RawSource { name: object.key.clone(), bytes });
        consumed.push(object);
    }
    Ok(RawInputs { sources, consumed, skipped })
}

/// Milliseconds since `start`.
fn elapsed_ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// The manifest's timings: reading, transforming, writing (since `written`) and in all (since `started`).
fn timings(started: Instant, read_ms: u64, transform_ms: u64, written: Instant) -> BTreeMap<String, u64> {
    [
        ("read".to_string(), read_ms),
        ("transform".to_string(), transform_ms),
        ("write".to_string(), elapsed_ms(written)),
        ("total".to_string(), elapsed_ms(started)),
    ]
    .into()
}

/// Runs `transform` off the async runtime's threads.
async fn transform_blocking(
    sources: BTreeMap<Table, Vec<RawSource>>,
    prior: BTreeMap<Table, DataFrame>,
) -> anyhow::Result<TransformOutput> {
    tokio::task::spawn_blocking(move || transform(sources, prior))
        .await
        .context("the transform task failed")?
        .map_err(|error| anyhow::anyhow!("transform: {error}"))
}

fn manifest_of(run_date: String, inputs: RawInputs, output: &TransformOutput) -> Manifest {
    Manifest {
        run_date,
        inputs: inputs.consumed,
        skipped_inputs: inputs.skipped,
        tables: output.quality.clone(),
        cleaned_rows_total: [
            (Table::Pin, output.all_cleaned.pin.height() as u64),
            (Table::Geo, output.all_cleaned.geo.height() as u64),
            (Table::User, output.all_cleaned.user.height() as u64),
        ]
        .into(),
        results: output.results.iter().map(|(query, frame)| (query.id.to_string(), frame.height() as u64)).collect(),
        timings_ms: BTreeMap::new(),
    }
}

/// One batch run over the lake for `run_date`: the daily job of the `batch-transform` Lambda.
pub async fn run_batch(store: Arc<dyn ObjectStore>, run_date: NaiveDate) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let date = run_date.format("%Y-%m-%d").to_string();
    store.check().await?;

    let mut consumed_elsewhere = HashSet::new();
    for ledger in store.list(layout::CONSUMED_PREFIX).await? {
        if layout::run_date_of_consumed(&ledger.key) == Some(date.as_str()) {
            continue;
        }
        let objects: Vec<ObjectMeta> = serde_json::from_slice(&store.get(&ledger.key).await?)
            .with_context(|| format!("reading the ledger {}", ledger.key))?;
        consumed_elsewhere.extend(objects.into_iter().map(|object| (object.key, object.version)));
    }
    let mut inputs = read_raw_inputs(store.as_ref(), &consumed_elsewhere).await?;
    let prior = read_prior_cleaned(store.as_ref(), &date).await?;
    let read_ms = elapsed_ms(started);

    let computed = Instant::now();
    let output = transform_blocking(std::mem::take(&mut inputs.sources), prior).await?;
    let transform_ms = elapsed_ms(computed);

    let written = Instant::now();
    for (table, frame) in &output.new_cleaned {
        let key = layout::cleaned_part_key(table.name(), &date);
        if frame.height() == 0 {
            store.delete(&key).await?;
        } else {
            store.put(&key, parquet_bytes(frame, BATCH_COMPRESSION)?).await?;
        }
    }
    for table in Table::ALL {
        let key = layout::rejected_key(STAGE, &format!("{date}/{table}"));
        let lines = rejected_lines(output.rejected.iter().filter(|line| line.table == table))?;
        if lines.is_empty() {
            store.delete(&key).await?;
        } else {
            store.put(&key, lines.into()).await?;
        }
    }
    store.put(&layout::consumed_key(&date), serde_json::to_vec_pretty(&inputs.consumed)?.into()).await?;
    for (query, frame) in &output.results {
        store.put(&layout::result_key(&date, query.id), parquet_bytes(frame, BATCH_COMPRESSION)?).await?;
    }
    let mut manifest = manifest_of(date.clone(), inputs, &output);
    manifest.timings_ms = timings(started, read_ms, transform_ms, written);
    store.put(&layout::manifest_key(&date), serde_json::to_vec_pretty(&manifest)?.into()).await?;
    Ok(manifest)
}

/// The cleaned parts of every run date but `run_date`, per table.
async fn read_prior_cleaned(store: &dyn ObjectStore, run_date: &str) -> anyhow::Result<BTreeMap<Table, DataFrame>> {
    let mut prior = BTreeMap::new();
    for table in Table::ALL {
        let keys: Vec<String> = store
            .list(&layout::cleaned_table_prefix(table.name()))
            .await?
            .into_iter()
            .filter(|object| layout::run_date_of_cleaned_part(&object.key).is_some_and(|date| date != run_date))
            .map(|object| object.key)
            .collect();
        let mut frames = Vec::new();
        for (key, bytes) in keys.iter().zip(get_many(store, &keys, READ_CONCURRENCY).await?) {
            let frame = ParquetReader::new(Cursor::new(bytes))
                .finish()
                .map_err(|error| anyhow::anyhow!("reading the cleaned part {key}: {error}"))?;
            frames.push(frame);
        }
        if let Some(mut frame) = frames.pop() {
            for other in frames {
                frame.vstack_mut(&other)?;
            }
            prior.insert(table, frame);
        }
    }
    Ok(prior)
}

/// How the daily batch compresses its Parquet (`cleaned/`, `results/`): zstd, for objects written
/// once a day and read many times.
pub const BATCH_COMPRESSION: ParquetCompression = ParquetCompression::Zstd(None);

/// A frame as a Parquet object, compressed with `compression`.
pub fn parquet_bytes(frame: &DataFrame, compression: ParquetCompression) -> PolarsResult<Bytes> {
    let mut buffer = Vec::new();
    ParquetWriter::new(&mut buffer).with_compression(compression).finish(&mut frame.clone())?;
    Ok(buffer.into())
}

/// Refused lines as JSON lines.
fn rejected_lines<'a>(lines: impl Iterator<Item = &'a Rejected>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, line)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// `pinpipe transform`: the batch computation over local files, writing the 14 canonical CSVs,
/// `rejected.jsonl` and `manifest.json` into `out`.
///
/// `input` holds `pin.jsonl`, `geo.jsonl` and `user.jsonl`, or is a lake folder with `topics/`.
pub async fn transform_dir(input: &Path, out: &Path) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let (inputs, output, read_ms, transform_ms) = if input.join(layout::RAW_PREFIX).is_dir() {
        let mut inputs = read_raw_inputs(&LocalStore::new(input), &HashSet::new()).await?;
        let read_ms = elapsed_ms(started);
        let computed = Instant::now();
        let output = transform_blocking(std::mem::take(&mut inputs.sources), BTreeMap::new()).await?;
        (inputs, output, read_ms, elapsed_ms(computed))
    } else {
        // Table files are decoded as they are read, keeping only their distinct lines ("read" then
        // covers reading, dropping duplicates and decoding).
        let input = input.to_path_buf();
        let (inputs, decoded) = tokio::task::spawn_blocking(move || read_table_files(&input))
            .await
            .context("the reading task failed")??;
        let read_ms = elapsed_ms(started);
        let computed = Instant::now();
        let output = tokio::task::spawn_blocking(move || transform_decoded(decoded, BTreeMap::new()))
            .await
            .context("the transform task failed")?
            .map_err(|error| anyhow::anyhow!("transform: {error}"))?;
        (inputs, output, read_ms, elapsed_ms(computed))
    };

    let written = Instant::now();
    tokio::fs::create_dir_all(out).await.with_context(|| format!("creating {}", out.display()))?;
    let out_dir = out.to_path_buf();
    let all_cleaned = output.all_cleaned.clone();
    let results = output.results.clone();
    tokio::task::spawn_blocking(move || write_csvs(&out_dir, &all_cleaned, &results)).await??;
    let rejected = rejected_lines(output.rejected.iter())?;
    tokio::fs::write(out.join("rejected.jsonl"), rejected).await?;
    let mut manifest = manifest_of("offline".to_string(), inputs, &output);
    manifest.timings_ms = timings(started, read_ms, transform_ms, written);
    tokio::fs::write(out.join("manifest.json"), serde_json::to_vec_pretty(&manifest)?).await?;
    Ok(manifest)
}

/// Reads and decodes `<dir>/pin.jsonl`, `geo.jsonl` and `user.jsonl` (each must exist), block by
/// block, keeping only distinct lines: memory holds a few blocks and the distinct lines, never a
/// whole file.
fn read_table_files(dir: &Path) -> anyhow::Result<(RawInputs, BTreeMap<Table, DistinctDecoded>)> {
    if !dir.is_dir() {
        bail!("input folder {} does not exist", dir.display());
    }
    let mut inputs = RawInputs { sources: BTreeMap::new(), consumed: Vec::new(), skipped: Vec::new() };
    let mut files = Vec::new();
    for table in Table::ALL {
        let path = dir.join(format!("{table}.jsonl"));
        let file =
            std::fs::File::open(&path).with_context(|| format!("input file {} cannot be read", path.display()))?;
        files.push((table, path, file));
    }
    let mut decoded = BTreeMap::new();
    for (table, path, file) in files {
        let name = path.display().to_string();
        let (lines, size) =
            read_distinct_lines(table, &name, file).with_context(|| format!("reading {}", path.display()))?;
        decoded.insert(table, lines.finish()?);
        inputs.consumed.push(ObjectMeta { key: name, size, version: String::new() });
    }
    Ok((inputs, decoded))
}

/// Bytes read at once from an input file.
const READ_BLOCK: usize = 8 << 20;

/// Feeds a file to a [`DistinctLines`] in blocks of whole lines, reading the next block on another
/// thread while this one is hashed; returns the lines and the file's size.
fn read_distinct_lines(table: Table, name: &str, mut file: std::fs::File) -> anyhow::Result<(DistinctLines, u64)> {
    use std::io::Read;
    let (sender, receiver) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            loop {
                let mut block = Vec::with_capacity(READ_BLOCK + pending.len());
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
        let mut lines = DistinctLines::new(table);
        let (mut next_line, mut size) = (1u64, 0u64);
        for block in receiver {
            let block = block?;
            size += block.len() as u64;
            next_line = lines.push(name, &block, next_line);
        }
        Ok((lines, size))
    })
}

/// The canonical CSV file name of a cleaned table.
pub fn cleaned_csv_name(table: Table) -> String {
    format!("cleaned_{table}.csv")
}

/// Writes the 3 cleaned tables and the 11 query results as canonical CSVs into `dir`.
pub fn write_csvs(dir: &Path, cleaned: &CleanedTables, results: &[(Query, DataFrame)]) -> anyhow::Result<()> {
    let write = |name: &str, frame: &DataFrame| -> anyhow::Result<()> {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        write_csv(frame, &mut writer)?;
        std::io::Write::flush(&mut writer)?;
        Ok(())
    };
    for (table, frame) in [(Table::Pin, &cleaned.pin), (Table::Geo, &cleaned.geo), (Table::User, &cleaned.user)] {
        write(&cleaned_csv_name(table), &canonical_order(frame)?)?;
    }
    debug_assert_eq!(results.len(), QUERIES.len());
    for (query, frame) in results {
        write(query.csv_name, frame)?;
    }
    Ok(())
}
