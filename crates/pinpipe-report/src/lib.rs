//! pinpipe's run report: one self-contained HTML page per run, for a person to look at.
//!
//! [`render`] takes a run's 11 query results (docs/SPEC.md §5), its manifest (§6), some of its
//! refused records (§3) and, for `pinpipe run`, its accounts, and returns the page: every query as a
//! chart that fits it and its full (sortable) table, with its rule one click away; the data-quality
//! counts with examples of refused records; the run's accounts and timings. It is a pure function:
//! no I/O, no clock.
//!
//! The page needs no network: the charts are inline SVG drawn by plotters, the style and the small
//! script that sorts tables are inline too. The batch writes it as `runs/<date>/report.html`
//! (`pinpipe-batch`), `pinpipe transform` as `report.html`, `pinpipe report` and `pinpipe run`
//! wherever they are told.

mod charts;
mod error;
mod format;
mod frame;
mod html;
mod manifest;
mod texts;
mod visuals;

use std::collections::BTreeMap;
use std::time::Duration;

use pinpipe_contract::accounts::Accounts;
use pinpipe_contract::{RejectKind, RejectedRecord, Table};
use pinpipe_core::queries::Query;
use polars::prelude::DataFrame;

pub use error::ReportError;
pub use manifest::{InputObject, NullCounts, RunManifest, SkippedObject, TableCounts};
pub use texts::{query_text, reject_kind_meaning, QueryText, QUERY_TEXTS};

/// How many refused records of each table and kind the report shows as examples.
pub const EXAMPLES_PER_KIND: usize = 3;

/// What a `pinpipe run` adds to its report: the accounts and how long each phase took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFacts {
    /// The accounts.
    pub accounts: Accounts,
    /// Each phase (`posting`, `delivery`, `batch`, …) and its wall time, in order.
    pub phases: Vec<(String, Duration)>,
}

/// Everything a report shows.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// Where the run's outputs were read (a lake folder, `s3://bucket/`, an out folder).
    pub source: &'a str,
    /// The run's manifest.
    pub manifest: &'a RunManifest,
    /// The query results, in canonical order; a query missing here is shown as missing.
    pub results: &'a [(Query, DataFrame)],
    /// Refused records to show as examples (see [`examples`]); the counts are the manifest's.
    pub rejected: &'a [RejectedRecord],
    /// The accounts and phases of a `pinpipe run`.
    pub run: Option<&'a RunFacts>,
}

/// The report as one self-contained HTML page.
pub fn render(report: &Report<'_>) -> Result<String, ReportError> {
    html::page(report).map(|markup| markup.into_string())
}

/// Keeps the first [`EXAMPLES_PER_KIND`] refused records of each table and kind, in order.
pub fn examples(records: impl IntoIterator<Item = RejectedRecord>) -> Vec<RejectedRecord> {
    let mut seen: BTreeMap<(Option<Table>, RejectKind), usize> = BTreeMap::new();
    records
        .into_iter()
        .filter(|record| {
            let count = seen.entry((record.table, record.kind)).or_insert(0);
            *count += 1;
            *count <= EXAMPLES_PER_KIND
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinpipe_contract::{Origin, Payload, Stage};

    #[test]
    fn examples_keep_a_few_of_each_table_and_kind() {
        let record = |table, kind, line| RejectedRecord {
            stage: Stage::BatchTransform,
            table: Some(table),
            origin: Origin::Line { source: "s".into(), line },
            kind,
            reason: "r".into(),
            payload: Some(Payload::Text("x".into())),
        };
        let records = (1..=5)
            .map(|line| record(Table::Pin, RejectKind::NotJson, line))
            .chain([record(Table::Geo, RejectKind::NotJson, 9), record(Table::Pin, RejectKind::MissingKey, 10)]);
        let kept: Vec<u64> = examples(records)
            .into_iter()
            .map(|record| match record.origin {
                Origin::Line { line, .. } => line,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(kept, [1, 2, 3, 9, 10]);
    }
}
