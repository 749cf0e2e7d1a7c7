//! The report of a `pinpipe run`: the batch's report of the run date (`runs/<date>/report.html`,
//! made by `pinpipe_report`) made again from the lake with the run's accounts and phase timings, and
//! the query results read back from the lake.

use std::time::Duration;

use pinpipe_contract::layout;
use pinpipe_lake::ObjectStore;
use pinpipe_report::RunFacts;
use polars::prelude::DataFrame;

use crate::accounting::Accounts;
use crate::error::LocalError;

/// The report a run wrote.
#[derive(Debug, Clone)]
pub struct RunReportPage {
    /// The run date.
    pub run_date: String,
    /// Its key in the lake (`runs/<date>/report.html`).
    pub key: String,
    /// The page.
    pub html: String,
}

/// Reads the batch run of `run_date` back from the lake in `store` and rewrites its report with
/// `accounts` and `phases`; returns the query results (id, title, rows) and the report.
pub async fn write_run_report(
    store: &dyn ObjectStore,
    run_date: &str,
    accounts: &Accounts,
    phases: &[(String, Duration)],
) -> Result<(Vec<(String, String, DataFrame)>, RunReportPage), LocalError> {
    let run = pinpipe_batch::report::read_run(store, Some(run_date)).await.map_err(LocalError::Report)?;
    let facts = RunFacts { accounts: *accounts, phases: phases.to_vec() };
    let html = run.render(&store.location(), Some(&facts)).map_err(LocalError::Report)?;
    let key = layout::report_key(run_date);
    store.put(&key, html.clone().into()).await?;
    let results = run
        .results
        .into_iter()
        .map(|(query, frame)| {
            let title = pinpipe_report::query_text(query.id).map_or(query.id, |text| text.title);
            (query.id.to_string(), title.to_string(), frame)
        })
        .collect();
    Ok((results, RunReportPage { run_date: run_date.to_string(), key, html }))
}
