//! S3 goes down in the middle of a run: the landing and stream loops give up their failing batches
//! after one retry, as Lambda's triggers do with `MaximumRetryAttempts` 1, and keep them under
//! `aws/lambda/` once S3 is back; until they are replayed their records are missing. `pinpipe replay`
//! then lands every acknowledged record exactly once, however often it runs.
//!
//! Only S3 is cut (a proxy the lake's client reaches through `AWS_ENDPOINT_URL_S3`); the broker and
//! Kinesis stay up, so the API acknowledges throughout. This test has its own binary: it sets the
//! process environment.

mod common;

use std::time::{Duration, Instant};

use pinpipe_contract::layout;
use pinpipe_emulate::post::{post, Ack, Mode, PostOptions, PostSummary};
use pinpipe_local::accounting::{inventory, settle, Accounts};
use pinpipe_local::delivery::LoopStatus;
use pinpipe_local::replay::{replay, ReplayOptions};
use pinpipe_local::Stack;

use common::{local_stack, CuttableProxy};

/// The accounts of everything posted so far against what the lake holds now.
async fn accounts(stack: &Stack, posted: &[PostSummary]) -> Accounts {
    let acks: Vec<Ack> = posted.iter().flat_map(|summary| summary.acks.clone()).collect();
    let held = inventory(stack.store.as_ref(), &stack.names).await.unwrap();
    settle(posted.iter().map(|summary| summary.sent).sum(), &acks, &held, 0)
}

/// Whether `status` shows a loop keeping a batch it gave up on (which waits for S3).
fn keeping(status: &LoopStatus) -> bool {
    status.last_error.as_deref().is_some_and(|error| error.starts_with("keeping a given-up batch"))
        || status.batches_given_up > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_s3_outage_mid_run_loses_nothing_once_the_kept_batches_are_replayed() {
    let mut options = local_stack("e2e-s3-outage", None);
    let moto = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let proxy = CuttableProxy::start(moto.trim_start_matches("http://").trim_end_matches('/').to_string()).await;
    // SAFETY: the only test of this binary; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL_S3", &proxy.url) };
    options.batching.max_retry_attempts = Some(1);
    options.batching.max_pause = Duration::from_secs(1);
    let stack = Stack::start(options).await.unwrap();
    let round = |seed, mode| PostOptions {
        seed,
        batch_size: 50,
        concurrency: 2,
        prefix: stack.names.prefix().to_string(),
        keep_acks: true,
        ..PostOptions::new(stack.api_url.clone(), mode, 100)
    };
    let mut posted = Vec::new();
    for mode in [Mode::Batch, Mode::Stream] {
        posted.push(post(&round(1, mode)).await.unwrap());
    }
    stack.wait_until_delivered(Duration::from_secs(120)).await.unwrap();
    assert_eq!((accounts(&stack, &posted).await.lost, accounts(&stack, &posted).await.doubled), (0, 0));

    proxy.set_cut(true);
    for mode in [Mode::Batch, Mode::Stream] {
        let during = post(&round(2, mode)).await.unwrap();
        assert_eq!(during.failed_total(), 0, "the API does not need S3: {during}");
        posted.push(during);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(keeping(&stack.status().0) && keeping(&stack.status().1)) {
        assert!(Instant::now() < deadline, "the loops never gave a batch up: {:?}", stack.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    proxy.set_cut(false);
    for mode in [Mode::Batch, Mode::Stream] {
        posted.push(post(&round(3, mode)).await.unwrap());
    }
    stack.wait_until_delivered(Duration::from_secs(120)).await.unwrap();

    let (landing, streaming) = stack.status();
    assert!(landing.batches_given_up > 0 && streaming.batches_given_up > 0, "{landing:?} {streaming:?}");
    let kept = stack.store.list(layout::FAILED_PREFIX).await.unwrap().len() as u64;
    assert_eq!(kept, landing.batches_given_up + streaming.batches_given_up);
    let before = accounts(&stack, &posted).await;
    assert!(before.lost > 0, "the outage kept batches aside, so records are missing: {before:?}");
    assert_eq!(before.doubled, 0, "{before:?}");

    let keep = ReplayOptions { keep: true, ..ReplayOptions::default() };
    for options in [keep, keep, ReplayOptions::default()] {
        let summary = replay(stack.store.clone(), &stack.names, options).await.unwrap();
        assert_eq!(summary.failed_invocations as u64, kept, "{summary:?}");
        assert!(summary.still_failing.is_empty(), "{summary:?}");
        let after = accounts(&stack, &posted).await;
        assert_eq!((after.acknowledged, after.lost, after.doubled), (1_800, 0, 0), "{after:?}");
    }
    assert!(stack.store.list(layout::FAILED_PREFIX).await.unwrap().is_empty());
    stack.shutdown(Duration::from_secs(30)).await.unwrap();
}
