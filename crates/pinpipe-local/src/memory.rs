//! Embedded topics and streams (`pinpipe run` without `--services`): the ingestion API's ports
//! ([`TopicProducer`], [`StreamWriter`]) and the event-source loops' feeds ([`TopicFeed`],
//! [`StreamFeed`]) over in-process logs.
//!
//! A log holds what is produced and not yet committed by its one consumer; committed records are
//! dropped, as they are in the lake by then. With a [`Journal`] (as `pinpipe run` and `serve` use
//! them), a record is acknowledged and handed over only once it is on disk, commits and checkpoints
//! are kept there too, and a restart replays what was not committed: nothing acknowledged is lost to a
//! crash. Offsets of a partition continue after the highest ever issued (by the journal, or the lake's
//! end), so a restarted `serve` never reuses an offset and never overwrites a raw object; sequence
//! numbers continue after the highest issued and from the clock, so they only grow across restarts too.

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
use crate::journal::{Entry, Journal, Replayed};

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

/// A record and the number of its journal entry (0 without a journal): it is handed over once that
/// entry is on disk.
type Journaled<T> = (u64, T);

/// Whether a record journaled as entry `entry` may be handed over.
fn durable(journal: Option<&Journal>, entry: u64) -> bool {
    journal.is_none_or(|journal| journal.is_durable(entry))
}

/// One partition: its next offset and its uncommitted records.
#[derive(Default)]
struct PartitionLog {
    next_offset: i64,
    records: VecDeque<Journaled<TopicMessage>>,
}

struct TopicsInner {
    partitions: Mutex<BTreeMap<String, Vec<PartitionLog>>>,
    notify: Notify,
    round_robin: AtomicUsize,
    journal: Option<Arc<Journal>>,
}

impl TopicsInner {
    /// The records on disk, not yet committed.
    fn pending(&self) -> u64 {
        let journal = self.journal.as_deref();
        let partitions = lock(&self.partitions);
        let logs = partitions.values().flatten();
        logs.map(|log| log.records.iter().take_while(|(entry, _)| durable(journal, *entry)).count() as u64).sum()
    }
}

/// Embedded Kafka topics: a [`TopicProducer`] for the API and, through [`MemoryTopics::feed`], a
/// [`TopicFeed`] for the landing loop.
#[derive(Clone)]
pub struct MemoryTopics {
    inner: Arc<TopicsInner>,
}

impl MemoryTopics {
    /// `topics` with `partitions` partitions each, each partition's offsets starting at the value
    /// `start_offsets` gives for `(topic, partition)`, else 0; without a journal.
    pub fn new(topics: &[String], partitions: i32, start_offsets: &BTreeMap<(String, i32), i64>) -> Self {
        Self::build(topics, partitions, start_offsets, None, &Replayed::default())
    }

    /// As [`MemoryTopics::new`], journaled in `journal`, holding again what `replayed` says was not
    /// committed, and continuing each partition after the highest offset either knows of.
    pub fn journaled(
        topics: &[String],
        partitions: i32,
        start_offsets: &BTreeMap<(String, i32), i64>,
        journal: Arc<Journal>,
        replayed: &Replayed,
    ) -> Self {
        Self::build(topics, partitions, start_offsets, Some(journal), replayed)
    }

