//! The embedded pipeline (`pinpipe run` with no servers): the whole path in one process, and a
//! restarted stack continuing the lake it left.

use std::time::Duration;

use pinpipe_contract::layout;
use pinpipe_emulate::post::{post, Mode, PostOptions};
use pinpipe_local::{run, RunOptions, Stack, StackOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_run_lands_streams_and_cleans_every_record_once() {
    let lake = tempfile::tempdir().unwrap();
    let report = run(RunOptions::new(StackOptions::embedded("embedded", lake.path()), 400)).await.unwrap();
    let accounts = &report.accounts;
    assert_eq!((accounts.posted, accounts.acknowledged), (2_400, 2_400), "{accounts:?}");
    assert_eq!((accounts.landed_raw, accounts.streamed), (1_200, 1_200), "{accounts:?}");
    assert_eq!((accounts.rejected, accounts.lost, accounts.doubled), (0, 0, 0), "{accounts:?}");
    let batch = report.batch.as_ref().unwrap();
    assert_eq!(accounts.cleaned, batch.tables.values().map(|table| table.records_cleaned).sum::<u64>());
    assert!(accounts.cleaned > 0 && accounts.cleaned <= 1_200);
    assert_eq!(report.results.len(), 11);

    // The run date's report in the lake is the run's: the batch's results and counts, and the accounts.
    let page = report.report.as_ref().expect("the batch ran, so there is a report");
    assert_eq!(page.key, layout::report_key(&batch.run_date));
    let stored = std::fs::read_to_string(lake.path().join(&page.key)).unwrap();
    assert_eq!(stored, page.html);
    assert!(
        stored.contains("<section id=\"run\">")
            && stored.contains("Every acknowledged record is in the lake exactly once.")
    );
    assert!(stored.contains("<td>acknowledged</td><td class=\"num\">2,400</td>"), "the accounts are shown");
    let phases: Vec<&str> = report.phases.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(phases, ["posting", "delivery", "batch", "accounts"]);
    for phase in phases {
        assert!(stored.contains(&format!("<td>{phase}</td>")), "{phase}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_stack_continues_the_offsets_its_lake_holds() {
    let lake = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for seed in [1, 2] {
        let stack = Stack::start(StackOptions::embedded("restart", lake.path())).await.unwrap();
        let options = PostOptions {
            seed,
            batch_size: 20,
            prefix: "restart".into(),
            ..PostOptions::new(stack.api_url.clone(), Mode::Batch, 60)
        };
        assert_eq!(post(&options).await.unwrap().acknowledged, 180);
        stack.wait_until_delivered(Duration::from_secs(60)).await.unwrap();
        stack.shutdown(Duration::from_secs(10)).await.unwrap();
        keys = stack_keys(lake.path()).await;
    }
    // Two runs of 60 records per topic over 3 partitions: the second run's objects start where the
    // first run's end, so none was overwritten and all 360 records are there.
    let store = pinpipe_lake::LocalStore::new(lake.path());
    let held = pinpipe_local::accounting::inventory(&store, &pinpipe_contract::Names::new("restart")).await.unwrap();
    assert_eq!(held.landed_raw, 360, "{keys:?}");
    assert!(held.topic_records.values().all(|&count| count == 1));
    let first_offsets: Vec<i64> =
        keys.iter().filter_map(|key| layout::parse_raw_key(key)).map(|raw| raw.first_offset).collect();
    assert!(first_offsets.iter().any(|&offset| offset > 0), "{keys:?}");
}

async fn stack_keys(lake: &std::path::Path) -> Vec<String> {
    use pinpipe_lake::ObjectStore;
    let store = pinpipe_lake::LocalStore::new(lake);
    store.list(layout::RAW_PREFIX).await.unwrap().into_iter().map(|object| object.key).collect()
}
