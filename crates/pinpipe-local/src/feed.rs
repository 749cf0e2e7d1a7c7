//! What the event-source loops read: Kafka records of the three topics, and Kinesis records of one
//! shard at a time. [`crate::memory`] (embedded), [`crate::kafka_feed`] and [`crate::kinesis_feed`]
//! (local servers) implement these.

use std::time::Duration;

use async_trait::async_trait;
pub use pinpipe_events::{ShardRecord, TopicMessage};

use crate::error::FeedError;

/// The records of a set of topics, read as one consumer group: a batch is handed over until it is
/// committed, and what is not committed is read again (after a restart too, where the feed keeps
/// its commits durable).
#[async_trait]
pub trait TopicFeed: Send {
    /// The next uncommitted records, at most `max_records` of at most `max_bytes` of values: waits
    /// up to `wait` for a first record, then up to `window` for more. Empty when none came.
    async fn poll(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
        window: Duration,
    ) -> Result<Vec<TopicMessage>, FeedError>;

    /// Commits `batch` (the last poll's records): they are not handed over again.
    async fn commit(&mut self, batch: &[TopicMessage]) -> Result<(), FeedError>;

    /// How many records are produced but not yet committed.
    async fn lag(&mut self) -> Result<u64, FeedError>;
}

/// Where a shard's reading goes on after a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resume {
    /// The batch was taken up to and including this sequence number.
    After(String),
    /// Read again from this sequence number on (the lowest `batchItemFailures` entry, or the first
    /// record of a batch whose invocation failed).
    At(String),
}

/// The records of a set of streams, handed over one shard's batch at a time, as Lambda's Kinesis
/// event source mapping does.
#[async_trait]
pub trait StreamFeed: Send {
    /// The next batch of one shard (the shards take turns), at most `max_records`: waits up to
    /// `wait` when no shard has records. Empty when none came.
    async fn poll(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ShardRecord>, FeedError>;

    /// Moves the shard of the last batch on (`stream`, `shard`) as `resume` says.
    async fn checkpoint(&mut self, stream: &str, shard: &str, resume: Resume) -> Result<(), FeedError>;

    /// How many records are stored but not yet taken (an estimate is fine above zero; zero must mean
    /// none).
    async fn lag(&mut self) -> Result<u64, FeedError>;
}

pub use pinpipe_contract::names::compare_sequence_numbers;
