//! The errors of the local pipeline, one enum per concern: [`FeedError`] (reading the topics and
//! streams), [`DeliveryError`] (one step of an event-source loop, logged and retried) and
//! [`LocalError`] (starting, running and stopping the stack, the accounts, the report). Every
//! message names what was being done, and carries its cause.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{DisplayErrorContext, SdkError};
use pinpipe_batch::BatchError;
use pinpipe_contract::names::PrefixError;
use pinpipe_emulate::post::PostError;
use pinpipe_ingest::provision::ProvisionError;
use pinpipe_lake::StoreError;
use polars::prelude::PolarsError;
use rdkafka::error::KafkaError;
use stream_processor::ProcessError;

/// Why a feed ([`crate::feed::TopicFeed`], [`crate::feed::StreamFeed`]) could not read, commit,
/// checkpoint or tell its lag.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A call to the Kafka client failed.
    #[error("{what}: {source}")]
    Kafka {
        /// What was being done, e.g. `reading from Kafka`.
        what: String,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// A blocking Kafka client call panicked or was cancelled.
    #[error("a Kafka client call panicked: {0}")]
    KafkaTask(#[source] tokio::task::JoinError),
    /// A call to Kinesis failed.
    #[error("{what}: {}", DisplayErrorContext(.source))]
    Kinesis {
        /// What was being done, e.g. `reading <stream>/<shard>`.
        what: String,
        /// The SDK's error.
        source: Box<aws_sdk_kinesis::Error>,
    },
    /// A shard's checkpoint could not be read or stored in the lake.
    #[error("{action} the checkpoint {key}: {source}")]
    Checkpoint {
        /// `reading` or `storing`.
        action: &'static str,
        /// The checkpoint's key.
        key: String,
        /// The lake's error.
        source: StoreError,
    },
    /// A checkpoint names a shard the feed does not read.
    #[error("no shard {stream}/{shard} is read")]
    UnknownShard {
        /// The stream.
        stream: String,
        /// The shard.
        shard: String,
    },
    /// A commit or checkpoint of the embedded topics and streams could not be journaled.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

impl FeedError {
    /// A failed Kafka call, `what` naming what it did.
    pub(crate) fn kafka(what: impl Into<String>, source: KafkaError) -> Self {
        Self::Kafka { what: what.into(), source }
    }

    /// A failed Kinesis call, `what` naming what it did.
    pub(crate) fn kinesis<E>(what: impl Into<String>, source: SdkError<E, HttpResponse>) -> Self
    where
        aws_sdk_kinesis::Error: From<SdkError<E, HttpResponse>>,
    {
        Self::Kinesis { what: what.into(), source: Box::new(source.into()) }
    }
}

/// Why one step of an event-source loop failed: the loop logs it and retries with back-off.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Polling, committing, checkpointing or telling the lag failed.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The event Lambda would send could not be built from the batch.
    #[error("building the {event} event: {source}")]
    Event {
        /// `MSK` or `Kinesis`.
        event: &'static str,
        /// Why the records do not make one.
        source: serde_json::Error,
    },
    /// The landing handler (`kafka-to-s3`) failed: the lake did not take the batch.
    #[error(transparent)]
    Landing(#[from] StoreError),
    /// The stream handler (`stream-processor`) failed as a whole.
    #[error(transparent)]
    Processing(#[from] ProcessError),
    /// A given-up batch could not be kept in the failure destination (retried until it is).
    #[error("keeping a given-up batch: {0}")]
    Keep(StoreError),
    /// The stream handler reported records as failed (`batchItemFailures`).
    #[error("the handler reported records from {lowest} on as failed")]
    FailedRecords {
        /// The lowest failed sequence number, where the shard resumes.
        lowest: String,
    },
}

/// Why the local pipeline could not start, run, settle its accounts or stop.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The API was asked to listen on an address that is not loopback.
    #[error("the API only listens on loopback, not on {0}")]
    NotLoopback(SocketAddr),
    /// The naming prefix breaks the rules of topic and stream names.
    #[error("prefix {prefix:?}: {source}")]
    Prefix {
        /// The prefix.
        prefix: String,
        /// The rule it breaks.
        source: PrefixError,
    },
    /// The journal of the embedded topics and streams cannot be opened or replayed.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The lake folder could not be created.
    #[error("creating the lake folder {}: {source}", .path.display())]
    LakeFolder {
        /// The folder.
        path: PathBuf,
        /// The file system's error.
        source: std::io::Error,
    },
    /// The lake bucket could not be created on the local S3 endpoint.
    #[error(
        "cannot create the lake bucket {bucket} at {endpoint} (is moto running? `scripts/services.sh start`): {}",
        DisplayErrorContext(.source)
    )]
    CreateBucket {
        /// The bucket.
        bucket: String,
        /// The endpoint (`AWS_ENDPOINT_URL`).
        endpoint: String,
        /// The SDK's error.
        source: Box<aws_sdk_s3::Error>,
    },
    /// The topics or streams could not be created on the local servers.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// More shards per stream were asked for than Kinesis counts.
    #[error("too many shards: {0}")]
    TooManyShards(usize),
    /// A feed could not be opened.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The API could not listen.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// The socket's error.
        source: std::io::Error,
    },
    /// The address the API listens on could not be read.
    #[error("reading the address the API listens on: {0}")]
    ApiAddress(#[source] std::io::Error),
    /// The lake could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A Parquet object of the lake could not be read.
    #[error("{what}: {source}")]
    Polars {
        /// What was being read, naming the object.
        what: String,
        /// Polars' error.
        source: PolarsError,
    },
    /// A stream table could not be read.
    #[error(transparent)]
    Table(#[from] pinpipe_tables::TableError),
    /// A line of a `rejected/` object is not a rejected record.
    #[error("{key} holds a line that is no rejected record: {source}")]
    RejectedLine {
        /// The object's key.
        key: String,
        /// Why the line does not parse.
        source: serde_json::Error,
    },
    /// A raw object's key names a partition beyond what Kafka counts.
    #[error("a raw key's partition {0} is out of range")]
    PartitionOutOfRange(i64),
    /// The emulated posts could not be sent.
    #[error(transparent)]
    Post(#[from] PostError),
    /// A loop did not deliver everything stored in time.
    #[error(
        "the {name} loop has not caught up after {timeout:?} ({delivered} records delivered, {failed_invocations} \
         failed invocations; last error: {})",
        .last_error.as_deref().unwrap_or("none")
    )]
    NotCaughtUp {
        /// `landing` or `stream`.
        name: &'static str,
        /// How long it was given.
        timeout: Duration,
        /// Records it delivered so far.
        delivered: u64,
        /// Its failed invocations so far.
        failed_invocations: u64,
        /// Its last failure.
        last_error: Option<String>,
    },
    /// The scheduled event of a batch run could not be built.
    #[error("the batch run failed: building its scheduled event: {0}")]
    ScheduledEvent(#[source] serde_json::Error),
    /// The `batch-transform` handler failed.
    #[error("the batch run failed: {0}")]
    Batch(#[from] BatchError),
    /// The run's report could not be read back from the lake or made.
    #[error("the run's report: {0}")]
    Report(#[source] BatchError),
    /// The loops did not finish delivering before the shutdown's deadline.
    #[error("the pipeline did not finish delivering within {0:?}; what is left stays in the topics and streams")]
    Unfinished(Duration),
}
