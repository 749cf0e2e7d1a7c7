//! The event-source loops: what Lambda's event source mappings do, locally. Each loop polls its
//! feed, turns a batch into the event Lambda would send, calls the function's handler and only then
//! commits the batch; a failed invocation is retried with the same records (backing off), so nothing
//! is skipped and a redelivery rewrites the same objects.
//!
//! * [`landing_loop`]: Kafka topics → MSK events → `kafka-to-s3`;
//! * [`stream_loop`]: Kinesis shards → Kinesis events → `stream-processor`, honouring
//!   `batchItemFailures` (the shard resumes at the lowest failed sequence number).
//!
//! With [`Batching::max_retry_attempts`] set, a batch that still fails after that many retries is
//! given up as Lambda gives it up: kept whole by the [`FailureDestination`] (`aws/lambda/` in the
//! lake; that write is retried until it succeeds) and passed over. `pinpipe replay` sends it again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{Context, LambdaEvent};
use pinpipe_lake::ObjectStore;
use stream_processor::Processor;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{DeliveryError, FeedError};
use crate::failure::FailureDestination;
use crate::feed::{compare_sequence_numbers, Resume, StreamFeed, TopicFeed};
use pinpipe_events::{kafka_event, kinesis_event, EventOrigin, ShardRecord, TopicMessage};

/// How an event source mapping batches records and retries failed invocations.
#[derive(Clone, Debug)]
pub struct Batching {
    /// The most records in one event.
    pub max_records: usize,
    /// The most value bytes in one event (before base64; Lambda's payload limit is 6 MB).
    pub max_bytes: usize,
    /// How long one poll waits for a first record.
    pub wait: Duration,
    /// How long a poll gathers more records after the first (the batching window).
    pub window: Duration,
    /// The pause after the first failure of an invocation; doubled per failure, up to `max_pause`.
    pub first_pause: Duration,
    /// The longest pause between retries.
    pub max_pause: Duration,
    /// How many times each batch is delivered: 1, or more to show that a redelivered batch (as
    /// after a commit lost in a crash) changes nothing.
    pub deliveries: u32,
    /// Retries of a failing batch before it is given up and kept by the failure destination, as an
    /// event source mapping's `MaximumRetryAttempts`; `None`: retried until it succeeds.
    pub max_retry_attempts: Option<u32>,
}

impl Default for Batching {
    /// Lambda's largest batch (10,000 records), values up to 3 MB (6 MB once base64-encoded and
    /// wrapped), a 500 ms batching window.
    fn default() -> Self {
        Self {
            max_records: 10_000,
            max_bytes: 3 << 20,
            wait: Duration::from_millis(500),
            window: Duration::from_millis(500),
            first_pause: Duration::from_millis(200),
            max_pause: Duration::from_secs(5),
            deliveries: 1,
            max_retry_attempts: None,
        }
    }
}

/// What a loop has done so far, published after every step.
#[derive(Clone, Debug, Default)]
pub struct LoopStatus {
    /// Records delivered to the handler and committed.
    pub records_delivered: u64,
    /// Invocations of the handler.
    pub invocations: u64,
    /// Invocations that failed (and were retried).
    pub failed_invocations: u64,
    /// Batches given up and kept by the failure destination.
    pub batches_given_up: u64,
    /// When the loop last started a poll that found nothing left to deliver (lag 0).
    pub caught_up_at: Option<Instant>,
    /// The last failure, for the operator.
    pub last_error: Option<String>,
    /// Whether the loop has ended.
    pub finished: bool,
}

/// Tells the loops to stop once nothing is left to deliver.
pub type StopSignal = watch::Receiver<bool>;

impl Batching {
    /// Whether a batch that has failed `attempts` times is given up.
    fn gives_up(&self, attempts: u32) -> bool {
        self.max_retry_attempts.is_some_and(|retries| attempts > retries)
    }
}

/// Keeps the given-up batch `record` at `key` in `destination`, retrying until it is written.
async fn keep_given_up(
    destination: &FailureDestination,
    (key, record): (String, pinpipe_contract::failed::FailedInvocation),
    batching: &Batching,
    status: &watch::Sender<LoopStatus>,
) {
    let mut pause = batching.first_pause;
    while let Err(error) = destination.keep(&key, &record).await {
        failed(status, "keeping a given-up batch", &DeliveryError::Keep(error), false);
        pause = back_off(pause, batching).await;
    }
    tracing::warn!(key, "a batch was given up after its retries and kept for `pinpipe replay`");
    status.send_modify(|status| status.batches_given_up += 1);
}