    fn build(
        topics: &[String],
        partitions: i32,
        start_offsets: &BTreeMap<(String, i32), i64>,
        journal: Option<Arc<Journal>>,
        replayed: &Replayed,
    ) -> Self {
        let partitions = topics
            .iter()
            .map(|topic| {
                let replayed_partitions = replayed.next_offsets.keys().filter(|(of, _)| of == topic);
                let count = replayed_partitions.map(|(_, partition)| partition + 1).fold(partitions.max(1), i32::max);
                let logs = (0..count)
                    .map(|partition| {
                        let key = (topic.clone(), partition);
                        let start = start_offsets.get(&key).copied().unwrap_or(0);
                        let issued = replayed.next_offsets.get(&key).copied().unwrap_or(0);
                        let left = replayed.topics.get(&key).into_iter().flatten();
                        PartitionLog {
                            next_offset: start.max(issued),
                            records: left.map(|message| (0, message.clone())).collect(),
                        }
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
                journal,
            }),
        }
    }

    /// The consumer side.
    pub fn feed(&self) -> MemoryTopicFeed {
        MemoryTopicFeed { inner: self.inner.clone() }
    }

    /// Gives `record` the next offset of its partition in `partitions`: the message to keep, or why not.
    fn assign(
        &self,
        partitions: &mut BTreeMap<String, Vec<PartitionLog>>,
        topic: &str,
        record: &TopicRecord,
        timestamp_ms: i64,
    ) -> Result<TopicMessage, ProduceError> {
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
        Ok(TopicMessage {
            topic: topic.to_string(),
            partition: partition as i32,
            offset,
            timestamp_ms,
            key: record.key.clone(),
            value: Some(record.value.clone()),
        })
    }
}

#[async_trait]
impl TopicProducer for MemoryTopics {
    /// Assigns offsets and journals the records in one step (so the journal keeps the offsets' order),
    /// then answers once they are on disk; they are handed over from then on.
    async fn produce(&self, topic: &str, records: &[TopicRecord]) -> Vec<Result<Offset, ProduceError>> {
        let timestamp_ms = now_ms();
        let journal = self.inner.journal.as_deref();
        let (results, entry) = {
            let mut partitions = lock(&self.inner.partitions);
            let messages: Vec<Result<TopicMessage, ProduceError>> =
                records.iter().map(|record| self.assign(&mut partitions, topic, record, timestamp_ms)).collect();
            let kept = messages.iter().flatten();
            let entry = journal.map_or(0, |journal| journal.append(kept.clone().map(Entry::produced)));
            for message in kept {
                let logs = partitions.get_mut(topic).expect("assigned in this topic");
                logs[message.partition as usize].records.push_back((entry, message.clone()));
            }
            let offsets = messages
                .into_iter()
                .map(|message| message.map(|message| Offset { partition: message.partition, offset: message.offset }));
            (offsets.collect::<Vec<_>>(), entry)
        };
        if let Some(journal) = journal {
            if let Err(error) = journal.flush_through(entry).await {
                let unavailable = |result: Result<Offset, ProduceError>| {
                    result.and_then(|_| Err(ProduceError::Unavailable(error.to_string())))
                };
                return results.into_iter().map(unavailable).collect();
            }
        }
        self.inner.notify.notify_waiters();
        results
    }
}

/// The landing loop's view of [`MemoryTopics`].
pub struct MemoryTopicFeed {
    inner: Arc<TopicsInner>,
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
        if !wait_for_records(&self.inner.notify, wait, || self.inner.pending() > 0).await {
            return Ok(Vec::new());
        }
        if (self.inner.pending() as usize) < max_records {
            tokio::time::sleep(window).await;
        }
        let journal = self.inner.journal.as_deref();
        let partitions = lock(&self.inner.partitions);
        let mut batch = Vec::new();
        let mut bytes = 0;
        'logs: for log in partitions.values().flatten() {
            let on_disk = log.records.iter().take_while(|(entry, _)| durable(journal, *entry));
            for (_, message) in on_disk {
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

    /// Journals the commit (on disk before the records are dropped), then drops the records.
    async fn commit(&mut self, batch: &[TopicMessage]) -> Result<(), FeedError> {
        if let Some(journal) = &self.inner.journal {
            let mut through: BTreeMap<(&str, i32), i64> = BTreeMap::new();
            for message in batch {
                let last = through.entry((&message.topic, message.partition)).or_insert(message.offset);
                *last = (*last).max(message.offset);
            }
            let entries = through.into_iter().map(|((topic, partition), offset)| Entry::Committed {
                topic: topic.to_string(),
                partition,
                offset,
            });
            journal.flush_through(journal.append(entries)).await?;
        }
        let mut partitions = lock(&self.inner.partitions);
        for message in batch {
            if let Some(log) =
                partitions.get_mut(&message.topic).and_then(|logs| logs.get_mut(message.partition as usize))
            {
                while log.records.front().is_some_and(|(_, front)| front.offset <= message.offset) {
                    log.records.pop_front();
                }
            }
        }
        Ok(())
    }

    async fn lag(&mut self) -> Result<u64, FeedError> {
        Ok(self.inner.pending())
    }
}

struct StreamsInner {
    /// Per stream, its shards' untaken records.
    shards: Mutex<BTreeMap<String, Vec<VecDeque<Journaled<ShardRecord>>>>>,
    notify: Notify,
    /// The next sequence number.
    next_sequence: Mutex<u128>,
    journal: Option<Arc<Journal>>,
}

impl StreamsInner {
    /// The records on disk, not yet taken.
    fn pending(&self) -> u64 {
        let journal = self.journal.as_deref();
        let streams = lock(&self.shards);
        let shards = streams.values().flatten();
        shards.map(|shard| shard.iter().take_while(|(entry, _)| durable(journal, *entry)).count() as u64).sum()
    }
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

/// The index of a shard named by [`shard_id`].
fn shard_index(shard: &str) -> Option<usize> {
    shard.strip_prefix("shardId-")?.parse().ok()
}

impl MemoryStreams {
    /// `streams` with `shards` shards each, without a journal.
    pub fn new(streams: &[String], shards: usize) -> Self {
        Self::build(streams, shards, None, &Replayed::default())
    }

    /// As [`MemoryStreams::new`], journaled in `journal`, holding again what `replayed` says was not
    /// taken, and continuing after the highest sequence number issued.
    pub fn journaled(streams: &[String], shards: usize, journal: Arc<Journal>, replayed: &Replayed) -> Self {
        Self::build(streams, shards, Some(journal), replayed)
    }

