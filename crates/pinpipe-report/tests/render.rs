//! The whole page from a run's parts: every section, every query, escaping of what the data holds,
//! the run's accounts, and a run with no rows at all.

use std::time::Duration;

use pinpipe_contract::accounts::Accounts;
use pinpipe_contract::{Origin, Payload, RejectKind, RejectedRecord, Stage, Table};
use pinpipe_core::queries::{Query, QUERIES};
use pinpipe_report::{render, Report, RunFacts, RunManifest};
use polars::prelude::*;

/// A small result for every query, with the columns of docs/SPEC.md §5.
fn results() -> Vec<(Query, DataFrame)> {
    let frames = [
        df!("country" => ["<Albania>", "Chad"], "category" => ["art", "diy"], "category_count" => [3i64, 1]),
        df!("post_year" => [2018i32, 2019], "category" => ["art", "art"], "category_count" => [2i64, 5]),
        df!("post_year" => [2018i32, 2019], "category" => ["art", "art"], "category_count" => [2i64, 5]),
        df!("country" => ["Chad"], "poster_name" => ["A & B"], "follower_count" => [26_000i32]),
        df!("country" => ["Chad"], "follower_count" => [26_000i32]),
        df!("age_group" => ["18-24"], "category" => ["art"], "category_count" => [4i64]),
        df!("age_group" => ["18-24", "+50"], "median_follower_count" => [Some(127_000i32), None]),
        df!("post_year" => [2015i32, 2016], "number_users_joined" => [349i64, 795]),
        df!("post_year" => [2015i32], "median_follower_count" => [5_000i32]),
        df!("age_group" => ["18-24"], "post_year" => [2015i32], "median_follower_count" => [5_000i32]),
        df!("age_group" => ["18-24"], "post_year" => [2018i32], "median_follower_count" => [5_000i32]),
    ];
    QUERIES.into_iter().zip(frames.map(Result::unwrap)).collect()
}

fn manifest() -> RunManifest {
    RunManifest::from_json(
        br#"{"run_date":"2026-12-01","inputs":[{"key":"topics/p.pin/partition=0/p.pin+0+0000000000.json","size":120,"version":"e"}],
            "skipped_inputs":[{"key":"topics/notes.txt","reason":"not a raw object key"}],
            "tables":{"pin":{"records_in":6,"rejected":{"not_json":2},"invalid_values":{"downloaded":1},"duplicates_dropped":1,
              "records_cleaned":3,"nulls":{"empty_text":{"title":1},"placeholder":{"poster_name":2},"unparseable_follower_count":1,
              "unparseable_datetime":{}}},
              "geo":{"records_in":0},"user":{"records_in":0}},
            "cleaned_rows_total":{"pin":3,"geo":0,"user":0},"results":{"q1":2},"timings_ms":{"total":1500,"read":3}}"#,
    )
    .unwrap()
}

fn refused(line: u64, text: &str) -> RejectedRecord {
    RejectedRecord {
        stage: Stage::BatchTransform,
        table: Some(Table::Pin),
        origin: Origin::Line { source: "topics/p.pin/partition=0/p.pin+0+0000000000.json".into(), line },
        kind: RejectKind::NotJson,
        reason: "the line is not valid JSON".into(),
        payload: Some(Payload::Text(text.into())),
    }
}

#[test]
fn a_report_shows_every_query_the_counts_and_the_run_escaping_what_the_data_holds() {
    let (manifest, results) = (manifest(), results());
    let rejected = [refused(4, "<script>alert(1)</script>"), refused(9, "{\"ind\": 1")];
    let run = RunFacts {
        accounts: Accounts { posted: 10, acknowledged: 10, landed_raw: 6, lost: 1, ..Accounts::default() },
        phases: vec![("posting".into(), Duration::from_millis(1_200)), ("batch".into(), Duration::from_millis(80))],
    };
    let report =
        Report { source: "s3://lake/", manifest: &manifest, results: &results, rejected: &rejected, run: Some(&run) };
    let html = render(&report).unwrap();

    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<title>pinpipe report · 2026-12-01</title>") && html.contains("<code>s3://lake/</code>"));
    for query in QUERIES {
        assert!(html.contains(&format!("<article class=\"query\" id=\"{}\">", query.id)), "{}", query.id);
        assert!(html.contains(&format!("<code>results/{} (run_date=2026-12-01)</code>", query.id)), "{}", query.id);
    }
    // Ten charts and the data-quality chart; q3b is a figure.
    assert_eq!(html.matches("<figure class=\"chart\"><svg ").count(), 11);
    assert!(html.contains("<span class=\"answer\">Chad</span>") && html.contains("26,000"));
    // The rule is one click away.
    assert_eq!(html.matches("<summary>How this is computed</summary>").count(), 11);
    // What the data holds is escaped, in the tables, the charts and the examples.
    assert!(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<Albania>") && html.contains("&lt;Albania&gt;"));
    assert!(html.contains("A &amp; B"));
    // A NULL is shown as such, and sorts by no value.
    assert!(html.contains("<td class=\"num null\">NULL</td>"), "a NULL median");
    assert!(html.contains("<td class=\"num\" data-v=\"127000\">127,000</td>"));

    // The data-quality counts of the manifest, with examples of each kind of refusal.
    assert!(html.contains("<code>not_json</code>") && html.contains("the record is not valid JSON"));
    assert!(html.contains("Examples of <code>not_json</code> in pin (2 of 2)"));
    assert!(html.contains("p.pin+0+0000000000.json, line 4: the line is not valid JSON"));
    assert!(html.contains("<code>downloaded</code>") && html.contains("placeholder → NULL (rule 3)"));
    assert!(html.contains("topics/notes.txt") && html.contains("not a raw object key"));
    assert!(html.contains("read 3 ms, total 1.5 s"), "timings in phase order");

    // The run: its accounts, a loss flagged, its phases.
    assert!(html.contains("<section id=\"run\">") && html.contains("1 acknowledged records lost, 0 doubled."));
    assert!(html.contains("<div class=\"card bad\"><div class=\"value\">1</div>"));
    assert!(html.contains("<td>posting</td><td class=\"num\">1.2 s</td>"));

    // Self-contained: no external script, style, image or font.
    for external in ["<script src", "<link", "<img", "@import", "url(http"] {
        assert!(!html.contains(external), "{external}");
    }
}

#[test]
fn a_run_with_no_rows_and_no_accounts_still_makes_a_page() {
    let manifest = RunManifest { run_date: "offline".into(), ..RunManifest::default() };
    let results: Vec<(Query, DataFrame)> =
        results().into_iter().map(|(query, frame)| (query, frame.clear())).filter(|(q, _)| q.id != "q9").collect();
    let report = Report { source: "in/", manifest: &manifest, results: &results, rejected: &[], run: None };
    let html = render(&report).unwrap();
    assert!(html.contains("offline (pinpipe transform)"));
    assert!(!html.contains("<section id=\"run\">"));
    assert_eq!(html.matches("No rows: nothing to draw.").count(), 10);
    assert!(html.contains("This run has no result for q9."));
    assert!(html.contains("No record was refused."));
}

#[test]
fn a_result_without_its_columns_is_an_error_naming_it() {
    let manifest = manifest();
    let mut results = results();
    results[6].1 = df!("age_group" => ["18-24"]).unwrap();
    let report = Report { source: "x", manifest: &manifest, results: &results, rejected: &[], run: None };
    let error = render(&report).unwrap_err();
    assert!(error.to_string().starts_with("result q5: column median_follower_count"), "{error}");
}
