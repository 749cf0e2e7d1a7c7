//! The run report (`pinpipe_report`) beside a run's results: written by every batch run as
//! `runs/<date>/report.html` and by `pinpipe transform` as `report.html`, and made again from what
//! a lake holds (`pinpipe report`, `pinpipe run`).

use pinpipe_contract::{layout, RejectedRecord, Table};
use pinpipe_core::queries::{Query, QUERIES};
use pinpipe_lake::{ObjectStore, StoreError};
use pinpipe_report::{Report, RunFacts, RunManifest};
use polars::prelude::DataFrame;

use crate::error::BatchError;
use crate::tables::read_run_date;

/// The report of a run just computed: `manifest` is the manifest's JSON as written, `rejected` every
/// record the run refused (a few of each kind are shown).
pub(crate) fn render_run(
    source: &str,
    manifest: &[u8],
    results: &[(Query, DataFrame)],
    rejected: &[RejectedRecord],
) -> Result<String, BatchError> {
    let manifest = RunManifest::from_json(manifest)?;
    let rejected = pinpipe_report::examples(rejected.iter().cloned());
    let report = Report { source, manifest: &manifest, results, rejected: &rejected, run: None };
    Ok(pinpipe_report::render(&report)?)
}

/// What the lake holds of one batch run: its manifest, its results and some of its refused records.
#[derive(Debug)]
pub struct LakeRun {
    /// The run date.
    pub run_date: String,
    /// The run's manifest (`runs/<date>/manifest.json`).
    pub manifest: RunManifest,
    /// Every query's result (the date's partition of `results/<query>`), in docs/SPEC.md order.
    pub results: Vec<(Query, DataFrame)>,
    /// The first few refused records of each table and kind (`rejected/batch-transform/<date>/`).
    pub rejected: Vec<RejectedRecord>,
}

impl LakeRun {
    /// The run's report; `run` adds the accounts and phases of a `pinpipe run`.
    pub fn render(&self, source: &str, run: Option<&RunFacts>) -> Result<String, BatchError> {
        let report = Report { source, manifest: &self.manifest, results: &self.results, rejected: &self.rejected, run };
        Ok(pinpipe_report::render(&report)?)
    }
}

/// The run dates the lake holds a manifest of, oldest first.
pub async fn run_dates(store: &dyn ObjectStore) -> Result<Vec<String>, BatchError> {
    let mut dates: Vec<String> = store
        .list(layout::RUNS_PREFIX)
        .await?
        .iter()
        .filter_map(|object| layout::run_date_of_manifest(&object.key).map(str::to_string))
        .collect();
    dates.sort();
    Ok(dates)
}

/// Reads the run of `run_date` from the lake, or of its latest run date when `None`.
pub async fn read_run(store: &dyn ObjectStore, run_date: Option<&str>) -> Result<LakeRun, BatchError> {
    let run_date = match run_date {
        Some(date) => date.to_string(),
        None => run_dates(store).await?.pop().ok_or_else(|| BatchError::NoRun(store.location()))?,
    };
    let manifest = RunManifest::from_json(&manifest_bytes(store, &run_date).await?)?;
    let mut results = Vec::new();
    for query in QUERIES {
        match read_run_date(store, &layout::result_table(query.id), &run_date).await? {
            Some(frame) => results.push((query, frame)),
            None => return Err(BatchError::NoRunOf { location: store.location(), run_date }),
        }
    }
    let rejected = read_rejected_examples(store, &run_date).await?;
    Ok(LakeRun { run_date, manifest, results, rejected })
}

/// The manifest of the run of `run_date` as stored; [`BatchError::NoRunOf`] when there is none.
pub(crate) async fn manifest_bytes(store: &dyn ObjectStore, run_date: &str) -> Result<bytes::Bytes, BatchError> {
    match store.get(&layout::manifest_key(run_date)).await {
        Ok(bytes) => Ok(bytes),
        Err(StoreError::NotFound(_)) => {
            Err(BatchError::NoRunOf { location: store.location(), run_date: run_date.to_string() })
        }
        Err(error) => Err(error.into()),
    }
}

/// The first few refused records of each table and kind of the run of `run_date`
/// (`rejected/batch-transform/<date>/`).
pub(crate) async fn read_rejected_examples(
    store: &dyn ObjectStore,
    run_date: &str,
) -> Result<Vec<RejectedRecord>, BatchError> {
    let mut rejected = Vec::new();
    for table in Table::ALL {
        let key = layout::batch_rejected_key(run_date, table);
        let body = match store.get(&key).await {
            Ok(body) => body,
            Err(StoreError::NotFound(_)) => continue,
            Err(error) => return Err(error.into()),
        };
        let records = RejectedRecord::parse_lines(&body)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| BatchError::RejectedLine { key: key.clone(), source })?;
        rejected.extend(pinpipe_report::examples(records));
    }
    Ok(rejected)
}
