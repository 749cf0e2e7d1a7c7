//! The batch's Delta tables (docs/SPEC.md §3): `cleaned/<table>` and `results/<query>`, partitioned
//! by `run_date`, each run replacing its date's partition in one commit; and the upkeep of the
//! tables (compaction of the stream tables' earlier days, vacuum of all).

use chrono::NaiveDate;
use pinpipe_contract::table::{ARRIVAL_DATE_COLUMN, RUN_DATE_COLUMN};
use pinpipe_contract::{layout, Table};
use pinpipe_core::queries::{Query, QUERIES};
use pinpipe_lake::{ObjectMeta, ObjectStore};
use pinpipe_tables::{position_txns, table_url, Add, LakeTable, ParquetCompression, Rows, TableError};
use polars::prelude::*;
use serde::Serialize;

use crate::error::BatchError;

/// How the daily batch compresses its tables' files (`cleaned/`, `results/`, compacted `stream/`):
/// zstd, for files written once a day and read many times.
pub const BATCH_COMPRESSION: ParquetCompression = ParquetCompression::Zstd(None);

/// How long the tables keep files no longer in their latest snapshot, for readers of older
/// snapshots (Delta's default `deletedFileRetentionDuration`).
pub const DEFAULT_RETENTION_HOURS: i64 = 7 * 24;

/// One batch table of the lake, opened for a run of one date: the snapshot its commit is checked
/// against, how many runs of that date and of any date it holds.
pub(crate) struct RunTable {
    table: LakeTable,
    source: String,
    runs: u64,
    all_runs: u64,
}

impl RunTable {
    /// The table at `path` (see [`layout::cleaned_table`], [`layout::result_table`]) for a run of
    /// `run_date`, `None` where there is none yet.
    pub(crate) async fn open(store: &dyn ObjectStore, path: &str, run_date: &str) -> Result<Option<Self>, BatchError> {
        let Some(table) = LakeTable::open(&table_url(&store.url(), path)).await? else { return Ok(None) };
        Ok(Some(Self::counted(table, run_date).await?))
    }

    /// `table` with the counts of runs its snapshot holds.
    async fn counted(table: LakeTable, run_date: &str) -> Result<Self, BatchError> {
        let source = layout::batch_run_source(run_date);
        let count = |position: Option<String>| match position {
            Some(runs) => runs.parse().map_err(|_| TableError::Position(runs)),
            None => Ok(0),
        };
        let runs = count(table.last_position(&source).await?)?;
        let all_runs = count(table.last_position(layout::BATCH_RUNS_SOURCE).await?)?;
        Ok(RunTable { table, source, runs, all_runs })
    }

    /// The batch runs (of any date) the table's snapshot holds.
    pub(crate) fn all_runs(&self) -> u64 {
        self.all_runs
    }

    /// A lazy scan of the rows of every run date but `run_date` (their columns as the files hold
    /// them, no partition column), `None` where there are none.
    pub(crate) async fn scan_other_dates(&self, run_date: &str) -> Result<Option<LazyFrame>, BatchError> {
        Ok(self.table.scan(Rows::AllBut(run_date), RUN_DATE_COLUMN).await?)
    }
}

/// Every query's result table (in [`QUERIES`] order) opened for a run of `run_date`.
pub(crate) async fn open_result_tables(
    store: &dyn ObjectStore,
    run_date: &str,
) -> Result<Vec<Option<RunTable>>, BatchError> {
    let mut tables = Vec::with_capacity(QUERIES.len());
    for query in QUERIES {
        tables.push(RunTable::open(store, &layout::result_table(query.id), run_date).await?);
    }
    Ok(tables)
}

/// Replaces the partition `run_date` of each query's table with its result ([`replace_run_date`]);
/// `opened` as [`open_result_tables`] gave them.
pub(crate) async fn replace_results(
    store: &dyn ObjectStore,
    run_date: &str,
    results: &[(Query, DataFrame)],
    opened: Vec<Option<RunTable>>,
    consumed: &[ObjectMeta],
) -> Result<(), BatchError> {
    let consumed: Vec<&ObjectMeta> = consumed.iter().collect();
    for ((query, frame), opened) in results.iter().zip(opened) {
        replace_run_date(store, &layout::result_table(query.id), opened, run_date, frame, &consumed).await?;
    }
    Ok(())
}

