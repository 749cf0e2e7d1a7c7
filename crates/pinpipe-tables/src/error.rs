//! What can go wrong with a table.

use deltalake::DeltaTableError;
use polars::prelude::{DataType, PolarsError};
use url::Url;

/// Why a table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The log, or the table's storage through delta-rs.
    #[error("{url}: {source}")]
    Delta {
        /// The table.
        url: String,
        /// What delta-rs said.
        source: Box<DeltaTableError>,
    },
    /// Another writer committed a position of the same source (or, before an append, changed the
    /// table's metadata or protocol) first: read the table again.
    #[error("{url}: another writer took records of the same source, or changed the table, first")]
    Conflict {
        /// The table.
        url: String,
    },
    /// Rows asked of a table whose appends went past the snapshot held: [`crate::LakeTable::refresh`]
    /// first, or the rows would miss them.
    #[error("{url}: appended to since its snapshot was read; read the log again before reading its files")]
    Stale {
        /// The table.
        url: String,
    },
    /// Writing or reading a data file.
    #[error("{what}: {source}")]
    Polars {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: PolarsError,
    },
    /// Storing or reading a data file's bytes.
    #[error("{path}: {source}")]
    Store {
        /// The file.
        path: String,
        /// Why it failed.
        source: object_store::Error,
    },
    /// A column type no table column can have.
    #[error("column {column}: no Delta type for {dtype}")]
    Type {
        /// The column.
        column: String,
        /// Its Polars type.
        dtype: DataType,
    },
    /// A position that is not a decimal number of at most 144 digits.
    #[error("position {0:?} is not a decimal number of at most 144 digits")]
    Position(String),
}

pub(crate) fn delta_error(url: &Url, error: DeltaTableError) -> TableError {
    TableError::Delta { url: url.to_string(), source: Box::new(error) }
}
