//! The lake's Delta tables (docs/SPEC.md §3), on a folder or on S3, written with delta-rs without
//! DataFusion: Polars writes each data file (Parquet, no Arrow conversion), delta-rs commits it.
//!
//! * **A commit carries where its data came from**: per source (a Kinesis shard, a replayed object)
//!   the last position it took, as `txn` actions. A writer reads that position from the snapshot it
//!   commits against and leaves out what is already taken; two writers of one source conflict in
//!   the log (optimistic concurrency, S3 conditional writes: no lock) and the loser starts over.
//! * **Positions wider than a `txn` version**: a Kinesis sequence number has up to 129 digits and a
//!   `txn` version is an `i64`, so a position is kept as [`POSITION_CHUNKS`] `txn` actions
//!   (`<source>#0` … `#7`), each holding 18 of its digits (zero-padded to 144), all set by the one
//!   commit that takes it.
//! * **Types**: Polars' naive datetimes are Delta `timestamp_ntz` (microseconds), dates `date`.

use std::collections::HashMap;
use std::sync::Once;

use url::Url;

mod append;
mod error;
mod maintain;
mod position;
mod table;

/// A data file written for a commit (its `add` action), as [`LakeTable::write_file`] gives it.
pub use deltalake::kernel::Add;
pub use error::TableError;
pub use maintain::Compaction;
pub use polars::prelude::ParquetCompression;
pub use position::{position_txns, POSITION_CHUNKS};
pub use table::{scan_parquet, LakeTable, Rows};

/// The URL of the table at `path` (e.g. `stream/pin`) under the lake root `root`.
pub fn table_url(root: &Url, path: &str) -> Url {
    let mut url = root.clone();
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    url.join(&format!("{}/", path.trim_end_matches('/'))).expect("a relative path joins a base URL")
}
/// How Polars reaches S3 to scan a table's files: the options delta-rs gets ([`storage_options`]),
/// the rest (region, credentials) from the environment as the AWS SDK reads it.
fn cloud_options() -> polars::prelude::PolarsResult<polars::prelude::cloud::CloudOptions> {
    let options = storage_options().into_iter().map(|(key, value)| (key.to_ascii_lowercase(), value));
    polars::prelude::cloud::CloudOptions::from_untyped_config(Some(polars::prelude::CloudScheme::S3), options)
}

/// How delta-rs reaches S3 here: the endpoint of the AWS SDK's environment (`AWS_ENDPOINT_URL_S3`,
/// else `AWS_ENDPOINT_URL`), over plain HTTP when that is `http://` (moto on loopback).
fn storage_options() -> HashMap<String, String> {
    static HANDLERS: Once = Once::new();
    HANDLERS.call_once(|| deltalake::aws::register_handlers(None));
    let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
    let mut options = HashMap::new();
    if let Some(endpoint) = endpoint {
        if endpoint.starts_with("http://") {
            options.insert("AWS_ALLOW_HTTP".to_string(), "true".to_string());
        }
        options.insert("AWS_ENDPOINT_URL".to_string(), endpoint);
    }
    options
}
