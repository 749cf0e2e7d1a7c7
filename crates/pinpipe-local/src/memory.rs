//! Embedded topics and streams (`pinpipe run` without `--services`): the ingestion API's ports
//! ([`TopicProducer`], [`StreamWriter`]) and the event-source loops' feeds ([`TopicFeed`],
//! [`StreamFeed`]) over in-process logs.
//!
//! A log holds what is produced and not yet committed by its one consumer; committed records are
//! dropped, as they are in the lake by then. Offsets of a partition continue from a given start (the
//! lake's end, so a restarted `serve` never reuses an offset and never overwrites a raw object);
//! sequence numbers start from the clock, so they only grow across restarts too.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use pinpipe_ingest::{
    Offset, ProduceError, RecordFailure, Stored, StreamError, StreamRecord, StreamWriter, TopicProducer, TopicRecord,
};
use tokio::sync::Notify;

use crate::error::FeedError;
use crate::feed::{compare_sequence_numbers, Resume, ShardRecord, StreamFeed, TopicFeed, TopicMessage};

/// The largest record taken, as Kafka's and Kinesis's default limit (1 MiB).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The most records one PutRecords call takes.
pub const MAX_PUT_RECORDS: usize = 500;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until `pending` says records are there, or `wait` passes; whether they are.
async fn wait_for_records(notify: &Notify, wait: Duration, pending: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if pending() {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return pending();
        }
    }
}

/// One partition: its next offset and its uncommitted records.
#[derive(Default)]
struct PartitionLog {
    next_offset: i64,
    records: VecDeque<TopicMessage>,
}

struct TopicsInner {
    partitions: Mutex<BTreeMap<String, Vec<PartitionLog>>>,
    notify: Notify,
    round_robin: AtomicUsize,
}

/// Embedded Kafka topics: a [`TopicProducer`] for the API and, through [`MemoryTopics::feed`], a
/// [`TopicFeed`] for the landing loop.
#[derive(Clone)]
pub struct MemoryTopics {
    inner: Arc<TopicsInner>,
}

impl MemoryTopics {
    /// `topics` with `partitions` partitions each, each partition's offsets starting at the value
    /// `start_offsets` gives for `(topic, partition)`, else 0.
    pub fn new(topics: &[String], partitions: i32, start_offsets: &BTreeMap<(String, i32), i64>) -> Self {
        let partitions = topics
            .iter()
            .map(|topic| {
                let logs = (0..partitions.max(1))
                    .map(|partition| PartitionLog {
                        next_offset: start_offsets.get(&(topic.clone(), partition)).copied().unwrap_or(0),
                        records: VecDeque::new(),
                    })
                    .collect();
                (topic.clone(), logs)
            })
            .collect();
        Self {
            inner: Arc::new(TopicsInner {
                partitions: Mutex::new(partitions),
                notify: Notify::new(),
                round_robin: AtomicUsize::new(0),
            }),
        }
    }

    /// The consumer side.
    pub fn feed(&self) -> MemoryTopicFeed {
        MemoryTopicFeed { inner: self.inner.clone() }
    }

    fn append(&self, topic: &str, record: &TopicRecord, timestamp_ms: i64) -> Result<Offset, ProduceError> {
        let mut partitions = lock(&self.inner.partitions);
        let logs = partitions.get_mut(topic).ok_or_else(|| ProduceError::UnknownTopic(topic.to_string()))?;
        if record.value.len() > MAX_RECORD_BYTES {
            return Err(ProduceError::TooLarge(format!(
                "{} bytes is over the {MAX_RECORD_BYTES}-byte record limit",
                record.value.len()
            )));
        }
        let count = logs.len();
        let partition = match (record.partition, &record.key) {
            (Some(partition), _) => usize::try_from(partition)
                .ok()
                .filter(|&partition| partition < count)
                .ok_or_else(|| ProduceError::UnknownPartition(format!("{topic} has no partition {partition}")))?,
            (None, Some(key)) => (xxhash_rust::xxh3::xxh3_64(key) % count as u64) as usize,
            (None, None) => self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % count,
        };
        let log = &mut logs[partition];
        let offset = log.next_offset;
        log.next_offset += 1;
        log.records.push_back(TopicMessage {
            topic: topic.to_string(),
            partition: partition as i32,
            offset,
            timestamp_ms,
            key: record.key.clone(),
            value: Some(record.value.clone()),
        });
        Ok(Offset { partition: partition as i32, offset })
    }
}

