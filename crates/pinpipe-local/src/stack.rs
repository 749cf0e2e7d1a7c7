//! The local pipeline, assembled: the ingestion API on loopback, the topics and streams (embedded or
//! on local servers), the lake (a folder or a bucket), and the two event-source loops feeding the
//! Lambda handlers. [`Stack::run_batch`] plays the daily schedule.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use batch_transform::RunSummary;
use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_ingest::{Ingest, KafkaConfig, KafkaProducer, KinesisWriter, Names, StreamWriter, TopicProducer};
use pinpipe_lake::{LocalStore, ObjectStore, S3Store};
use stream_processor::Processor;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::accounting::inventory;
use crate::delivery::{landing_loop, stream_loop, Batching, LoopStatus};
use crate::error::LocalError;
use crate::failure::FailureDestination;
use crate::feed::{StreamFeed, TopicFeed};
use crate::journal::{Journal, JournalError};
use crate::kafka_feed::KafkaFeed;
use crate::kinesis_feed::KinesisFeed;
use crate::memory::{MemoryStreams, MemoryTopics};
use pinpipe_events::{scheduled_event, EventOrigin};

/// Where the topics, streams and lake live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Services {
    /// In the process; the lake in a local folder.
    Embedded {
        /// The lake folder.
        lake: PathBuf,
    },
    /// On local protocol servers: a Kafka-protocol broker, and an S3 and Kinesis endpoint (moto)
    /// reached through the AWS SDK's environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials).
    Local {
        /// The broker's bootstrap list (`PINPIPE_KAFKA_BOOTSTRAP`).
        kafka_bootstrap: String,
        /// The lake bucket (`PINPIPE_LAKE_BUCKET`), created if missing.
        bucket: String,
    },
}

/// How to assemble the stack.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Where things live.
    pub services: Services,
    /// The naming prefix of topics and streams.
    pub prefix: String,
    /// Where the API listens (a loopback address; port 0 picks a free port).
    pub api_address: SocketAddr,
    /// Partitions per topic.
    pub partitions: i32,
    /// Shards per stream.
    pub shards: usize,
    /// How the event-source loops batch.
    pub batching: Batching,
}

impl StackOptions {
    /// Embedded services with the lake in `lake`: 3 partitions, 2 shards, any free port.
    pub fn embedded(prefix: impl Into<String>, lake: impl Into<PathBuf>) -> Self {
        Self {
            services: Services::Embedded { lake: lake.into() },
            prefix: prefix.into(),
            api_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            partitions: 3,
            shards: 2,
            batching: Batching::default(),
        }
    }
}

/// The running pipeline.
pub struct Stack {
    /// The API's base URL, e.g. `http://127.0.0.1:8080`.
    pub api_url: String,
    /// The lake.
    pub store: Arc<dyn ObjectStore>,
    /// The topic and stream names.
    pub names: Names,
    origin: EventOrigin,
    landing: watch::Receiver<LoopStatus>,
    streaming: watch::Receiver<LoopStatus>,
    stop_loops: watch::Sender<bool>,
    stop_api: Option<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// The two event-source loops, spawned.
struct Loops {
    landing: watch::Receiver<LoopStatus>,
    streaming: watch::Receiver<LoopStatus>,
    stop: watch::Sender<bool>,
    tasks: [JoinHandle<()>; 2],
}

impl Loops {
    /// Spawns the landing loop over `topics` and the stream loop over `streams`, delivering to the
    /// handlers over the lake in `store`.
    fn spawn(
        topics: Box<dyn TopicFeed>,
        streams: Box<dyn StreamFeed>,
        store: Arc<dyn ObjectStore>,
        names: &Names,
        origin: &EventOrigin,
        batching: &Batching,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let (landing_status, landing) = watch::channel(LoopStatus::default());
        let (stream_status, streaming) = watch::channel(LoopStatus::default());
        let processor = Processor::new(store.clone(), names.clone());
        let destination = |function| FailureDestination::new(store.clone(), origin.clone(), function, names.prefix());
        let (landing_destination, stream_destination) =
            (destination(kafka_to_s3::FUNCTION), destination(stream_processor::FUNCTION));
        let tasks = [
            tokio::spawn(landing_loop(
                topics,
                store,
                origin.clone(),
                landing_destination,
                batching.clone(),
                landing_status,
                stopped.clone(),
            )),
            tokio::spawn(stream_loop(
                streams,
                processor,
                origin.clone(),
                stream_destination,
                batching.clone(),
                stream_status,
                stopped,
            )),
        ];
        Self { landing, streaming, stop, tasks }
    }
}

/// What the adapters of one kind of services are.
struct Adapters {
    store: Arc<dyn ObjectStore>,
    producer: Arc<dyn TopicProducer>,
    writer: Arc<dyn StreamWriter>,
    topic_feed: Box<dyn TopicFeed>,
    stream_feed: Box<dyn StreamFeed>,
    bootstrap: String,
}

impl Stack {
    /// Creates what is missing (lake folder or bucket; topics and streams on local servers), starts
    /// the API and the event-source loops.
    pub async fn start(options: StackOptions) -> Result<Self, LocalError> {
        if !options.api_address.ip().is_loopback() {
            return Err(LocalError::NotLoopback(options.api_address));
        }
        pinpipe_contract::names::validate_prefix(&options.prefix)
            .map_err(|source| LocalError::Prefix { prefix: options.prefix.clone(), source })?;
        let names = Names::new(&options.prefix);
        let adapters = match &options.services {
            Services::Embedded { lake } => embedded(&names, lake, &options).await?,
            Services::Local { kafka_bootstrap, bucket } => local(&names, kafka_bootstrap, bucket, &options).await?,
        };
        let origin = EventOrigin::new(adapters.bootstrap.clone());

        let ingest = Ingest::new(names.clone(), Some(adapters.producer), Some(adapters.writer));
        let (api_url, stop_api, api) = start_api(options.api_address, ingest).await?;

        let loops = Loops::spawn(
            adapters.topic_feed,
            adapters.stream_feed,
            adapters.store.clone(),
            &names,
            &origin,
            &options.batching,
        );
        Ok(Self {
            api_url,
            store: adapters.store,
            names,
            origin,
            landing: loops.landing,
            streaming: loops.streaming,
            stop_loops: loops.stop,
            stop_api: Some(stop_api),
            tasks: [api].into_iter().chain(loops.tasks).collect(),
        })
    }

