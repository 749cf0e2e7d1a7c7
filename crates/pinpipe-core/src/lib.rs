//! pinpipe's data library: the rules of docs/SPEC.md as code, pure (Polars; no lake, no async runtime,
//! no AWS). The names, keys and schemas it works with are `pinpipe_contract`'s.
//!
//! * [`decode`]: JSON records as posted → typed raw frames, refusing bad records with a reason.
//! * [`clean`]: the cleaning rules, once, as Polars expressions (batch and stream share them).
//! * [`queries`]: q1 … q9 over the cleaned tables: the SQL files of `sql/`, run with Polars SQL.
//! * [`age_group`]: the age groups the queries group by, in their order.
//! * [`order`]: the canonical row order of every exported table.
//! * [`export`]: the byte-exact canonical CSV, and Parquet bytes.
//! * [`quality`]: data-quality counts.
//! * [`transform`]: the whole batch computation in memory (driven by `pinpipe-batch`).

pub mod age_group;
pub mod clean;
pub mod decode;
pub mod export;
pub mod order;
pub mod quality;
pub mod queries;
pub mod transform;
