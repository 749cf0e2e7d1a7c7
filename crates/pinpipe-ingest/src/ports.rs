//! The two ports the handler talks to: a [`TopicProducer`] (Kafka) and a [`StreamWriter`] (Kinesis).
//! [`crate::kafka`] and [`crate::kinesis`] hold the real adapters; tests and `pinpipe run` may plug
//! in others.

use async_trait::async_trait;

/// One record to produce to a Kafka topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRecord {
    /// The key bytes (the compact JSON text of the REST-proxy `key`), if one was given.
    pub key: Option<Vec<u8>>,
    /// The value bytes: the compact JSON text of the record.
    pub value: Vec<u8>,
    /// The partition the client asked for; otherwise the producer's partitioner picks one.
    pub partition: Option<i32>,
}

/// Where Kafka stored a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset {
    /// The partition.
    pub partition: i32,
    /// The record's offset in it.
    pub offset: i64,
}

/// Why a record was not acknowledged by Kafka.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProduceError {
    /// The topic does not exist in the cluster.
    #[error("the topic does not exist in the Kafka cluster: {0}")]
    UnknownTopic(String),
    /// The partition does not exist.
    #[error("the partition does not exist: {0}")]
    UnknownPartition(String),
    /// The broker refused the record as too large.
    #[error("the record is too large for the broker: {0}")]
    TooLarge(String),
    /// The brokers could not be reached or did not acknowledge in time; retrying may succeed.
    #[error("{0}")]
    Unavailable(String),
}

/// Produces records to Kafka topics.
#[async_trait]
pub trait TopicProducer: Send + Sync {
    /// Produces `records` to `topic` and waits until each is acknowledged by all in-sync replicas
    /// (or has failed). Returns one result per record, in order.
    async fn produce(&self, topic: &str, records: &[TopicRecord]) -> Vec<Result<Offset, ProduceError>>;
}

/// One record to put into a Kinesis stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRecord {
    /// The payload: the UTF-8 JSON text of the record.
    pub data: Vec<u8>,
    /// The partition key.
    pub partition_key: String,
}

/// Where Kinesis stored a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The record's sequence number.
    pub sequence_number: String,
    /// The shard that holds it.
    pub shard_id: String,
    /// `KMS` when the stream encrypts records, as Kinesis reports it.
    pub encryption_type: Option<String>,
}

/// A record Kinesis did not store, with Kinesis's error code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFailure {
    /// E.g. `ProvisionedThroughputExceededException`, `InternalFailure`.
    pub error_code: String,
    /// Kinesis's message.
    pub error_message: String,
}

/// A failure of a whole Kinesis call: no record of it was stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The stream does not exist.
    #[error("the stream does not exist in Kinesis: {0}")]
    NotFound(String),
    /// Kinesis refused the request as invalid.
    #[error("Kinesis refused the request: {0}")]
    Invalid(String),
    /// Kinesis could not be reached, throttled the call or failed; retrying may succeed.
    #[error("{0}")]
    Unavailable(String),
}

impl StreamError {
    /// The error code to report for each record of a failed call.
    pub fn record_error_code(&self) -> &'static str {
        match self {
            StreamError::NotFound(_) => "ResourceNotFoundException",
            StreamError::Invalid(_) => "InvalidArgumentException",
            StreamError::Unavailable(_) => "ServiceUnavailable",
        }
    }
}

/// Puts records into Kinesis streams.
#[async_trait]
pub trait StreamWriter: Send + Sync {
    /// `PutRecord`: stores one record.
    async fn put_record(&self, stream: &str, record: &StreamRecord) -> Result<Stored, StreamError>;

    /// `PutRecords`: stores up to 500 records (5 MiB) in one call; one result per record, in order.
    async fn put_records(
        &self,
        stream: &str,
        records: &[StreamRecord],
    ) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError>;
}