    /// The landing and the stream loop's status.
    pub fn status(&self) -> (LoopStatus, LoopStatus) {
        (self.landing.borrow().clone(), self.streaming.borrow().clone())
    }

    /// The landing and the stream loop's status as each step publishes it (for progress bars).
    pub fn status_updates(&self) -> (watch::Receiver<LoopStatus>, watch::Receiver<LoopStatus>) {
        (self.landing.clone(), self.streaming.clone())
    }

    /// Waits until both loops have delivered everything stored before this call, or `timeout` passes.
    pub async fn wait_until_delivered(&self, timeout: Duration) -> Result<(), LocalError> {
        let since = Instant::now();
        let deadline = since + timeout;
        for (name, status) in [("landing", &self.landing), ("stream", &self.streaming)] {
            let mut status = status.clone();
            let waited = tokio::time::timeout_at(
                deadline,
                status.wait_for(|status| status.caught_up_at.is_some_and(|at| at >= since) || status.finished),
            )
            .await
            .is_ok_and(|result| result.is_ok());
            if !waited {
                let last = status.borrow().clone();
                return Err(LocalError::NotCaughtUp {
                    name,
                    timeout,
                    delivered: last.records_delivered,
                    failed_invocations: last.failed_invocations,
                    last_error: last.last_error,
                });
            }
        }
        Ok(())
    }

    /// Runs the `batch-transform` handler on the scheduled event of `time`.
    pub async fn run_batch(&self, time: DateTime<Utc>) -> Result<RunSummary, LocalError> {
        let event = scheduled_event(&self.origin, time).map_err(LocalError::ScheduledEvent)?;
        Ok(batch_transform::handle(self.store.clone(), LambdaEvent::new(event, Context::default())).await?)
    }

    /// Stops taking requests, lets the loops deliver what is stored (for up to `timeout`), and stops.
    pub async fn shutdown(mut self, timeout: Duration) -> Result<(), LocalError> {
        if let Some(stop_api) = self.stop_api.take() {
            let _ = stop_api.send(());
        }
        let _ = self.stop_loops.send(true);
        let deadline = Instant::now() + timeout;
        let mut unfinished = false;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
                unfinished = true;
            }
        }
        if unfinished {
            return Err(LocalError::Unfinished(timeout));
        }
        Ok(())
    }
}

async fn embedded(names: &Names, lake: &PathBuf, options: &StackOptions) -> Result<Adapters, LocalError> {
    if let Err(source) = tokio::fs::create_dir_all(lake).await {
        return Err(LocalError::LakeFolder { path: lake.clone(), source });
    }
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(lake));
    let start_offsets = lake_end_offsets(store.as_ref(), names).await?;
    let folder = lake.clone();
    let (journal, replayed) =
        tokio::task::spawn_blocking(move || Journal::open(&folder)).await.map_err(|error| {
            LocalError::Journal(JournalError::Io { path: lake.clone(), source: std::io::Error::other(error) })
        })??;
    let journal = Arc::new(journal);
    let topics =
        MemoryTopics::journaled(names.topics(), options.partitions, &start_offsets, journal.clone(), &replayed);
    let streams = MemoryStreams::journaled(names.streams(), options.shards, journal, &replayed);
    Ok(Adapters {
        store,
        producer: Arc::new(topics.clone()),
        writer: Arc::new(streams.clone()),
        topic_feed: Box::new(topics.feed()),
        stream_feed: Box::new(streams.feed()),
        bootstrap: "embedded:9092".to_string(),
    })
}