#[async_trait]
impl TopicProducer for MemoryTopics {
    async fn produce(&self, topic: &str, records: &[TopicRecord]) -> Vec<Result<Offset, ProduceError>> {
        let timestamp_ms = now_ms();
        let results = records.iter().map(|record| self.append(topic, record, timestamp_ms)).collect();
        self.inner.notify.notify_waiters();
        results
    }
}

/// The landing loop's view of [`MemoryTopics`].
pub struct MemoryTopicFeed {
    inner: Arc<TopicsInner>,
}

impl MemoryTopicFeed {
    fn pending(&self) -> u64 {
        lock(&self.inner.partitions).values().flatten().map(|log| log.records.len() as u64).sum()
    }
}

#[async_trait]
impl TopicFeed for MemoryTopicFeed {
    async fn poll(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
        window: Duration,
    ) -> Result<Vec<TopicMessage>, FeedError> {
        if !wait_for_records(&self.inner.notify, wait, || self.pending() > 0).await {
            return Ok(Vec::new());
        }
        if (self.pending() as usize) < max_records {
            tokio::time::sleep(window).await;
        }
        let partitions = lock(&self.inner.partitions);
        let mut batch = Vec::new();
        let mut bytes = 0;
        'logs: for log in partitions.values().flatten() {
            for message in &log.records {
                let size = message.value.as_ref().map_or(0, Vec::len);
                if batch.len() == max_records || (!batch.is_empty() && bytes + size > max_bytes) {
                    break 'logs;
                }
                bytes += size;
                batch.push(message.clone());
            }
        }
        Ok(batch)
    }

    async fn commit(&mut self, batch: &[TopicMessage]) -> Result<(), FeedError> {
        let mut partitions = lock(&self.inner.partitions);
        for message in batch {
            if let Some(log) =
                partitions.get_mut(&message.topic).and_then(|logs| logs.get_mut(message.partition as usize))
            {
                while log.records.front().is_some_and(|front| front.offset <= message.offset) {
                    log.records.pop_front();
                }
            }
        }
        Ok(())
    }

    async fn lag(&mut self) -> Result<u64, FeedError> {
        Ok(self.pending())
    }
}

struct StreamsInner {
    /// Per stream, its shards' untaken records.
    shards: Mutex<BTreeMap<String, Vec<VecDeque<ShardRecord>>>>,
    notify: Notify,
    /// The next sequence number.
    next_sequence: Mutex<u128>,
}

/// Embedded Kinesis streams: a [`StreamWriter`] for the API and, through [`MemoryStreams::feed`], a
/// [`StreamFeed`] for the stream loop.
#[derive(Clone)]
pub struct MemoryStreams {
    inner: Arc<StreamsInner>,
}

/// The id of shard `index`, as Kinesis names shards.
pub fn shard_id(index: usize) -> String {
    format!("shardId-{index:012}")
}