/// Waits `pause`, then gives the next, longer pause.
async fn back_off(pause: Duration, batching: &Batching) -> Duration {
    tokio::time::sleep(pause).await;
    (pause * 2).min(batching.max_pause)
}

/// Logs a failure of `what` and records it in `status`.
fn failed(status: &watch::Sender<LoopStatus>, what: &str, error: &DeliveryError, invocation: bool) {
    tracing::warn!(error = %error, "{what} failed; retrying");
    status.send_modify(|status| {
        status.failed_invocations += u64::from(invocation);
        status.last_error = Some(error.to_string());
    });
}

/// After an empty poll started at `polled`: whether nothing is left, recorded in `status`.
async fn caught_up(lag: Result<u64, FeedError>, polled: Instant, status: &watch::Sender<LoopStatus>) -> bool {
    match lag {
        Ok(0) => {
            status.send_modify(|status| status.caught_up_at = Some(polled));
            true
        }
        Ok(_) => false,
        Err(error) => {
            failed(status, "telling the lag", &error.into(), false);
            false
        }
    }
}

/// Delivers the topics of `feed` to the `kafka-to-s3` handler over `store` until `stop` says so
/// and nothing is left.
pub async fn landing_loop(
    mut feed: Box<dyn TopicFeed>,
    store: Arc<dyn ObjectStore>,
    origin: EventOrigin,
    destination: FailureDestination,
    batching: Batching,
    status: watch::Sender<LoopStatus>,
    stop: StopSignal,
) {
    let mut pause = batching.first_pause;
    loop {
        let polled = Instant::now();
        let batch = match feed.poll(batching.max_records, batching.max_bytes, batching.wait, batching.window).await {
            Ok(batch) => batch,
            Err(error) => {
                failed(&status, "polling the topics", &error.into(), false);
                pause = back_off(pause, &batching).await;
                continue;
            }
        };
        if batch.is_empty() {
            if caught_up(feed.lag().await, polled, &status).await && *stop.borrow() {
                break;
            }
            continue;
        }
        let (delivered, reached) = deliver_to_landing(&store, &origin, &batch, &batching, pause, &status).await;
        pause = reached;
        if let Err((attempts, error)) = delivered {
            keep_given_up(&destination, destination.kafka(&batch, attempts, &error.to_string()), &batching, &status)
                .await;
        }
        while let Err(error) = feed.commit(&batch).await {
            failed(&status, "committing", &error.into(), false);
            pause = back_off(pause, &batching).await;
        }
        pause = batching.first_pause;
        status.send_modify(|status| status.records_delivered += batch.len() as u64);
    }
    status.send_modify(|status| status.finished = true);
}

/// Calls the `kafka-to-s3` handler with the MSK event of `batch` until it succeeded
/// `batching.deliveries` times (at least once), backing off after each failure from `pause` on, or
/// until the batch is given up (the attempts and the last error); gives the pause reached.
async fn deliver_to_landing(
    store: &Arc<dyn ObjectStore>,
    origin: &EventOrigin,
    batch: &[TopicMessage],
    batching: &Batching,
    mut pause: Duration,
    status: &watch::Sender<LoopStatus>,
) -> (Result<(), (u32, DeliveryError)>, Duration) {
    let mut delivered = 0;
    let mut attempts = 0;
    while delivered < batching.deliveries.max(1) {
        let invoked = match kafka_event(origin, batch) {
            Ok(event) => kafka_to_s3::handle(store.clone(), LambdaEvent::new(event, Context::default()))
                .await
                .map_err(DeliveryError::Landing),
            Err(source) => Err(DeliveryError::Event { event: "MSK", source }),
        };
        status.send_modify(|status| status.invocations += 1);
        match invoked {
            Ok(_) => delivered += 1,
            Err(error) => {
                failed(status, "landing a batch", &error, true);
                attempts += 1;
                if batching.gives_up(attempts) {
                    return (Err((attempts, error)), pause);
                }
                pause = back_off(pause, batching).await;
            }
        }
    }
    (Ok(()), pause)
}