/// The rows the run of `run_date` wrote to the table at `path` (without the partition column), read
/// through its log; `None` where there is no table.
pub async fn read_run_date(
    store: &dyn ObjectStore,
    path: &str,
    run_date: &str,
) -> Result<Option<DataFrame>, BatchError> {
    let Some(table) = LakeTable::open(&table_url(&store.url(), path)).await? else { return Ok(None) };
    let frame = table.read(None, RUN_DATE_COLUMN, Rows::Of(run_date)).await?;
    Ok(Some(frame.drop(RUN_DATE_COLUMN)?))
}

/// Replaces the partition `run_date` of the table at `path` with `frame` in one commit
/// ([`RunDateWrite`]).
pub(crate) async fn replace_run_date(
    store: &dyn ObjectStore,
    path: &str,
    opened: Option<RunTable>,
    run_date: &str,
    frame: &DataFrame,
    consumed: &[&ObjectMeta],
) -> Result<(), BatchError> {
    let mut write = RunDateWrite::start(store, path, opened, run_date, frame.schema()).await?;
    write.file(frame).await?;
    write.commit(consumed).await
}

/// A run date's new partition of one table, written file by file and then committed at once.
pub(crate) struct RunDateWrite {
    opened: RunTable,
    run_date: String,
    /// The rows' columns (without the partition column).
    schema: Schema,
    adds: Vec<Add>,
}

impl RunDateWrite {
    /// Starts replacing the partition `run_date` of the table at `path`, whose rows have `schema`.
    /// `opened` is the table as [`RunTable::open`] found it before the run (`None`: there was none):
    /// if another batch run committed to it since (of any date), the commit fails with
    /// [`BatchError::ConcurrentRun`].
    pub(crate) async fn start(
        store: &dyn ObjectStore,
        path: &str,
        opened: Option<RunTable>,
        run_date: &str,
        schema: &Schema,
    ) -> Result<Self, BatchError> {
        let opened = match opened {
            Some(opened) => opened,
            None => {
                // A first run: the table is created (or loaded, if another run created it since) before
                // its counts are read, so another run that committed in between is seen, and one that
                // commits later conflicts with this commit.
                let mut schema = schema.clone();
                schema.with_column(RUN_DATE_COLUMN.into(), DataType::Date);
                let table = LakeTable::open_or_create(&table_url(&store.url(), path), &schema, RUN_DATE_COLUMN).await?;
                let opened = RunTable::counted(table, run_date).await?;
                if opened.all_runs > 0 {
                    return Err(concurrent_run(run_date, path));
                }
                opened
            }
        };
        Ok(RunDateWrite { opened, run_date: run_date.to_string(), schema: schema.clone(), adds: Vec::new() })
    }

    /// Writes `frame` as one data file of the partition (not yet committed).
    pub(crate) async fn file(&mut self, frame: &DataFrame) -> Result<(), BatchError> {
        let name = format!("part-{}-{}", self.opened.runs + 1, uuid::Uuid::new_v4());
        let table = &self.opened.table;
        match table.write_file(RUN_DATE_COLUMN, &self.run_date, frame, &name, BATCH_COMPRESSION).await {
            Ok(add) => {
                self.adds.push(add);
                Ok(())
            }
            Err(error) => {
                table.discard(&self.adds).await;
                Err(error.into())
            }
        }
    }

    /// Commits the files written as the partition, counting the date's runs and all runs (`txn`)
    /// and naming `consumed`, the raw objects the rows came from (`commitInfo`). A day with no rows
    /// gets a file of none: its schema, and the day, are there to read.
    pub(crate) async fn commit(mut self, consumed: &[&ObjectMeta]) -> Result<(), BatchError> {
        if self.adds.is_empty() {
            let empty = DataFrame::empty_with_schema(&self.schema);
            self.file(&empty).await?;
        }
        let (opened, run_date, adds) = (&mut self.opened, self.run_date.as_str(), self.adds);
        let mut txns = position_txns(&opened.source, &(opened.runs + 1).to_string())?;
        txns.extend(position_txns(layout::BATCH_RUNS_SOURCE, &(opened.all_runs + 1).to_string())?);
        let keys: Vec<serde_json::Value> = consumed.iter().map(|object| object.key.clone().into()).collect();
        let metadata = serde_json::Map::from_iter([
            ("pinpipe.run_date".to_string(), run_date.into()),
            ("pinpipe.consumed".to_string(), keys.into()),
        ]);
        let table = &mut opened.table;
        match table.replace_partition(RUN_DATE_COLUMN, run_date, adds.clone(), txns, metadata).await {
            Ok(()) => Ok(()),
            Err(error) => {
                table.discard(&adds).await;
                Err(match error {
                    TableError::Conflict { url } => {
                        BatchError::ConcurrentRun { run_date: run_date.to_string(), table: url }
                    }
                    other => other.into(),
                })
            }
        }
    }
}

