//! The query results of a run, read back from the lake (`results/<date>/<query>.parquet`) and
//! printed as tables.

use std::io::Cursor;

use pinpipe_contract::layout;
use pinpipe_core::queries::QUERIES;
use pinpipe_lake::ObjectStore;
use polars::prelude::{DataFrame, ParquetReader, SerReader};

use crate::error::LocalError;

/// What each query answers, for the tables' titles (docs/SPEC.md §5).
const QUESTIONS: [&str; 11] = [
    "most popular category per country",
    "posts per category per post year, 2018-2022",
    "most popular category per post year",
    "user(s) with most followers per country",
    "country with the most-followed user",
    "most popular category per age group",
    "median follower count per age group",
    "users joined per year, 2015-2020",
    "median follower count by join year",
    "median follower count by age group and join year",
    "median follower count by age group and post year",
];

/// The results of the run of `run_date`: per query, its id, question and rows.
pub async fn results(store: &dyn ObjectStore, run_date: &str) -> Result<Vec<(String, String, DataFrame)>, LocalError> {
    let mut out = Vec::new();
    for (query, question) in QUERIES.iter().zip(QUESTIONS) {
        let key = layout::result_key(run_date, query.id);
        let bytes = store.get(&key).await?;
        let frame = ParquetReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|source| LocalError::Polars { what: format!("reading {key}"), source })?;
        out.push((query.id.to_string(), question.to_string(), frame));
    }
    Ok(out)
}

/// The tables as text: a title per query, then its rows (long tables shortened by Polars).
pub fn render(results: &[(String, String, DataFrame)]) -> String {
    results
        .iter()
        .map(|(id, question, frame)| format!("{id}: {question} ({} rows)\n{frame}\n", frame.height()))
        .collect::<Vec<_>>()
        .join("\n")
}
