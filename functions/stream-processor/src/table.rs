//! Appending one shard's records to a stream table exactly once (docs/SPEC.md §3).
//!
//! A commit to `stream/<table>` holds the data files of the records it took and sets the source's
//! last sequence number (`txn`, see [`pinpipe_tables`]). Before writing, the records the table's
//! snapshot already holds for the source are left out, so a redelivered batch, a retry with a smaller
//! or larger batch, and a second processor of the same shard add nothing twice: two writers of one
//! source conflict in the log, and the loser discards its files and starts over from the new
//! snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use pinpipe_contract::names::compare_sequence_numbers;
use pinpipe_contract::table::ARRIVAL_DATE_COLUMN;
use pinpipe_contract::{layout, RejectedRecord, Table};
use pinpipe_lake::{ObjectStore, StoreError, Url};
use pinpipe_tables::{position_txns, table_url, LakeTable, ParquetCompression, TableError};
use tokio::sync::Mutex;

use crate::clean::{clean_records, CleanedRecords};
use crate::{KinesisBatchRecord, ProcessError};

/// How the stream tables' files are compressed: Snappy, cheap to write on every invocation (the
/// daily compaction rewrites them with the batch's zstd).
const STREAM_COMPRESSION: ParquetCompression = ParquetCompression::Snappy;

/// Attempts of one commit that lose to another writer of the same shard before the batch is
/// answered as failed (Lambda then retries it).
const COMMIT_ATTEMPTS: usize = 8;

/// What storing one group did.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    /// Rows appended.
    pub rows: usize,
    /// Records refused.
    pub refused: Vec<RejectedRecord>,
    /// Records the table already held (a redelivery).
    pub already_taken: usize,
    /// Objects written: data files and the object of refused records.
    pub objects: usize,
}

/// Why a group could not be stored (its records are reported for retry).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreGroupError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Process(#[from] ProcessError),
}

/// What to do with the records a group refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusals {
    /// Write them to `rejected/stream-processor/…` before the commit.
    Write,
    /// Give them back (a replay keeps them where they were).
    Return,
}

/// One shard's records bound for one table, and the source whose positions they are.
pub(crate) struct ShardRecords<'a> {
    pub table: Table,
    pub shard: &'a str,
    /// `<stream>/<shard>`, or `replay/<key>`.
    pub source: String,
    pub records: &'a Arc<Vec<KinesisBatchRecord>>,
    /// The group's records: indices in `records`, ascending.
    pub indices: &'a [usize],
}

/// The stream tables of one lake, each opened once for the life of the function.
pub(crate) struct StreamTables {
    root: Url,
    open: Mutex<HashMap<Table, LakeTable>>,
}

impl StreamTables {
    pub(crate) fn new(root: Url) -> Self {
        Self { root, open: Mutex::new(HashMap::new()) }
    }