impl MemoryStreams {
    /// `streams` with `shards` shards each.
    pub fn new(streams: &[String], shards: usize) -> Self {
        let shards = streams.iter().map(|stream| (stream.clone(), vec![VecDeque::new(); shards.max(1)])).collect();
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros());
        Self {
            inner: Arc::new(StreamsInner {
                shards: Mutex::new(shards),
                notify: Notify::new(),
                next_sequence: Mutex::new(micros * 1_000_000),
            }),
        }
    }

    /// The consumer side.
    pub fn feed(&self) -> MemoryStreamFeed {
        MemoryStreamFeed { inner: self.inner.clone(), next_shard: 0 }
    }

    fn append(&self, stream: &str, record: &StreamRecord, arrival_ms: i64) -> Result<Stored, RecordFailure> {
        let mut streams = lock(&self.inner.shards);
        let Some(shards) = streams.get_mut(stream) else {
            return Err(RecordFailure {
                error_code: "ResourceNotFoundException".into(),
                error_message: format!("stream {stream} not found"),
            });
        };
        if record.data.len() > MAX_RECORD_BYTES {
            return Err(RecordFailure {
                error_code: "InvalidArgumentException".into(),
                error_message: format!("{} bytes is over the {MAX_RECORD_BYTES}-byte record limit", record.data.len()),
            });
        }
        let index = (xxhash_rust::xxh3::xxh3_64(record.partition_key.as_bytes()) % shards.len() as u64) as usize;
        let sequence_number = {
            let mut next = lock(&self.inner.next_sequence);
            *next += 1;
            format!("{:056}", *next)
        };
        let shard = shard_id(index);
        shards[index].push_back(ShardRecord {
            stream: stream.to_string(),
            shard: shard.clone(),
            sequence_number: sequence_number.clone(),
            partition_key: record.partition_key.clone(),
            data: record.data.clone(),
            arrival_ms,
        });
        Ok(Stored { sequence_number, shard_id: shard, encryption_type: None })
    }

    fn known(&self, stream: &str) -> Result<(), StreamError> {
        if lock(&self.inner.shards).contains_key(stream) {
            Ok(())
        } else {
            Err(StreamError::NotFound(format!("stream {stream} not found")))
        }
    }
}

#[async_trait]
impl StreamWriter for MemoryStreams {
    async fn put_record(&self, stream: &str, record: &StreamRecord) -> Result<Stored, StreamError> {
        self.known(stream)?;
        let stored =
            self.append(stream, record, now_ms()).map_err(|failure| StreamError::Invalid(failure.error_message));
        self.inner.notify.notify_waiters();
        stored
    }

    async fn put_records(
        &self,
        stream: &str,
        records: &[StreamRecord],
    ) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError> {
        self.known(stream)?;
        if records.len() > MAX_PUT_RECORDS {
            return Err(StreamError::Invalid(format!(
                "{} records is over the {MAX_PUT_RECORDS}-record PutRecords limit",
                records.len()
            )));
        }
        let arrival_ms = now_ms();
        let results = records.iter().map(|record| self.append(stream, record, arrival_ms)).collect();
        self.inner.notify.notify_waiters();
        Ok(results)
    }
}

/// The stream loop's view of [`MemoryStreams`]: shards take turns.
pub struct MemoryStreamFeed {
    inner: Arc<StreamsInner>,
    next_shard: usize,
}

impl MemoryStreamFeed {
    fn pending(&self) -> u64 {
        lock(&self.inner.shards).values().flatten().map(|shard| shard.len() as u64).sum()
    }
}

