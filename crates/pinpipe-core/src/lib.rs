//! pinpipe's data contract in code (SPEC.md): pure, no AWS types.
//!
//! * [`table`]: the three source tables and their raw fields.
//! * [`decode`]: JSON lines as posted → typed raw frames, refusing bad lines with a reason.
//! * [`clean`]: the cleaning rules, once, as Polars expressions (batch and stream share them).
//! * [`queries`]: q1 … q9 over the cleaned tables.
//! * [`export`]: the byte-exact canonical CSV.
//! * [`quality`]: data-quality counts and the run manifest.
//! * [`batch`]: the batch transform over the lake or over local files.

pub mod batch;
pub mod clean;
pub mod decode;
pub mod export;
pub mod quality;
pub mod queries;
pub mod table;

pub use table::Table;