    fn build(streams: &[String], shards: usize, journal: Option<Arc<Journal>>, replayed: &Replayed) -> Self {
        let shards = streams
            .iter()
            .map(|stream| {
                let mut logs = vec![VecDeque::new(); shards.max(1)];
                for ((of, shard), records) in &replayed.streams {
                    let Some(index) = shard_index(shard).filter(|_| of == stream) else { continue };
                    if index >= logs.len() {
                        logs.resize(index + 1, VecDeque::new());
                    }
                    logs[index].extend(records.iter().map(|record| (0, record.clone())));
                }
                (stream.clone(), logs)
            })
            .collect();
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros());
        Self {
            inner: Arc::new(StreamsInner {
                shards: Mutex::new(shards),
                notify: Notify::new(),
                next_sequence: Mutex::new((micros * 1_000_000).max(replayed.last_sequence)),
                journal,
            }),
        }
    }

    /// The consumer side.
    pub fn feed(&self) -> MemoryStreamFeed {
        MemoryStreamFeed { inner: self.inner.clone(), next_shard: 0 }
    }

    /// Stores each of `records` (or says why not), journaled as one group: the results, and the number
    /// of the group's journal entry.
    fn append_all(
        &self,
        stream: &str,
        records: &[StreamRecord],
        arrival_ms: i64,
    ) -> (Vec<Result<Stored, RecordFailure>>, u64) {
        let journal = self.inner.journal.as_deref();
        let mut streams = lock(&self.inner.shards);
        let stored: Vec<Result<ShardRecord, RecordFailure>> =
            records.iter().map(|record| self.assign(&mut streams, stream, record, arrival_ms)).collect();
        let kept = stored.iter().flatten();
        let entry = journal.map_or(0, |journal| journal.append(kept.clone().map(Entry::stored)));
        let shards = streams.get_mut(stream);
        if let Some(shards) = shards {
            for record in kept {
                let index = shard_index(&record.shard).expect("a shard named by shard_id");
                shards[index].push_back((entry, record.clone()));
            }
        }
        let results = stored.into_iter().map(|record| {
            record.map(|record| Stored {
                sequence_number: record.sequence_number,
                shard_id: record.shard,
                encryption_type: None,
            })
        });
        (results.collect(), entry)
    }

    /// Gives `record` its shard and the next sequence number: the record to keep, or why not.
    fn assign(
        &self,
        streams: &mut BTreeMap<String, Vec<VecDeque<Journaled<ShardRecord>>>>,
        stream: &str,
        record: &StreamRecord,
        arrival_ms: i64,
    ) -> Result<ShardRecord, RecordFailure> {
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
        Ok(ShardRecord {
            stream: stream.to_string(),
            shard: shard_id(index),
            sequence_number,
            partition_key: record.partition_key.clone(),
            data: record.data.clone(),
            arrival_ms,
        })
    }

    /// Answers once the journal entry `entry` is on disk (at once without a journal).
    async fn flushed(&self, entry: u64) -> Result<(), StreamError> {
        if let Some(journal) = &self.inner.journal {
            journal.flush_through(entry).await.map_err(|error| StreamError::Unavailable(error.to_string()))?;
        }
        Ok(())
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
        let (mut results, entry) = self.append_all(stream, std::slice::from_ref(record), now_ms());
        let stored = results.remove(0).map_err(|failure| StreamError::Invalid(failure.error_message))?;
        self.flushed(entry).await?;
        self.inner.notify.notify_waiters();
        Ok(stored)
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
        let (results, entry) = self.append_all(stream, records, now_ms());
        self.flushed(entry).await?;
        self.inner.notify.notify_waiters();
        Ok(results)
    }
}

/// The stream loop's view of [`MemoryStreams`]: shards take turns.
pub struct MemoryStreamFeed {
    inner: Arc<StreamsInner>,
    next_shard: usize,
}

#[async_trait]
impl StreamFeed for MemoryStreamFeed {
    async fn poll(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ShardRecord>, FeedError> {
        if !wait_for_records(&self.inner.notify, wait, || self.inner.pending() > 0).await {
            return Ok(Vec::new());
        }
        let journal = self.inner.journal.as_deref();
        let streams = lock(&self.inner.shards);
        let shards: Vec<&VecDeque<Journaled<ShardRecord>>> = streams.values().flatten().collect();
        for turn in 0..shards.len() {
            let index = (self.next_shard + turn) % shards.len();
            let on_disk = shards[index].iter().take_while(|(entry, _)| durable(journal, *entry));
            let batch: Vec<ShardRecord> = on_disk.take(max_records).map(|(_, record)| record.clone()).collect();
            if !batch.is_empty() {
                self.next_shard = index + 1;
                return Ok(batch);
            }
        }
        Ok(Vec::new())
    }

    /// Journals the checkpoint (on disk before the records are dropped), then drops what it took.
    async fn checkpoint(&mut self, stream: &str, shard: &str, resume: Resume) -> Result<(), FeedError> {
        if let Some(journal) = &self.inner.journal {
            journal.flush_through(journal.append([Entry::checkpoint(stream, shard, &resume)])).await?;
        }
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
            while let Some((_, front)) = records.front() {
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
        Ok(self.inner.pending())
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