fn concurrent_run(run_date: &str, path: &str) -> BatchError {
    BatchError::ConcurrentRun { run_date: run_date.to_string(), table: path.to_string() }
}

/// What the tables' upkeep does.
#[derive(Debug, Clone, Copy)]
pub struct Upkeep {
    /// How long the tables keep files no longer in their latest snapshot (vacuum).
    pub retention: chrono::Duration,
}

impl Default for Upkeep {
    fn default() -> Self {
        Upkeep { retention: chrono::Duration::hours(DEFAULT_RETENTION_HOURS) }
    }
}

/// The variable that sets [`Upkeep::retention`], in hours (default [`DEFAULT_RETENTION_HOURS`]).
pub const RETENTION_HOURS_VAR: &str = "VACUUM_RETENTION_HOURS";

impl Upkeep {
    /// The upkeep the environment asks for: [`RETENTION_HOURS_VAR`], else the defaults.
    pub fn from_env() -> Result<Self, BatchError> {
        match std::env::var(RETENTION_HOURS_VAR) {
            Ok(value) if !value.trim().is_empty() => match value.trim().parse::<u32>() {
                Ok(hours) => Ok(Upkeep { retention: chrono::Duration::hours(hours.into()) }),
                Err(_) => Err(BatchError::Retention(value)),
            },
            _ => Ok(Upkeep::default()),
        }
    }
}

/// What the upkeep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpkeepDone {
    /// The partitions compacted.
    pub compacted: Vec<StreamCompaction>,
    /// Files deleted by the vacuum.
    pub files_vacuumed: usize,
}

/// What the upkeep did to one stream table's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamCompaction {
    /// The stream table's table.
    pub table: Table,
    /// The partition's arrival date.
    pub arrival_date: String,
    /// Data files before.
    pub files_before: usize,
    /// Data files after.
    pub files_after: usize,
    /// Rows of the partition (unchanged).
    pub rows: usize,
}

/// The daily upkeep of the lake's tables: each stream table partition of an arrival date before
/// `run_date` with more than one data file is compacted into one, then every table (stream, cleaned,
/// results) deletes the files it left out (compacted, or replaced by a re-run) longer than the
/// retention ago. A compaction that loses a race with another writer is skipped (the next day's
/// does it).
pub async fn maintain_tables(
    store: &dyn ObjectStore,
    run_date: NaiveDate,
    upkeep: &Upkeep,
) -> Result<UpkeepDone, BatchError> {
    let today = run_date.format("%Y-%m-%d").to_string();
    let mut compacted = Vec::new();
    let mut vacuumed = 0;
    for table in Table::ALL {
        let Some(mut stream) = LakeTable::open(&table_url(&store.url(), &layout::stream_table(table))).await? else {
            continue;
        };
        for (arrival_date, files) in stream.partition_files(ARRIVAL_DATE_COLUMN).await? {
            if files <= 1 || arrival_date.as_str() >= today.as_str() {
                continue;
            }
            let name = format!("compacted-{}", uuid::Uuid::new_v4());
            match stream.compact_partition(ARRIVAL_DATE_COLUMN, &arrival_date, &name, BATCH_COMPRESSION).await {
                Ok(done) => compacted.push(StreamCompaction {
                    table,
                    arrival_date,
                    files_before: done.files_before,
                    files_after: done.files_after,
                    rows: done.rows,
                }),
                Err(TableError::Conflict { url }) => {
                    tracing::warn!(%url, arrival_date, "another writer changed the partition; compaction left for the next run");
                    stream.refresh().await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        vacuumed += stream.vacuum(upkeep.retention).await?;
    }
    let batch_tables = Table::ALL.map(layout::cleaned_table).into_iter();
    for path in batch_tables.chain(QUERIES.iter().map(|query| layout::result_table(query.id))) {
        if let Some(mut table) = LakeTable::open(&table_url(&store.url(), &path)).await? {
            vacuumed += table.vacuum(upkeep.retention).await?;
        }
    }
    Ok(UpkeepDone { compacted, files_vacuumed: vacuumed })
}
