//! `pinpipe report` and the report of `pinpipe run`, the real binary: a lake folder (the latest run,
//! or the date asked for), a lake with no run, and (feature `local-servers`) a lake bucket on moto's
//! S3; `pinpipe run` prints where its report is just before its JSON line.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use bytes::Bytes;
use pinpipe_contract::{layout, Table};
use pinpipe_lake::testing::real_sample_dir;
use pinpipe_lake::{LocalStore, ObjectStore};

fn pinpipe(arguments: &[&str], folder: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinpipe")).args(arguments).current_dir(folder).output().expect("running pinpipe")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Lands 300 records of each table of the real sample and runs the batch on two dates.
async fn two_runs(store: Arc<dyn ObjectStore>) {
    for table in Table::ALL {
        let sample = std::fs::read_to_string(real_sample_dir().join(format!("{table}.jsonl"))).unwrap();
        let body: String = sample.lines().take(300).flat_map(|line| [line, "\n"]).collect();
        store.put(&layout::raw_key(&format!("cli.{table}"), 0, 0), Bytes::from(body)).await.unwrap();
    }
    for date in ["2026-11-25", "2026-11-26"] {
        pinpipe_batch::run_batch(store.clone(), date.parse().unwrap()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_writes_the_latest_run_of_a_lake_folder_or_the_date_asked_for() {
    let folder = tempfile::tempdir().unwrap();
    let lake = folder.path().join("lake");
    std::fs::create_dir(&lake).unwrap();
    let empty = pinpipe(&["report", "--lake", "lake"], folder.path());
    assert!(!empty.status.success());
    assert!(text(&empty.stderr).contains("holds no batch run"), "{}", text(&empty.stderr));

    two_runs(Arc::new(LocalStore::new(&lake))).await;
    let latest = pinpipe(&["report", "--lake", "lake"], folder.path());
    assert!(latest.status.success(), "{}", text(&latest.stderr));
    assert!(text(&latest.stdout).ends_with(": pinpipe-report-2026-11-26.html\n"), "{}", text(&latest.stdout));
    let page = std::fs::read_to_string(folder.path().join("pinpipe-report-2026-11-26.html")).unwrap();
    assert!(page.contains("<title>pinpipe report · 2026-11-26</title>") && page.contains("id=\"q9\""));

    let earlier = pinpipe(&["report", "--lake", "lake", "--date", "2026-11-25", "--out", "first.html"], folder.path());
    assert!(earlier.status.success(), "{}", text(&earlier.stderr));
    let page = std::fs::read_to_string(folder.path().join("first.html")).unwrap();
    assert!(page.contains("<title>pinpipe report · 2026-11-25</title>"));
    assert!(
        page.contains("<div class=\"value\">900</div><div class=\"label\">records read</div>"),
        "the first run read 900 records"
    );

    let missing = pinpipe(&["report", "--lake", "lake", "--date", "2026-01-01"], folder.path());
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no batch run of 2026-01-01"), "{}", text(&missing.stderr));
    let bad = pinpipe(&["report", "--lake", "lake", "--bucket", "b"], folder.path());
    assert!(!bad.status.success() && text(&bad.stderr).contains("cannot be used with"), "{}", text(&bad.stderr));
}

#[cfg(feature = "local-servers")]
#[tokio::test(flavor = "multi_thread")]
async fn report_reads_a_lake_bucket() {
    let store = pinpipe_lake::testing::fresh_s3_store("cli-report").await;
    let bucket = store.location().trim_start_matches("s3://").trim_end_matches('/').to_string();
    two_runs(Arc::new(store)).await;
    let folder = tempfile::tempdir().unwrap();
    // The child reaches moto through the environment `fresh_s3_store` completed (AWS_ENDPOINT_URL …).
    let output =
        pinpipe(&["report", "--bucket", &bucket, "--date", "2026-11-25", "--out", "bucket.html"], folder.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!("report of the run of 2026-11-25 in s3://{bucket}/: bucket.html\n"),
        "where the report is"
    );
    let page = std::fs::read_to_string(folder.path().join("bucket.html")).unwrap();
    assert!(page.contains(&format!("<code>s3://{bucket}/</code>")) && page.contains("id=\"q3b\""));
}

#[test]
fn run_prints_the_path_of_its_report_just_before_the_accounts() {
    let folder = tempfile::tempdir().unwrap();
    let output = pinpipe(&["run", "--rows", "200", "--lake", "lake"], folder.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let accounts: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).expect("the last line is JSON");
    assert_eq!(accounts["lost"], 0);
    let report = lines[lines.len() - 2].strip_prefix("report: ").expect("the report's path before the JSON line");
    let page = std::fs::read_to_string(folder.path().join(report)).unwrap();
    assert!(report.starts_with("lake/runs/") && report.ends_with("/report.html"), "{report}");
    assert!(
        page.contains("<section id=\"run\">") && page.contains("<td>acknowledged</td><td class=\"num\">1,200</td>")
    );
    assert!(!stdout.contains("shape:"), "no Polars text tables: {stdout}");
}
