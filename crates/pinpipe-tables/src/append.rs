//! Appending files with their positions: the commit written directly as the log's next version.
//!
//! An append adds files and sets positions; it reads no data file, so (Delta's conflict rules for
//! a blind append) only another commit that set a `txn` of the same application id, or changed the
//! table's metadata or protocol, can conflict with it. So the append does not need delta-rs's
//! transaction machinery, which rebuilds the snapshot's file list after each commit and costs more
//! than the append as the table grows: it writes its commit as version `v + 1` if absent (put-if-absent,
//! the conditional write every Delta writer on S3 relies on), where `v` is the newest version the
//! table knows. When other writers wrote `v + 1` and later versions first, their commits are read
//! (listed from `v + 1`, read at once): a conflict if one set a `txn` of the same application id
//! or changed the table, else the append tries the version after the newest. The positions of
//! each version reached are kept ([`crate::position`]), so the next append of the process reads
//! nothing from the log, and a checkpoint is written at each multiple of the table's
//! `delta.checkpointInterval`, as delta-rs does after its commits.

use std::collections::HashMap;
use std::time::Duration;

use deltalake::kernel::transaction::{CommitData, TransactionError, PROTOCOL};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::logstore::CommitOrBytes;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::table::config::TablePropertiesExt as _;
use deltalake::DeltaTableError;

use crate::error::{delta_error, TableError};
use crate::position::{conflicts, read_commits, CommitTxns, Txn};
use crate::table::LakeTable;

/// Times an append writes its commit, each time lost to other writers' commits that do not
/// conflict with it, before it gives up as a [`TableError::Conflict`].
const MAX_ATTEMPTS: u32 = 50;

/// The wait before the attempt after `attempt` (from 0) lost: random, up to 4 ms doubling to 128 ms.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(fastrand::u64(0..=4 << attempt.min(5)))
}

impl LakeTable {
    /// Appends `adds` (files of the table's partition column `partition`) with `txns` as the next
    /// version of the log, without reading the snapshot again (see the module's comment).
    /// [`TableError::Conflict`] when another writer set a `txn` of the same source first, or changed
    /// the table: then [`LakeTable::refresh`] and start over.
    pub async fn append(&mut self, adds: Vec<Add>, txns: Vec<Transaction>, partition: &str) -> Result<(), TableError> {
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(vec![partition.to_string()]),
            predicate: None,
        };
        let ours: Vec<(String, Txn)> = txns.iter().map(Txn::of).collect();
        let actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
        let snapshot = self.table.snapshot().map_err(|error| delta_error(&self.url, error))?;
        // The writer features, append-only tables: what delta-rs checks before it commits.
        PROTOCOL.can_commit(snapshot, &actions, &operation).map_err(|error| delta_error(&self.url, error.into()))?;
        let checkpoint_interval = snapshot.table_config().checkpoint_interval().get();
        let metadata = HashMap::from([("isBlindAppend".to_string(), serde_json::Value::Bool(true))]);
        let bytes = CommitData::new(actions, operation, metadata, txns)
            .get_bytes()
            .map_err(|error| delta_error(&self.url, error.into()))?;
        let log_store = self.table.log_store();
        let mut known = self.app_txns(self.version()?).await?;
        for attempt in 0..MAX_ATTEMPTS {
            let version = known.version + 1;
            let entry = CommitOrBytes::LogBytes(bytes.clone());
            match log_store.write_commit_entry(version, entry, uuid::Uuid::new_v4()).await {
                Ok(()) => {
                    let ours = CommitTxns { txns: ours, changes_table: false };
                    self.keep(known.after(std::slice::from_ref(&ours)))?;
                    self.tip = Some(version);
                    if (version as u64).is_multiple_of(checkpoint_interval) {
                        self.checkpoint(version).await;
                    }
                    return Ok(());
                }
                Err(TransactionError::VersionAlreadyExists(_)) => {
                    // Every commit since the one held, read at once.
                    let latest =
                        log_store.get_latest_version(version).await.map_err(|error| delta_error(&self.url, error))?;
                    let winners = read_commits(log_store.as_ref(), version..=latest)
                        .await
                        .map_err(|error| delta_error(&self.url, error))?
                        .ok_or_else(|| {
                            let message = format!("the commits {version} to {latest} are not all readable");
                            delta_error(&self.url, DeltaTableError::Generic(message))
                        })?;
                    known = self.keep(known.after(&winners))?;
                    self.tip = Some(latest);
                    if winners.iter().any(|winner| conflicts(winner, &ours)) {
                        return Err(TableError::Conflict { url: self.url.to_string() });
                    }
                    // Writers that lost together would try the same version again together.
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(error) => return Err(delta_error(&self.url, error.into())),
            }
        }
        Err(TableError::Conflict { url: self.url.to_string() })
    }

    /// Writes the checkpoint of `version` (the kernel's, as delta-rs's post-commit hook does). The
    /// commit is done whatever happens here: a failure is logged, and readers replay more commits.
    async fn checkpoint(&self, version: deltalake::kernel::Version) {
        let log_store = self.table.log_store();
        let engine = log_store.engine(None);
        let root = crate::position::table_root(log_store.as_ref());
        let written = tokio::task::spawn_blocking(move || {
            let snapshot = delta_kernel::Snapshot::builder_for(root).at_version(version).build(engine.as_ref())?;
            snapshot.checkpoint(engine.as_ref(), None).map(|_| ())
        })
        .await;
        match written {
            Ok(Ok(())) => tracing::debug!(table = %self.url, version, "checkpoint written"),
            Ok(Err(error)) => tracing::warn!(table = %self.url, version, %error, "could not write a checkpoint"),
            Err(error) => tracing::warn!(table = %self.url, version, %error, "could not write a checkpoint"),
        }
    }
}
