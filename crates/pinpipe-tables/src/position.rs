//! Positions in the log: where a source's data was taken up to, as `txn` actions.
//!
//! Reading a position needs the newest `txn` of [`POSITION_CHUNKS`] application ids. Asking the
//! kernel for each (`Snapshot::get_app_id_version`) replays the log once per id; instead, the newest
//! `txn` of *every* application id of a snapshot version is read in one replay (the checkpoint and
//! the commits after it) and kept in the process, per table (its place and id) and version, for the
//! newest few versions read. A later version is then reached by reading only the commits in
//! between, the way log replay would: the newest `txn` of an application id wins. What a table
//! holds at a version never changes (a commit is written once), so a position read this way is
//! exactly the one of the snapshot held, whichever `LakeTable` of the table read it first.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use bytes::Bytes;
use delta_kernel::actions::LOG_TXN_SCHEMA;
use delta_kernel::engine_data::{GetData, RowVisitor, TypedGetData as _};
use delta_kernel::expressions::ColumnName;
use delta_kernel::schema::DataType as KernelType;
use delta_kernel::Version;
use deltalake::kernel::Transaction;
use deltalake::logstore::LogStore;
use deltalake::table::state::DeltaTableState;
use deltalake::DeltaTableError;
use futures::{StreamExt as _, TryStreamExt as _};

use crate::error::{delta_error, TableError};
use crate::table::LakeTable;

/// `txn` actions that hold one position.
pub const POSITION_CHUNKS: usize = 8;
/// Digits of a position in one `txn` version.
const CHUNK_DIGITS: usize = 18;

impl LakeTable {
    /// `source`'s last position in the newest version this table knows (the snapshot held, or a
    /// later one its appends reached); `None` before its first commit.
    pub async fn last_position(&self, source: &str) -> Result<Option<String>, TableError> {
        let snapshot = self.table.snapshot().map_err(|error| delta_error(&self.url, error))?;
        let txns = self.app_txns(self.version()?).await?;
        let expiration = expiration_timestamp(snapshot);
        let mut digits = String::with_capacity(POSITION_CHUNKS * CHUNK_DIGITS);
        for chunk in 0..POSITION_CHUNKS {
            let app_id = format!("{source}#{chunk}");
            let Some(txn) = txns.txns.get(&app_id).filter(|txn| !txn.expired(expiration)) else { return Ok(None) };
            if !(0..10i64.pow(CHUNK_DIGITS as u32)).contains(&txn.version) {
                return Err(TableError::Position(format!("{app_id} = {}", txn.version)));
            }
            digits.push_str(&format!("{:0>CHUNK_DIGITS$}", txn.version));
        }
        let trimmed = digits.trim_start_matches('0');
        Ok(Some(if trimmed.is_empty() { "0" } else { trimmed }.to_string()))
    }

    /// The newest `txn` of every application id at `version` of the table: kept from an earlier
    /// read of this version, brought forward from an earlier version by the commits after it, or
    /// read from the whole log segment.
    pub(crate) async fn app_txns(&self, version: Version) -> Result<Arc<AppTxns>, TableError> {
        let key = self.key()?;
        // The kept version of the table that is the newest not after the one asked for.
        let kept = APP_TXNS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .and_then(|versions| versions.range(..=version).next_back().map(|(_, kept)| kept.clone()));
        let log_store = self.table.log_store();
        let read = match kept {
            Some(kept) if kept.version == version => return Ok(kept),
            Some(kept) => match later_commits(log_store.as_ref(), &kept, version).await {
                Ok(Some(txns)) => Ok(txns),
                // Too many, or a commit gone (log cleanup) or not as expected: the kernel reads the
                // snapshot's log segment.
                Ok(None) => whole_log(log_store.as_ref(), version).await,
                Err(error) => Err(error),
            },
            None => whole_log(log_store.as_ref(), version).await,
        };
        let read = read.map_err(|error| delta_error(&self.url, error))?;
        self.keep(read)
    }

    /// Keeps `txns` as what the table holds at their version (a commit is written once: that
    /// never changes).
    pub(crate) fn keep(&self, txns: AppTxns) -> Result<Arc<AppTxns>, TableError> {
        let key = self.key()?;
        let txns = Arc::new(txns);
        let mut kept = APP_TXNS.lock().unwrap_or_else(PoisonError::into_inner);
        let versions = kept.entry(key).or_default();
        versions.insert(txns.version, txns.clone());
        while versions.len() > KEPT_VERSIONS {
            versions.pop_first();
        }
        Ok(txns)
    }

    fn key(&self) -> Result<TableKey, TableError> {
        let snapshot = self.table.snapshot().map_err(|error| delta_error(&self.url, error))?;
        Ok(TableKey { url: self.url.to_string(), id: snapshot.metadata().id().to_string() })
    }
}