/// Delivers the shards of `feed` to `processor` (the `stream-processor` handler) until `stop` says
/// so and nothing is left.
pub async fn stream_loop(
    mut feed: Box<dyn StreamFeed>,
    processor: Processor,
    origin: EventOrigin,
    destination: FailureDestination,
    batching: Batching,
    status: watch::Sender<LoopStatus>,
    stop: StopSignal,
) {
    let mut pause = batching.first_pause;
    // Failed attempts of each shard's current batch.
    let mut attempts: HashMap<(String, String), u32> = HashMap::new();
    loop {
        let polled = Instant::now();
        let batch = match feed.poll(batching.max_records, batching.wait).await {
            Ok(batch) => batch,
            Err(error) => {
                failed(&status, "polling the streams", &error.into(), false);
                pause = back_off(pause, &batching).await;
                continue;
            }
        };
        let Some(first) = batch.first() else {
            if caught_up(feed.lag().await, polled, &status).await && *stop.borrow() {
                break;
            }
            continue;
        };
        let invoked = deliver_to_processor(&processor, &origin, &batch, batching.deliveries, &status).await;
        let (mut resume, mut taken) = resume_after(invoked, &batch, &status);
        let shard_attempts = attempts.entry((first.stream.clone(), first.shard.clone())).or_insert(0);
        if let Resume::At(retry_from) = &resume {
            *shard_attempts += 1;
            if batching.gives_up(*shard_attempts) {
                let failing: Vec<ShardRecord> = batch
                    .iter()
                    .filter(|record| compare_sequence_numbers(&record.sequence_number, retry_from).is_ge())
                    .cloned()
                    .collect();
                let error = status.borrow().last_error.clone().unwrap_or_default();
                keep_given_up(&destination, destination.kinesis(&failing, *shard_attempts, &error), &batching, &status)
                    .await;
                resume = Resume::After(batch[batch.len() - 1].sequence_number.clone());
                taken = batch.len() - failing.len();
            }
        }
        let retrying = matches!(resume, Resume::At(_));
        if !retrying {
            *shard_attempts = 0;
        }
        while let Err(error) = feed.checkpoint(&first.stream, &first.shard, resume.clone()).await {
            failed(&status, "checkpointing", &error.into(), false);
            pause = back_off(pause, &batching).await;
        }
        status.send_modify(|status| status.records_delivered += taken as u64);
        if retrying {
            pause = back_off(pause, &batching).await;
        } else {
            pause = batching.first_pause;
        }
    }
    status.send_modify(|status| status.finished = true);
}

/// Calls the stream processor with the Kinesis event of `batch`, `deliveries` times (at least once) or
/// until a call fails or reports failed records; gives the sequence numbers of the last call's
/// `batchItemFailures`.
async fn deliver_to_processor(
    processor: &Processor,
    origin: &EventOrigin,
    batch: &[ShardRecord],
    deliveries: u32,
    status: &watch::Sender<LoopStatus>,
) -> Result<Vec<String>, DeliveryError> {
    let mut calls = 1;
    loop {
        let invoked = match kinesis_event(origin, batch) {
            Ok(event) => processor.process(event).await.map_err(DeliveryError::Processing).map(|(response, _)| {
                response.batch_item_failures.into_iter().filter_map(|failure| failure.item_identifier).collect()
            }),
            Err(source) => Err(DeliveryError::Event { event: "Kinesis", source }),
        };
        status.send_modify(|status| status.invocations += 1);
        if calls >= deliveries || invoked.as_ref().map_or(true, |failed: &Vec<String>| !failed.is_empty()) {
            return invoked;
        }
        calls += 1;
    }
}

/// Where the shard of `batch` (not empty) resumes after the processor reported `invoked` (the failed
/// sequence numbers), and how many of its records were taken: after the batch when all were stored,
/// else at the lowest failed sequence number (the whole batch when the call failed), as Lambda's event
/// source mapping resumes.
fn resume_after(
    invoked: Result<Vec<String>, DeliveryError>,
    batch: &[ShardRecord],
    status: &watch::Sender<LoopStatus>,
) -> (Resume, usize) {
    let (first, last) = (&batch[0], &batch[batch.len() - 1]);
    match invoked {
        Ok(failed_records) => {
            let lowest = failed_records.into_iter().min_by(|a, b| compare_sequence_numbers(a, b));
            match lowest {
                None => (Resume::After(last.sequence_number.clone()), batch.len()),
                Some(lowest) => {
                    let error = DeliveryError::FailedRecords { lowest: lowest.clone() };
                    failed(status, &format!("a batch of {}", first.shard), &error, true);
                    let taken = batch
                        .iter()
                        .filter(|record| compare_sequence_numbers(&record.sequence_number, &lowest).is_lt())
                        .count();
                    (Resume::At(lowest), taken)
                }
            }
        }
        Err(error) => {
            failed(status, &format!("a batch of {}", first.shard), &error, true);
            (Resume::At(first.sequence_number.clone()), 0)
        }
    }
}
