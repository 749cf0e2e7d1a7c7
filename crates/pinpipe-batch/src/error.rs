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
    /// A Delta table of the lake could not be read or written.
    #[error(transparent)]
    Table(#[from] pinpipe_tables::TableError),
    /// Another batch run (of any date) committed to a table since this one started: this run
    /// wrote nothing more, the other run's data stands.
    #[error("another batch run committed to {table} since this run of {run_date} started; this run stopped")]
    ConcurrentRun {
        /// The run date.
        run_date: String,
        /// The table.
        table: String,
    },
    /// The retention of the stream tables' vacuum is not a whole number of hours.
    #[error("VACUUM_RETENTION_HOURS={0:?} is not a whole number of hours")]
    Retention(String),
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
    /// The lake holds no run (no `runs/<date>/manifest.json`).
    #[error("{0} holds no batch run (no runs/<date>/manifest.json)")]
    NoRun(String),
    /// The lake holds no run of the date asked for.
    #[error("{location} holds no batch run of {run_date} (no runs/{run_date}/manifest.json)")]
    NoRunOf {
        /// The lake.
        location: String,
        /// The run date asked for.
        run_date: String,
    },
    /// A refused record of a run is not a rejected line (docs/SPEC.md §3).
    #[error("a line of {key} is not a rejected record: {source}")]
    RejectedLine {
        /// The object's key.
        key: String,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// The batch function was asked something it does not do.
    #[error("the event is neither a scheduled event nor a stage of a run ({{\"stage\": \"plan\", \"time\"}}, {{\"stage\": \"decode_part\", \"run_date\", \"run_id\", \"part\"}}, {{\"stage\": \"clean\", \"run_date\", \"run_id\"}} or {{\"stage\": \"results\", \"run_date\", \"unload_prefix\"}}): {0}")]
    Request(serde_json::Error),
    /// A run's manifest is not what a run writes.
    #[error("the manifest {key} cannot be read: {source}")]
    Manifest {
        /// The manifest's key.
        key: String,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// The results stage of a run on Athena was given an unload prefix that is not the date's.
    #[error("{prefix:?} is not where a run of {run_date} unloads its results (athena-unload/{run_date}/<run id>/)")]
    UnloadPrefix {
        /// The prefix given.
        prefix: String,
        /// The run date.
        run_date: String,
    },
    /// The files Athena unloaded for a query are not its result (not Parquet, or other columns).
    #[error("the files under {prefix} are not the query's result: {source}")]
    Unloaded {
        /// Where the query's files are.
        prefix: String,
        /// What is wrong with them.
        source: PolarsError,
    },
    /// An object asked to be decoded as raw records is not a raw object of a table.
    #[error("{key} is not a raw object of a table: {reason}")]
    NotRaw {
        /// The object's key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The part size of a fanned-out clean is not a positive whole number of MB.
    #[error("CLEAN_PART_MB={0:?} is not a positive whole number of MB")]
    PartSize(String),
    /// A stage of a fanned-out clean was given a run id that is not one (a UUID the plan gives).
    #[error("{0:?} is not a run id (the UUID the plan stage gives)")]
    RunId(String),
    /// A fanned-out clean's staged plan or part is not what its steps write.
    #[error("the staged {key} cannot be read: {source}")]
    Staged {
        /// The object's key.
        key: String,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// A part that the run's plan does not have was asked to be decoded.
    #[error("the run {run_id} of {run_date} has {parts} parts; there is no part {part}")]
    NoPart {
        /// The run date.
        run_date: String,
        /// The run id.
        run_id: String,
        /// The part asked for.
        part: usize,
        /// The parts of the plan.
        parts: usize,
    },
    /// A task of the run panicked or was cancelled.
    #[error("a task of the batch run failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