#[async_trait]
impl StreamFeed for MemoryStreamFeed {
    async fn poll(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ShardRecord>, FeedError> {
        if !wait_for_records(&self.inner.notify, wait, || self.pending() > 0).await {
            return Ok(Vec::new());
        }
        let streams = lock(&self.inner.shards);
        let shards: Vec<&VecDeque<ShardRecord>> = streams.values().flatten().collect();
        for turn in 0..shards.len() {
            let index = (self.next_shard + turn) % shards.len();
            if !shards[index].is_empty() {
                self.next_shard = index + 1;
                return Ok(shards[index].iter().take(max_records).cloned().collect());
            }
        }
        Ok(Vec::new())
    }

    async fn checkpoint(&mut self, stream: &str, shard: &str, resume: Resume) -> Result<(), FeedError> {
        let mut streams = lock(&self.inner.shards);
        let records = streams
            .get_mut(stream)
            .and_then(|shards| shards.iter_mut().enumerate().find(|(index, _)| shard_id(*index) == shard))
            .map(|(_, records)| records);
        if let Some(records) = records {
            let (through, inclusive) = match &resume {
                Resume::After(sequence_number) => (sequence_number, true),
                Resume::At(sequence_number) => (sequence_number, false),
            };
            while let Some(front) = records.front() {
                let order = compare_sequence_numbers(&front.sequence_number, through);
                if order.is_lt() || (inclusive && order.is_eq()) {
                    records.pop_front();
                } else {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn lag(&mut self) -> Result<u64, FeedError> {
        Ok(self.pending())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &str) -> TopicRecord {
        TopicRecord { key: None, value: value.as_bytes().to_vec(), partition: None }
    }

    #[tokio::test]
    async fn topics_hand_over_until_committed() {
        let topics = MemoryTopics::new(&["t".to_string()], 2, &BTreeMap::from([(("t".to_string(), 1), 40)]));
        let offsets = topics.produce("t", &[record("a"), record("b"), record("c")]).await;
        let offsets: Vec<(i32, i64)> =
            offsets.into_iter().map(|o| o.map(|o| (o.partition, o.offset)).unwrap()).collect();
        assert_eq!(offsets, [(0, 0), (1, 40), (0, 1)]);
        assert!(matches!(topics.produce("u", &[record("x")]).await[0], Err(ProduceError::UnknownTopic(_))));
        let wrong = TopicRecord { partition: Some(2), ..record("x") };
        assert!(matches!(topics.produce("t", &[wrong]).await[0], Err(ProduceError::UnknownPartition(_))));

        let mut feed = topics.feed();
        let zero = Duration::ZERO;
        let first = feed.poll(2, usize::MAX, zero, zero).await.unwrap();
        assert_eq!(first.iter().map(|m| (m.partition, m.offset)).collect::<Vec<_>>(), [(0, 0), (0, 1)]);
        // Not committed: handed over again.
        assert_eq!(feed.poll(2, usize::MAX, zero, zero).await.unwrap(), first);
        feed.commit(&first).await.unwrap();
        assert_eq!(feed.lag().await.unwrap(), 1);
        let rest = feed.poll(10, usize::MAX, zero, zero).await.unwrap();
        assert_eq!(rest.iter().map(|m| (m.partition, m.offset)).collect::<Vec<_>>(), [(1, 40)]);
        feed.commit(&rest).await.unwrap();
        assert!(feed.poll(10, usize::MAX, Duration::from_millis(5), zero).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_waiting_poll_wakes_on_a_new_record() {
        let topics = MemoryTopics::new(&["t".to_string()], 1, &BTreeMap::new());
        let mut feed = topics.feed();
        let producer = topics.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            producer.produce("t", &[record("late")]).await;
        });
        let batch = feed.poll(10, usize::MAX, Duration::from_secs(10), Duration::ZERO).await.unwrap();
        assert_eq!(batch[0].value.as_deref(), Some(&b"late"[..]));
    }

    #[tokio::test]
    async fn streams_resume_after_or_at_a_sequence_number() {
        let streams = MemoryStreams::new(&["s".to_string()], 1);
        let put = |key: &str| StreamRecord { data: key.as_bytes().to_vec(), partition_key: key.to_string() };
        let stored = streams.put_records("s", &[put("a"), put("b"), put("c")]).await.unwrap();
        let sequence_numbers: Vec<String> = stored.into_iter().map(|s| s.unwrap().sequence_number).collect();
        assert!(sequence_numbers.windows(2).all(|pair| compare_sequence_numbers(&pair[0], &pair[1]).is_lt()));
        assert!(matches!(streams.put_record("nope", &put("x")).await, Err(StreamError::NotFound(_))));

        let mut feed = streams.feed();
        let batch = feed.poll(10, Duration::ZERO).await.unwrap();
        assert_eq!(batch.len(), 3);
        feed.checkpoint("s", &batch[0].shard, Resume::At(sequence_numbers[1].clone())).await.unwrap();
        let retried = feed.poll(10, Duration::ZERO).await.unwrap();
        assert_eq!(retried, batch[1..]);
        feed.checkpoint("s", &batch[0].shard, Resume::After(sequence_numbers[2].clone())).await.unwrap();
        assert_eq!(feed.lag().await.unwrap(), 0);
    }
}
