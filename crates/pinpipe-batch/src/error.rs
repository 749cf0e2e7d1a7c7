//! What can stop a batch run.

use std::path::PathBuf;

use pinpipe_core::export::ExportError;
use pinpipe_lake::StoreError;
use polars::prelude::PolarsError;

/// Why a batch run failed; nothing it wrote before failing is half-written (each object is put whole),
/// and running the date again finishes it.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The lake could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A ledger of consumed raw objects is not what a run writes.
    #[error("the ledger {key} cannot be read: {source}")]
    Ledger {
        /// The ledger's key.
        key: String,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// A cleaned part of an earlier run cannot be read.
    #[error("the cleaned part {key} cannot be read: {source}")]
    CleanedPart {
        /// The part's key.
        key: String,
        /// What is wrong with it.
        source: PolarsError,
    },
    /// The input folder of `pinpipe transform` does not exist.
    #[error("input folder {} does not exist", .0.display())]
    NoInputFolder(PathBuf),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Decoding, cleaning or a query failed.
    #[error("transform: {0}")]
    Transform(#[from] PolarsError),
    /// The canonical CSVs could not be written.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The run's report could not be made.
    #[error("the report: {0}")]
    Report(#[from] pinpipe_report::ReportError),
    /// The lake holds no run (no `results/<date>/manifest.json`).
    #[error("{0} holds no batch run (no results/<date>/manifest.json)")]
    NoRun(String),
    /// The lake holds no run of the date asked for.
    #[error("{location} holds no batch run of {run_date} (no results/{run_date}/manifest.json)")]
    NoRunOf {
        /// The lake.
        location: String,
        /// The run date asked for.
        run_date: String,
    },
    /// A query result of a run cannot be read.
    #[error("the result {key} cannot be read: {source}")]
    ResultPart {
        /// The result's key.
        key: String,
        /// What is wrong with it.
        source: PolarsError,
    },
    /// A refused record of a run is not a rejected line (docs/SPEC.md §3).
    #[error("a line of {key} is not a rejected record: {source}")]
    RejectedLine {
        /// The object's key.
        key: String,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// A task of the run panicked or was cancelled.
    #[error("a task of the batch run failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
