//! What can stop a report from being made.

use polars::prelude::PolarsError;

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The manifest is not the JSON document of docs/SPEC.md §6.
    #[error("the manifest is not a run manifest (docs/SPEC.md §6): {0}")]
    Manifest(#[source] serde_json::Error),
    /// A query result lacks a column its chart needs, or the column has an unexpected type.
    #[error("result {query}: column {column}: {source}")]
    Column {
        /// The query id (`q1`, …).
        query: String,
        /// The column.
        column: String,
        /// What Polars said.
        source: PolarsError,
    },
    /// A chart could not be drawn.
    #[error("drawing the chart of {what}: {message}")]
    Chart {
        /// Which chart.
        what: String,
        /// What the drawing library said.
        message: String,
    },
}
