//! The batch driver beside the pure data library: it feeds `pinpipe_core::transform` its raw inputs and
//! writes what it computes (docs/SPEC.md §3, §5, §6).
//!
//! * [`run_batch`]: one daily run over the lake, what the `batch-transform` Lambda runs.
//! * [`plan_clean`], [`decode_part`], [`clean_for_athena`], [`commit_unloaded`]: the same run's
//!   stages around its queries on Athena (template `QueryEngine=Athena`), its cleaning fanned out
//!   over the day's raw objects.
//! * [`transform_dir`]: one run over local files, what `pinpipe transform` runs.
//! * [`Manifest`]: the record of a run, written beside its results.
//! * [`maintain_tables`]: the daily upkeep of the tables (compaction of the stream tables, vacuum).
//! * [`report`]: the run's HTML report (`pinpipe_report`), written beside its results by both, and
//!   made again from a lake's results ([`report::read_run`]).

mod athena;
mod error;
mod fan_out;
mod files;
mod inputs;
mod lake;
mod manifest;
pub mod report;
mod tables;

pub use athena::{clean_for_athena, commit_unloaded, AthenaPlan, AthenaStatement};
pub use error::BatchError;
pub use fan_out::{decode_part, plan_clean, CleanParts, CleanPlan, PartDecoded, DEFAULT_PART_MB, PART_MB_VAR};
pub use files::{transform_dir, REPORT_FILE};
pub use lake::run_batch;
pub use manifest::{Manifest, SkippedInput};
pub use tables::{
    maintain_tables, read_run_date, StreamCompaction, Upkeep, UpkeepDone, BATCH_COMPRESSION, DEFAULT_RETENTION_HOURS,
    RETENTION_HOURS_VAR,
};
