//! The broker goes down in the middle of a run: the API answers 503 for what Kafka did not
//! acknowledge, the emulator reports those failures, and once the broker is back every acknowledged
//! record lands, none twice. A broker of the test's own is stopped, so other tests are not disturbed.

mod common;

use std::time::{Duration, Instant};

use pinpipe_emulate::post::{post, Ack, ErrorCode, FailReason, Mode, PostOptions, PostSummary};
use pinpipe_ingest::testing::PrivateBroker;
use pinpipe_local::accounting::{inventory, settle};
use pinpipe_local::Stack;

use common::local_stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_a_broker_restart() {
    let mut broker = PrivateBroker::start();
    let stack = Stack::start(local_stack("e2e-broker-down", Some(&broker.bootstrap))).await.unwrap();
    let options = |seed, rows| PostOptions {
        seed,
        batch_size: 50,
        concurrency: 2,
        prefix: stack.names.prefix().to_string(),
        keep_acks: true,
        timeout: Duration::from_secs(60),
        ..PostOptions::new(stack.api_url.clone(), Mode::Batch, rows)
    };

    let before = post(&options(1, 200)).await.unwrap();
    assert_eq!((before.acknowledged, before.failed_total()), (600, 0), "{before}");

    broker.stop();
    let during = post(&options(2, 50)).await.unwrap();
    assert_eq!(during.acknowledged, 0, "{during}");
    assert_eq!(during.failed_total(), 150, "{during}");
    let unavailable = FailReason::Http { status: 503, code: Some(ErrorCode::Api(50302)) };
    assert!(during.failed.keys().all(|reason| *reason == unavailable), "{during}");

    broker.restart();
    // Clients retry a 503; the first posts after the restart may still fail while the producer reconnects.
    let mut after = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let attempt = post(&options(3, 100)).await.unwrap();
        let done = attempt.failed_total() == 0;
        eprintln!("after the restart: {attempt}");
        after.push(attempt);
        if done {
            break;
        }
        if let Some(status) = broker.exited() {
            panic!("the restarted broker exited ({status}); its log:\n{}", broker.log());
        }
        assert!(
            Instant::now() < deadline,
            "the API never recovered from the broker restart; broker log:\n{}",
            broker.log()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stack.wait_until_delivered(Duration::from_secs(120)).await.unwrap();

    let held = inventory(stack.store.as_ref(), &stack.names).await.unwrap();
    let summaries: Vec<&PostSummary> = [&before, &during].into_iter().chain(&after).collect();
    let acks: Vec<Ack> = summaries.iter().flat_map(|summary| summary.acks.clone()).collect();
    let sent = summaries.iter().map(|summary| summary.sent).sum();
    let accounts = settle(sent, &acks, &held, 0);
    let acknowledged: u64 = summaries.iter().map(|summary| summary.acknowledged).sum();
    assert!(acknowledged >= 900, "{accounts:?}");
    assert_eq!((accounts.acknowledged, accounts.lost, accounts.doubled), (acknowledged, 0, 0), "{accounts:?}");
    assert_eq!(accounts.landed_raw, acknowledged, "nothing unacknowledged landed: {accounts:?}");
    stack.shutdown(Duration::from_secs(30)).await.unwrap();
}