/// Serves `ingest` on `address`: the API's URL, the sender that stops it, and its task.
async fn start_api(
    address: SocketAddr,
    ingest: Ingest,
) -> Result<(String, tokio::sync::oneshot::Sender<()>, JoinHandle<()>), LocalError> {
    let listener =
        tokio::net::TcpListener::bind(address).await.map_err(|source| LocalError::Listen { address, source })?;
    let api_url = format!("http://{}", listener.local_addr().map_err(LocalError::ApiAddress)?);
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let ingest = Arc::new(ingest);
    let api = tokio::spawn(async move {
        let shutdown = async move {
            let _ = api_stopped.await;
        };
        if let Err(error) = pinpipe_ingest::server::serve_until(listener, ingest, shutdown).await {
            tracing::error!(%error, "the API server stopped");
        }
    });
    Ok((api_url, stop_api, api))
}

/// The offset after the last record of each partition the lake already holds, so embedded topics
/// continue there instead of rewriting raw objects.
async fn lake_end_offsets(store: &dyn ObjectStore, names: &Names) -> Result<BTreeMap<(String, i32), i64>, LocalError> {
    let held = inventory(store, names).await?;
    let mut ends = BTreeMap::new();
    for position in held.topic_records.keys() {
        let partition =
            i32::try_from(position.partition).map_err(|_| LocalError::PartitionOutOfRange(position.partition))?;
        let end = ends.entry((position.topic.clone(), partition)).or_insert(0);
        *end = (*end).max(position.offset + 1);
    }
    Ok(ends)
}

async fn local(names: &Names, bootstrap: &str, bucket: &str, options: &StackOptions) -> Result<Adapters, LocalError> {
    let s3 = S3Store::client_from_env().await;
    if let Err(error) = s3.head_bucket().bucket(bucket).send().await {
        tracing::info!(bucket, reason = %aws_sdk_s3::error::DisplayErrorContext(&error), "creating the lake bucket");
        s3.create_bucket().bucket(bucket).send().await.map_err(|error| LocalError::CreateBucket {
            bucket: bucket.to_string(),
            endpoint: std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
            source: Box::new(error.into()),
        })?;
    }
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(s3, bucket));
    pinpipe_ingest::provision::create_topics(bootstrap, names.topics(), options.partitions).await?;
    let kinesis = KinesisWriter::from_env().await;
    let shards = i32::try_from(options.shards).map_err(|_| LocalError::TooManyShards(options.shards))?;
    pinpipe_ingest::provision::create_streams(kinesis.client(), names.streams(), shards).await?;
    let producer = KafkaProducer::new(KafkaConfig::plaintext(bootstrap), None);
    let group = format!("pinpipe-local-{}", names.prefix());
    let topic_feed = KafkaFeed::new(bootstrap, &group, names.topics())?;
    let stream_feed = KinesisFeed::new(kinesis.client().clone(), names.streams(), store.clone()).await?;
    Ok(Adapters {
        store,
        producer: Arc::new(producer),
        writer: Arc::new(kinesis),
        topic_feed: Box::new(topic_feed),
        stream_feed: Box::new(stream_feed),
        bootstrap: bootstrap.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinpipe_contract::names::PrefixError;

    #[tokio::test]
    async fn a_stack_refuses_an_address_off_loopback_and_a_bad_prefix() {
        let lake = tempfile::tempdir().unwrap();
        let mut options = StackOptions::embedded("refused", lake.path());
        options.api_address = SocketAddr::from(([0, 0, 0, 0], 0));
        let Err(error) = Stack::start(options).await else { panic!("started on 0.0.0.0") };
        assert!(matches!(error, LocalError::NotLoopback(_)), "{error}");
        assert_eq!(error.to_string(), "the API only listens on loopback, not on 0.0.0.0:0");

        let Err(error) = Stack::start(StackOptions::embedded("-refused", lake.path())).await else {
            panic!("started with a bad prefix")
        };
        assert!(matches!(error, LocalError::Prefix { source: PrefixError::Start, .. }), "{error}");
        assert_eq!(error.to_string(), "prefix \"-refused\": a prefix starts with a letter or digit");
    }
}
