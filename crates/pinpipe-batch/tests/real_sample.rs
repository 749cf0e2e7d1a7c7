//! `batch::transform_dir` (what `pinpipe transform` runs) over the real sample, checked against the
//! reference values of docs/SPEC.md §5, and over a folder that lacks an input file.

use std::path::Path;

use pinpipe_batch::transform_dir;
use pinpipe_lake::testing::real_sample_dir;

/// Every file `transform_dir` writes (docs/SPEC.md §5 file names, plus the rejections, the manifest
/// and the report).
const OUTPUT_FILES: [&str; 17] = [
    "cleaned_pin.csv",
    "cleaned_geo.csv",
    "cleaned_user.csv",
    "q1_popular_category_by_country.csv",
    "q2a_posts_per_category_by_year.csv",
    "q2b_popular_category_by_year.csv",
    "q3a_top_user_by_country.csv",
    "q3b_top_country.csv",
    "q4_popular_category_by_age_group.csv",
    "q5_median_follower_by_age_group.csv",
    "q6_users_joined_by_year.csv",
    "q7_median_follower_by_join_year.csv",
    "q8_median_follower_by_join_year_age_group.csv",
    "q9_median_follower_by_post_year_age_group.csv",
    "manifest.json",
    "rejected.jsonl",
    "report.html",
];

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn real_sample_gives_the_spec_reference_values() {
    let input = real_sample_dir();
    assert!(input.join("pin.jsonl").is_file(), "the real sample is at {}", input.display());
    let out = tempfile::tempdir().unwrap();
    transform_dir(&input, out.path()).await.expect("transform of the real sample");

    for name in OUTPUT_FILES {
        assert!(out.path().join(name).is_file(), "{name} is written");
    }
    let mut written: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut expected: Vec<String> = OUTPUT_FILES.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(written, expected, "exactly the 14 CSVs, manifest.json, rejected.jsonl and report.html");

    assert_eq!(
        read(out.path(), "q5_median_follower_by_age_group.csv"),
        "age_group,median_follower_count\n18-24,127000\n25-35,24000\n36-50,7000\n+50,1000\n"
    );
    assert_eq!(read(out.path(), "q3b_top_country.csv"), "country,follower_count\nAnguilla,15000000\n");
    assert_eq!(
        read(out.path(), "q6_users_joined_by_year.csv"),
        "post_year,number_users_joined\n2015,349\n2016,795\n2017,345\n"
    );
    let q1 = read(out.path(), "q1_popular_category_by_country.csv");
    let mut q1_lines = q1.lines();
    assert_eq!(q1_lines.next(), Some("country,category,category_count"));
    assert_eq!(q1_lines.count(), 478, "q1 data rows (ties kept)");

    // The sample is clean: every line of the 2,178 triples is read, none refused.
    assert_eq!(read(out.path(), "rejected.jsonl"), "");
    let manifest: serde_json::Value = serde_json::from_str(&read(out.path(), "manifest.json")).unwrap();
    assert_eq!(manifest["run_date"], "offline");
    for table in ["pin", "geo", "user"] {
        assert_eq!(manifest["tables"][table]["records_in"], 2178, "{table}");
        assert_eq!(manifest["tables"][table]["rejected"], serde_json::json!({}), "{table}");
    }
    assert_eq!(manifest["results"]["q1"], 478);
    assert_eq!(manifest["results"]["q3b"], 1);
    // The report reads the manifest as the document of docs/SPEC.md §6: every field, none renamed.
    let read_back = pinpipe_report::RunManifest::from_json(read(out.path(), "manifest.json").as_bytes()).unwrap();
    assert_eq!(serde_json::to_value(&read_back).unwrap(), manifest);

    // The report shows every query (a chart, or q3b's figure, and its full table) and the counts.
    let report = read(out.path(), "report.html");
    for query in pinpipe_core::queries::QUERIES {
        assert!(report.contains(&format!("<article class=\"query\" id=\"{}\">", query.id)), "{}", query.id);
    }
    assert_eq!(report.matches("<figure class=\"chart\"><svg ").count(), 11, "10 query charts and the quality chart");
    assert!(report.contains("<span class=\"answer\">Anguilla</span>") && report.contains("15,000,000"));
    assert!(report.contains("478 rows") && report.contains("No record was refused."));
    assert!(!report.contains("<script src") && !report.contains("<link "), "nothing is loaded from elsewhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_input_file_is_an_error_naming_it() {
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("pin.jsonl"), "{\"index\": 1}\n").unwrap();
    std::fs::write(input.path().join("user.jsonl"), "{\"ind\": 1}\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let error = transform_dir(input.path(), &out.path().join("results")).await.expect_err("geo.jsonl is missing");
    let message = format!("{error:#}");
    assert!(message.contains("geo.jsonl"), "the error names the missing file: {message}");
    assert!(!out.path().join("results").exists(), "nothing is written when an input is missing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_input_folder_is_an_error_naming_it() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("no-such-folder");
    let error = transform_dir(&missing, &parent.path().join("out")).await.expect_err("the folder is missing");
    let message = format!("{error:#}");
    assert!(message.contains("no-such-folder"), "{message}");
}