/// The `txn` actions that set `source`'s last position to `position`.
pub fn position_txns(source: &str, position: &str) -> Result<Vec<Transaction>, TableError> {
    let width = POSITION_CHUNKS * CHUNK_DIGITS;
    if position.is_empty() || position.len() > width || !position.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(TableError::Position(position.to_string()));
    }
    let padded = format!("{position:0>width$}");
    let now = chrono::Utc::now().timestamp_millis();
    Ok((0..POSITION_CHUNKS)
        .map(|chunk| {
            let digits = &padded[chunk * CHUNK_DIGITS..(chunk + 1) * CHUNK_DIGITS];
            let version = digits.parse::<i64>().expect("18 decimal digits fit an i64");
            Transaction::new_with_last_update(format!("{source}#{chunk}"), version, Some(now))
        })
        .collect())
}

/// The newest `txn` of each application id at the newest [`KEPT_VERSIONS`] versions of each table
/// read in the process (writers of one table whose snapshots are a few versions apart find theirs).
static APP_TXNS: LazyLock<Mutex<HashMap<TableKey, KeptVersions>>> = LazyLock::new(Mutex::default);
/// What is kept of one table, by version.
type KeptVersions = BTreeMap<Version, Arc<AppTxns>>;
/// Versions of a table kept.
const KEPT_VERSIONS: usize = 4;

/// One table: where it is and its id (a table made again at the same place has another id).
#[derive(Clone, PartialEq, Eq, Hash)]
struct TableKey {
    url: String,
    id: String,
}

/// The newest `txn` of every application id at one version of a table.
pub(crate) struct AppTxns {
    pub(crate) version: Version,
    txns: HashMap<String, Txn>,
}

impl AppTxns {
    /// What the table holds after `commits`, the ones that follow this version in order (the
    /// newest `txn` of an application id wins, as in the kernel's replay).
    pub(crate) fn after(&self, commits: &[CommitTxns]) -> AppTxns {
        let mut txns = self.txns.clone();
        for commit in commits {
            txns.extend(commit.txns.iter().cloned());
        }
        AppTxns { version: self.version + commits.len() as Version, txns }
    }
}

/// An application id's newest `txn`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Txn {
    version: i64,
    last_updated: Option<i64>,
}

impl Txn {
    /// A `txn` action as its application id and what it sets.
    pub(crate) fn of(txn: &Transaction) -> (String, Txn) {
        (txn.app_id.clone(), Txn { version: txn.version, last_updated: txn.last_updated })
    }

    /// Whether it is older than the table's `delta.setTransactionRetentionDuration` allows (what
    /// the kernel's `SetTransaction::is_expired` says): then it counts as not there.
    fn expired(&self, expiration: Option<i64>) -> bool {
        matches!((expiration, self.last_updated), (Some(expiration), Some(last_updated)) if last_updated <= expiration)
    }
}

/// Time (ms) at or before which a `txn` has expired, if the table sets a retention for them.
fn expiration_timestamp(snapshot: &DeltaTableState) -> Option<i64> {
    let retention = snapshot.table_config().set_transaction_retention_duration?;
    let retention = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    Some(chrono::Utc::now().timestamp_millis().saturating_sub(retention))
}

/// The table's root as the kernel takes it: it joins paths to it, so it ends with a slash.
pub(crate) fn table_root(log_store: &dyn LogStore) -> url::Url {
    let mut root = log_store.root_url().clone();
    if !root.path().ends_with('/') {
        root.set_path(&format!("{}/", root.path()));
    }
    root
}

/// The newest `txn` of every application id at `version`, by the kernel's replay of the log segment
/// of that version (its checkpoint, then the commits after it), reading only `txn` actions.
async fn whole_log(log_store: &dyn LogStore, version: Version) -> Result<AppTxns, DeltaTableError> {
    let engine = log_store.engine(None);
    let root = table_root(log_store);
    // The kernel blocks on its reads: off the async runtime (as delta-rs does).
    let txns = tokio::task::spawn_blocking(move || {
        let snapshot = delta_kernel::Snapshot::builder_for(root).at_version(version).build(engine.as_ref())?;
        let mut visitor = TxnVisitor::default();
        // Newest first: commits from the last, then the checkpoint.
        for batch in snapshot.log_segment().read_actions(engine.as_ref(), LOG_TXN_SCHEMA.clone())? {
            visitor.visit_rows_of(batch?.actions.as_ref())?;
        }
        Ok::<_, delta_kernel::Error>(visitor.txns)
    })
    .await
    .map_err(|error| DeltaTableError::GenericError { source: error.into() })??;
    Ok(AppTxns { version, txns })
}

