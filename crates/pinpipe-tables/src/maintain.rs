//! Keeping a table cheap to read: many small files of a partition become one (compaction), and
//! files no snapshot within the retention period needs are deleted (vacuum).

use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::Action;
use deltalake::protocol::DeltaOperation;
use polars::prelude::ParquetCompression;

use crate::error::{delta_error, TableError};
use crate::table::{partition_of, LakeTable, Rows};

/// What compacting a partition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compaction {
    /// Data files of the partition before.
    pub files_before: usize,
    /// Data files after (1, or the same as before when there was nothing to do).
    pub files_after: usize,
    /// Rows of the partition (the same before and after).
    pub rows: usize,
}

impl LakeTable {
    /// Rewrites the data files of the partition `partition` = `value` as one file (named `name`, new)
    /// in one commit that changes no data (`dataChange: false`), so that a reader reads one file, not
    /// hundreds of small ones. Nothing is done for a partition of at most one file. A concurrent
    /// append to the partition is kept (its files are not among those replaced); a concurrent
    /// compaction of the same files makes this one a [`TableError::Conflict`], its file deleted.
    pub async fn compact_partition(
        &mut self,
        partition: &str,
        value: &str,
        name: &str,
        compression: ParquetCompression,
    ) -> Result<Compaction, TableError> {
        let files = self.files(Rows::Of(value), partition).await?;
        if files.len() <= 1 {
            let rows = files.iter().filter_map(|file| file.num_records()).sum();
            return Ok(Compaction { files_before: files.len(), files_after: files.len(), rows });
        }
        let removes: Vec<Action> = files.iter().map(|file| Action::Remove(file.remove_action(false))).collect();
        let mut rows = self.read_files(files, None, partition).await?;
        rows.drop_in_place(partition)
            .map_err(|source| TableError::Polars { what: format!("compacting {value}"), source })?;
        let mut add = self.write_file(partition, value, &rows, name, compression).await?;
        add.data_change = false;
        let mut actions = removes;
        let files_before = actions.len();
        actions.push(Action::Add(add.clone()));
        let operation =
            DeltaOperation::Optimize { predicate: Some(format!("{partition} = '{value}'")), target_size: add.size };
        if let Err(error) = self.commit(actions, operation, CommitProperties::default()).await {
            self.discard(std::slice::from_ref(&add)).await;
            return Err(error);
        }
        Ok(Compaction { files_before, files_after: 1, rows: rows.height() })
    }

    /// The partition values of the snapshot held, each with its number of data files, in order.
    pub async fn partition_files(&self, partition: &str) -> Result<Vec<(String, usize)>, TableError> {
        let mut counts = std::collections::BTreeMap::new();
        for file in self.files(Rows::All, partition).await? {
            if let Some(value) = partition_of(&file, partition) {
                *counts.entry(value).or_insert(0) += 1;
            }
        }
        Ok(counts.into_iter().collect())
    }

    /// Deletes the data files that the snapshot held no longer uses and that left it more than
    /// `retention` ago (a reader of an older snapshot within the retention still finds its files),
    /// and the log entries older than the table's log retention (`delta.logRetentionDuration`, 30
    /// days by default) that a checkpoint makes unneeded; gives how many data files were deleted.
    pub async fn vacuum(&mut self, retention: chrono::Duration) -> Result<usize, TableError> {
        let log_entries = deltalake::checkpoints::cleanup_metadata(&self.table, None)
            .await
            .map_err(|error| delta_error(&self.url, error))?;
        tracing::debug!(table = %self.url, log_entries, "expired log entries deleted");
        let (table, metrics) = self
            .table
            .clone()
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .await
            .map_err(|error| delta_error(&self.url, error))?;
        self.table = table;
        Ok(metrics.files_deleted.len())
    }
}