    /// Appends `group` to its table exactly once; refusals are handled as `refusals` says.
    pub(crate) async fn store(
        &self,
        store: &dyn ObjectStore,
        group: ShardRecords<'_>,
        refusals: Refusals,
    ) -> Result<Stored, StoreGroupError> {
        let ShardRecords { table, shard, ref source, records, indices } = group;
        let url = table_url(&self.root, &layout::stream_table(table));
        let mut open = self.open.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut held = match open.remove(&table) {
                // The snapshot the last commit left, not read again: a commit is checked against the
                // log, so one that another writer of the shard overtook conflicts, and the next
                // attempt reads the log again.
                Some(held) if attempt == 1 => held,
                Some(mut held) => {
                    held.refresh().await?;
                    held
                }
                None => match LakeTable::open(&url).await? {
                    Some(held) => held,
                    None => {
                        // Created (or found created by another writer) before anything is read from it,
                        // so that what is taken is read from the snapshot the commit is checked against.
                        let (records, shard) = (records.clone(), shard.to_string());
                        let empty = tokio::task::spawn_blocking(move || clean_records(table, &shard, &records, &[]))
                            .await
                            .map_err(ProcessError::from)??;
                        let mut held = LakeTable::open_or_create(&url, &empty.schema, ARRIVAL_DATE_COLUMN).await?;
                        held.refresh().await?;
                        held
                    }
                },
            };
            let taken = held.last_position(source).await?;
            let untaken: Vec<usize> = indices
                .iter()
                .copied()
                .filter(|&index| {
                    let sequence_number = &records[index].kinesis.sequence_number;
                    taken.as_deref().is_none_or(|taken| compare_sequence_numbers(sequence_number, taken).is_gt())
                })
                .collect();
            let already_taken = indices.len() - untaken.len();
            if untaken.is_empty() {
                open.insert(table, held);
                return Ok(Stored { already_taken, ..Stored::default() });
            }
            let cleaned = {
                let (records, untaken, shard) = (records.clone(), untaken.clone(), shard.to_string());
                tokio::task::spawn_blocking(move || clean_records(table, &shard, &records, &untaken))
                    .await
                    .map_err(ProcessError::from)??
            };
            let first = &records[untaken[0]].kinesis.sequence_number;
            let last = &records[untaken[untaken.len() - 1]].kinesis.sequence_number;
            let outcome = commit(&mut held, store, &group, (first, last), &cleaned, refusals).await;
            open.insert(table, held);
            match outcome {
                Ok(objects) => {
                    return Ok(Stored {
                        rows: cleaned.rows,
                        refused: cleaned.refused.into_iter().map(|(_, record)| record).collect(),
                        already_taken,
                        objects,
                    })
                }
                Err(StoreGroupError::Table(TableError::Conflict { .. })) if attempt < COMMIT_ATTEMPTS => {
                    tracing::info!(%table, shard, attempt, "another writer took records of this shard first; reading again");
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Writes the data files of `cleaned` (one per arrival date) and, with [`Refusals::Write`], its
/// refused records, then commits them with the source's new position (`range.1`); gives the objects
/// written. On any failure the data files are deleted again; after a lost race, so is the object
/// of refused records unless it is the winner's too.
async fn commit(
    held: &mut LakeTable,
    store: &dyn ObjectStore,
    group: &ShardRecords<'_>,
    (first, last): (&str, &str),
    cleaned: &CleanedRecords,
    refusals: Refusals,
) -> Result<usize, StoreGroupError> {
    let (table, shard, source) = (group.table, group.shard, group.source.as_str());
    let nonce = uuid::Uuid::new_v4();
    let mut adds = Vec::new();
    for (date, rows) in &cleaned.by_arrival_date {
        let name = format!("part-{shard}-{first}-{nonce}");
        match held.write_file(ARRIVAL_DATE_COLUMN, date, rows, &name, STREAM_COMPRESSION).await {
            Ok(add) => adds.push(add),
            Err(error) => {
                held.discard(&adds).await;
                return Err(error.into());
            }
        }
    }
    let rejected_key = layout::stream_rejected_key(Some(table), shard, first, last);
    let write_refusals = refusals == Refusals::Write && !cleaned.refused.is_empty();
    let prepared = async {
        if write_refusals {
            let body = RejectedRecord::to_json_lines(cleaned.refused.iter().map(|(_, record)| record));
            store.put(&rejected_key, body.into()).await?;
        }
        if refusals == Refusals::Write {
            // Objects an attempt that was not committed left for these records.
            for orphan in store.list(&layout::stream_rejected_prefix(Some(table), shard, first)).await? {
                if orphan.key != rejected_key {
                    store.delete(&orphan.key).await?;
                }
            }
        }
        Ok::<_, StoreError>(())
    };
    if let Err(error) = prepared.await {
        held.discard(&adds).await;
        return Err(error.into());
    }
    let objects = adds.len() + usize::from(write_refusals);
    let txns = position_txns(source, last)?;
    match held.append(adds.clone(), txns, ARRIVAL_DATE_COLUMN).await {
        Ok(()) => Ok(objects),
        Err(error) => {
            held.discard(&adds).await;
            if write_refusals && matches!(error, TableError::Conflict { .. }) {
                held.refresh().await?;
                let winner = held.last_position(source).await?;
                if winner.is_none_or(|winner| {
                    layout::stream_rejected_key(Some(table), shard, first, &winner) != rejected_key
                }) {
                    store.delete(&rejected_key).await?;
                }
            }
            Err(error.into())
        }
    }
}