/// Commits after a kept version read to reach the version held; past that many, the log segment
/// (a checkpoint and the commits after it, at most a checkpoint interval) is read instead.
const MAX_LATER_COMMITS: Version = 100;
/// Commits read at once.
const COMMIT_READS: usize = 16;

/// `kept` brought forward to `version` by the `txn` actions of the commits after it; `None` when
/// they are too many, or one of them is not there (or not newline-separated JSON actions).
async fn later_commits(
    log_store: &dyn LogStore,
    kept: &AppTxns,
    version: Version,
) -> Result<Option<AppTxns>, DeltaTableError> {
    if version - kept.version > MAX_LATER_COMMITS {
        return Ok(None);
    }
    let commits = read_commits(log_store, kept.version + 1..=version).await?;
    Ok(commits.map(|commits| kept.after(&commits)))
}

/// The commits `versions` of the log, in order; `None` when one of them is not there (or not
/// newline-separated JSON actions).
pub(crate) async fn read_commits(
    log_store: &dyn LogStore,
    versions: RangeInclusive<Version>,
) -> Result<Option<Vec<CommitTxns>>, DeltaTableError> {
    let commits: Vec<Option<Bytes>> = futures::stream::iter(versions)
        .map(|commit| log_store.read_commit_entry(commit))
        .buffered(COMMIT_READS)
        .try_collect()
        .await?;
    Ok(commits.into_iter().map(|bytes| CommitTxns::of(&bytes?)).collect())
}

/// What one commit of the log says about positions and about the table itself.
pub(crate) struct CommitTxns {
    /// Its `txn` actions: application id and what it set.
    pub(crate) txns: Vec<(String, Txn)>,
    /// Whether it changes the table's metadata (schema, properties) or protocol.
    pub(crate) changes_table: bool,
}

/// Whether `commit`, written by another writer, conflicts with an append that sets `txns`: it
/// changed the table, or set a `txn` of the same application id.
pub(crate) fn conflicts(commit: &CommitTxns, txns: &[(String, Txn)]) -> bool {
    commit.changes_table || commit.txns.iter().any(|(id, _)| txns.iter().any(|(ours, _)| ours == id))
}

impl CommitTxns {
    /// The commit whose JSON lines are `bytes`; `None` if they are not the actions of a commit.
    pub(crate) fn of(bytes: &[u8]) -> Option<Self> {
        let mut commit = CommitTxns { txns: Vec::new(), changes_table: false };
        for action in serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>() {
            let action = action.ok()?;
            commit.changes_table |= action.get("metaData").is_some() || action.get("protocol").is_some();
            let Some(txn) = action.get("txn") else { continue };
            let app_id = txn.get("appId").and_then(|id| id.as_str())?;
            let version = txn.get("version").and_then(|version| version.as_i64())?;
            let last_updated = match txn.get("lastUpdated") {
                None | Some(serde_json::Value::Null) => None,
                Some(last_updated) => Some(last_updated.as_i64()?),
            };
            commit.txns.push((app_id.to_string(), Txn { version, last_updated }));
        }
        Some(commit)
    }
}

/// Collects the first `txn` of each application id in the batches it visits (newest first).
#[derive(Default)]
struct TxnVisitor {
    txns: HashMap<String, Txn>,
}

/// The leaves of a `txn` action the visitor reads.
static TXN_COLUMNS: LazyLock<(Vec<ColumnName>, Vec<KernelType>)> = LazyLock::new(|| {
    let names = ["appId", "version", "lastUpdated"].map(|leaf| ColumnName::new(["txn", leaf]));
    (names.to_vec(), vec![KernelType::STRING, KernelType::LONG, KernelType::LONG])
});

impl RowVisitor for TxnVisitor {
    fn selected_column_names_and_types(&self) -> (&'static [ColumnName], &'static [KernelType]) {
        (&TXN_COLUMNS.0, &TXN_COLUMNS.1)
    }

    fn visit<'a>(&mut self, row_count: usize, getters: &[&'a dyn GetData<'a>]) -> delta_kernel::DeltaResult<()> {
        for row in 0..row_count {
            // Rows of other actions have no `txn`.
            let Some(app_id) = getters[0].get_opt(row, "txn.appId")? else { continue };
            let app_id: String = app_id;
            if self.txns.contains_key(&app_id) {
                continue;
            }
            let version: i64 = getters[1].get(row, "txn.version")?;
            let last_updated: Option<i64> = getters[2].get_opt(row, "txn.lastUpdated")?;
            self.txns.insert(app_id, Txn { version, last_updated });
        }
        Ok(())
    }
}
