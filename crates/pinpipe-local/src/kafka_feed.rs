//! The topics on a real Kafka-protocol broker (`--services local`: tansu on loopback; the same code
//! reads MSK), read as Lambda's MSK event source reads them: one consumer group, offsets committed to
//! the broker only after the handler took the batch, so a restart resumes where landing stopped.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::error::FeedError;
use crate::feed::{TopicFeed, TopicMessage};

/// How long a metadata, watermark or commit call to the broker may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// A consumer group over the three topics.
pub struct KafkaFeed {
    consumer: Arc<StreamConsumer>,
    topics: Vec<String>,
}

impl KafkaFeed {
    /// Joins consumer group `group` at `bootstrap` (plaintext) and subscribes to `topics`; a group
    /// with no commits starts at the earliest offsets.
    pub fn new(bootstrap: &str, group: &str, topics: &[String]) -> Result<Self, FeedError> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("enable.partition.eof", "false")
            .create()
            .map_err(|source| FeedError::kafka(format!("creating a Kafka consumer for {bootstrap}"), source))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|source| FeedError::kafka(format!("subscribing to {}", names.join(", ")), source))?;
        Ok(Self { consumer: Arc::new(consumer), topics: topics.to_vec() })
    }

    fn message(message: &rdkafka::message::BorrowedMessage<'_>) -> TopicMessage {
        TopicMessage {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
        }
    }

    /// Runs a blocking client call off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&StreamConsumer) -> Result<T, FeedError> + Send + 'static,
    ) -> Result<T, FeedError> {
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || call(&consumer)).await.map_err(FeedError::KafkaTask)?
    }
}

#[async_trait]
impl TopicFeed for KafkaFeed {
    async fn poll(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
        window: Duration,
    ) -> Result<Vec<TopicMessage>, FeedError> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        let first = match tokio::time::timeout(wait, self.consumer.recv()).await {
            Err(_) => return Ok(batch),
            Ok(received) => received.map_err(|source| FeedError::kafka("reading from Kafka", source))?,
        };
        bytes += first.payload().map_or(0, <[u8]>::len);
        batch.push(Self::message(&first));
        drop(first);
        let deadline = tokio::time::Instant::now() + window;
        while batch.len() < max_records {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Err(_) => break,
                Ok(received) => {
                    let message = received.map_err(|source| FeedError::kafka("reading from Kafka", source))?;
                    bytes += message.payload().map_or(0, <[u8]>::len);
                    batch.push(Self::message(&message));
                    if bytes >= max_bytes {
                        break;
                    }
                }
            }
        }
        Ok(batch)
    }

    async fn commit(&mut self, batch: &[TopicMessage]) -> Result<(), FeedError> {
        let mut next: std::collections::BTreeMap<(&str, i32), i64> = Default::default();
        for message in batch {
            let slot = next.entry((message.topic.as_str(), message.partition)).or_insert(0);
            *slot = (*slot).max(message.offset + 1);
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            list.add_partition_offset(topic, partition, Offset::Offset(offset)).map_err(|source| {
                FeedError::kafka(format!("setting the offset {offset} of {topic}-{partition} to commit"), source)
            })?;
        }
        self.blocking(move |consumer| {
            consumer
                .commit(&list, CommitMode::Sync)
                .map_err(|source| FeedError::kafka("committing offsets to Kafka", source))
        })
        .await
    }

    async fn lag(&mut self) -> Result<u64, FeedError> {
        let topics = self.topics.clone();
        self.blocking(move |consumer| {
            let mut list = TopicPartitionList::new();
            for topic in &topics {
                let metadata = consumer
                    .fetch_metadata(Some(topic), BROKER_TIMEOUT)
                    .map_err(|source| FeedError::kafka(format!("reading the metadata of {topic}"), source))?;
                for partition in metadata.topics().iter().flat_map(|topic| topic.partitions()) {
                    list.add_partition(topic, partition.id());
                }
            }
            let committed = consumer
                .committed_offsets(list, BROKER_TIMEOUT)
                .map_err(|source| FeedError::kafka("reading the group's committed offsets", source))?;
            let mut lag = 0;
            for element in committed.elements() {
                let (low, high) = consumer
                    .fetch_watermarks(element.topic(), element.partition(), BROKER_TIMEOUT)
                    .map_err(|source| {
                        let what = format!("reading the watermarks of {}-{}", element.topic(), element.partition());
                        FeedError::kafka(what, source)
                    })?;
                let position = match element.offset() {
                    Offset::Offset(offset) => offset,
                    _ => low,
                };
                lag += (high - position).max(0) as u64;
            }
            Ok(lag)
        })
        .await
    }
}
