//! The journal of the embedded topics and streams: what `pinpipe serve` acknowledged survives a crash.
//!
//! Every record the embedded Kafka produces and the embedded Kinesis stores is appended to one file
//! in the lake folder ([`layout::LOCAL_RUNNER_JOURNAL`]) and flushed to disk before the API answers:
//! concurrent requests share one flush (group commit). The landing loop's commits and the stream
//! loop's checkpoints are journaled and flushed too. On start, [`Journal::open`] replays the file:
//! the records not yet committed are handed over again (the handlers' deterministic keys make a
//! redelivery rewrite the same objects), and offsets and sequence numbers continue after the highest
//! ever issued, so that no position is issued twice. The file is then rewritten with only what is still
//! needed (the uncommitted records and the high-water marks), so it does not grow across restarts.
//!
//! One JSON object per line; a line cut short by a crash (the last one) was never flushed, hence
//! never acknowledged, and is dropped on replay.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pinpipe_contract::layout;
use serde::{Deserialize, Serialize};

use crate::feed::{compare_sequence_numbers, Resume, ShardRecord, TopicMessage};

/// Why the journal cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be read, written or flushed.
    #[error("the journal {}: {source}", path.display())]
    Io {
        /// The journal file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A line other than the last is not a journal entry.
    #[error("the journal {} is damaged at line {line}: {source}", path.display())]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// An earlier flush failed: nothing more is acknowledged until the server is restarted.
    #[error("the journal {} could not be written earlier; restart the server", path.display())]
    Broken {
        /// The journal file.
        path: PathBuf,
    },
}

/// Bytes as base64 text in the journal's JSON.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_some(&base64::engine::general_purpose::STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// A Kafka record was produced.
    Produced {
        /// Its topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// The producer's timestamp.
        timestamp_ms: i64,
        /// Its key.
        #[serde(with = "base64_bytes")]
        key: Option<Vec<u8>>,
        /// Its value.
        #[serde(with = "base64_bytes")]
        value: Option<Vec<u8>>,
    },
    /// The landing loop committed a partition through `offset` (inclusive).
    Committed {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The last committed offset.
        offset: i64,
    },
    /// The offsets of a partition continue at `next` (written when the journal is compacted).
    NextOffset {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The next offset to issue.
        next: i64,
    },
    /// A Kinesis record was stored.
    Stored {
        /// Its stream.
        stream: String,
        /// Its shard.
        shard: String,
        /// Its sequence number.
        sequence_number: String,
        /// Its partition key.
        partition_key: String,
        /// Its data.
        #[serde(with = "base64_bytes")]
        data: Option<Vec<u8>>,
        /// When it was stored.
        arrival_ms: i64,
    },
    /// The highest sequence number issued so far (written when the journal is compacted).
    LastSequence {
        /// The sequence number.
        sequence_number: String,
    },
    /// The stream loop moved a shard on.
    Checkpoint {
        /// The stream.
        stream: String,
        /// The shard.
        shard: String,
        /// Whether the sequence number itself was taken (`after`) or is read again (`at`).
        taken: bool,
        /// The sequence number.
        sequence_number: String,
    },
}

impl Entry {
    /// The entry of a produced Kafka record.
    pub fn produced(message: &TopicMessage) -> Self {
        Entry::Produced {
            topic: message.topic.clone(),
            partition: message.partition,
            offset: message.offset,
            timestamp_ms: message.timestamp_ms,
            key: message.key.clone(),
            value: message.value.clone(),
        }
    }

    /// The entry of a stored Kinesis record.
    pub fn stored(record: &ShardRecord) -> Self {
        Entry::Stored {
            stream: record.stream.clone(),
            shard: record.shard.clone(),
            sequence_number: record.sequence_number.clone(),
            partition_key: record.partition_key.clone(),
            data: Some(record.data.clone()),
            arrival_ms: record.arrival_ms,
        }
    }

    /// The entry of a checkpoint.
    pub fn checkpoint(stream: &str, shard: &str, resume: &Resume) -> Self {
        let (taken, sequence_number) = match resume {
            Resume::After(sequence_number) => (true, sequence_number.clone()),
            Resume::At(sequence_number) => (false, sequence_number.clone()),
        };
        Entry::Checkpoint { stream: stream.to_string(), shard: shard.to_string(), taken, sequence_number }
    }
}

/// What a replayed journal still holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The produced records not committed, per (topic, partition), in offset order.
    pub topics: BTreeMap<(String, i32), Vec<TopicMessage>>,
    /// The next offset of every partition ever written to.
    pub next_offsets: BTreeMap<(String, i32), i64>,
    /// The stored records not taken, per (stream, shard), in sequence order.
    pub streams: BTreeMap<(String, String), Vec<ShardRecord>>,
    /// The highest sequence number ever issued.
    pub last_sequence: u128,
}

impl Replayed {
    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Produced { topic, partition, offset, timestamp_ms, key, value } => {
                let next = self.next_offsets.entry((topic.clone(), partition)).or_insert(0);
                *next = (*next).max(offset + 1);
                let message = TopicMessage { topic: topic.clone(), partition, offset, timestamp_ms, key, value };
                self.topics.entry((topic, partition)).or_default().push(message);
            }
            Entry::Committed { topic, partition, offset } => {
                if let Some(messages) = self.topics.get_mut(&(topic, partition)) {
                    messages.retain(|message| message.offset > offset);
                }
            }
            Entry::NextOffset { topic, partition, next } => {
                let known = self.next_offsets.entry((topic, partition)).or_insert(0);
                *known = (*known).max(next);
            }
            Entry::Stored { stream, shard, sequence_number, partition_key, data, arrival_ms } => {
                self.last_sequence = self.last_sequence.max(sequence_number.parse().unwrap_or(0));
                let record = ShardRecord {
                    stream: stream.clone(),
                    shard: shard.clone(),
                    sequence_number,
                    partition_key,
                    data: data.unwrap_or_default(),
                    arrival_ms,
                };
                self.streams.entry((stream, shard)).or_default().push(record);
            }
            Entry::LastSequence { sequence_number } => {
                self.last_sequence = self.last_sequence.max(sequence_number.parse().unwrap_or(0));
            }
            Entry::Checkpoint { stream, shard, taken, sequence_number } => {
                if let Some(records) = self.streams.get_mut(&(stream, shard)) {
                    records.retain(|record| {
                        let order = compare_sequence_numbers(&record.sequence_number, &sequence_number);
                        order.is_gt() || (!taken && order.is_eq())
                    });
                }
            }
        }
    }

    /// The entries that hold everything still needed: the high-water marks and the records left.
    fn compacted(&self) -> Vec<Entry> {
        let marks = self.next_offsets.iter().map(|((topic, partition), next)| Entry::NextOffset {
            topic: topic.clone(),
            partition: *partition,
            next: *next,
        });
        let produced = self.topics.values().flatten().map(Entry::produced);
        let last =
            (self.last_sequence > 0).then(|| Entry::LastSequence { sequence_number: self.last_sequence.to_string() });
        let stored = self.streams.values().flatten().map(Entry::stored);
        marks.chain(produced).chain(last).chain(stored).collect()
    }
}

/// Entries not yet flushed, and the number of the last one appended.
#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    appended: u64,
}

/// The journal file, open for appending.
pub struct Journal {
    path: PathBuf,
    file: Arc<File>,
    pending: Mutex<Pending>,
    /// Serialises flushes; whoever holds it writes everything appended so far.
    flushing: tokio::sync::Mutex<()>,
    /// The number of the last entry on disk.
    flushed: AtomicU64,
    broken: AtomicBool,
}

impl Journal {
    /// Opens the journal of the lake folder `lake` (creating it), replays it, and compacts it.
    pub fn open(lake: &Path) -> Result<(Journal, Replayed), JournalError> {
        let path = lake.join(layout::LOCAL_RUNNER_JOURNAL);
        let io = |source| JournalError::Io { path: path.clone(), source };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(io)?;
        }
        let replayed = replay(&path)?;
        let compacted = path.with_extension("jsonl.new");
        let mut lines = Vec::new();
        for entry in replayed.compacted() {
            write_line(&mut lines, &entry);
        }
        let mut file = File::create(&compacted).map_err(io)?;
        file.write_all(&lines).and_then(|()| file.sync_all()).map_err(io)?;
        std::fs::rename(&compacted, &path).map_err(io)?;
        if let Some(folder) = path.parent() {
            File::open(folder).and_then(|folder| folder.sync_all()).map_err(io)?;
        }
        let file = OpenOptions::new().append(true).open(&path).map_err(io)?;
        let journal = Journal {
            path,
            file: Arc::new(file),
            pending: Mutex::new(Pending::default()),
            flushing: tokio::sync::Mutex::new(()),
            flushed: AtomicU64::new(0),
            broken: AtomicBool::new(false),
        };
        Ok((journal, replayed))
    }

    /// Appends `entries` (not yet on disk: see [`Journal::flush_through`]); gives the number of the
    /// last one. Call it where the entries' order is decided, so that the file keeps that order.
    pub fn append(&self, entries: impl IntoIterator<Item = Entry>) -> u64 {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for entry in entries {
            write_line(&mut pending.lines, &entry);
            pending.appended += 1;
        }
        pending.appended
    }

    /// Whether entry number `entry` is on disk.
    pub fn is_durable(&self, entry: u64) -> bool {
        self.flushed.load(Ordering::Acquire) >= entry
    }

    /// Returns once entry number `entry` and every one before it are on disk (written and synced).
    /// Concurrent callers share one write and one sync. After a failed flush every later call fails:
    /// what was not flushed is never acknowledged and never handed over.
    pub async fn flush_through(&self, entry: u64) -> Result<(), JournalError> {
        if self.is_durable(entry) {
            return Ok(());
        }
        let _flushing = self.flushing.lock().await;
        if self.broken.load(Ordering::Acquire) {
            return Err(JournalError::Broken { path: self.path.clone() });
        }
        if self.is_durable(entry) {
            return Ok(());
        }
        let (lines, through) = {
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            (std::mem::take(&mut pending.lines), pending.appended)
        };
        let file = self.file.clone();
        let written = tokio::task::spawn_blocking(move || (&*file).write_all(&lines).and_then(|()| file.sync_data()))
            .await
            .map_err(std::io::Error::other)
            .and_then(|result| result);
        if let Err(source) = written {
            self.broken.store(true, Ordering::Release);
            return Err(JournalError::Io { path: self.path.clone(), source });
        }
        self.flushed.store(through, Ordering::Release);
        Ok(())
    }
}

fn write_line(out: &mut Vec<u8>, entry: &Entry) {
    serde_json::to_writer(&mut *out, entry).expect("a journal entry is plain JSON");
    out.push(b'\n');
}

/// Replays the journal at `path` (none yet: nothing to replay).
fn replay(path: &Path) -> Result<Replayed, JournalError> {
    let mut replayed = Replayed::default();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(replayed),
        Err(source) => return Err(JournalError::Io { path: path.to_path_buf(), source }),
    };
    let mut lines = BufReader::new(file).split(b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let line = line.map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Entry>(&line) {
            Ok(entry) => replayed.apply(entry),
            // The last line, cut short by a crash before its flush ended: never acknowledged.
            Err(_) if lines.peek().is_none() => break,
            Err(source) => return Err(JournalError::Damaged { path: path.to_path_buf(), line: index + 1, source }),
        }
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn message(offset: i64) -> TopicMessage {
        TopicMessage {
            topic: "p.pin".into(),
            partition: 1,
            offset,
            timestamp_ms: 7,
            key: None,
            value: Some(format!("{{\"index\":{offset}}}").into_bytes()),
        }
    }

    fn record(sequence: u128) -> ShardRecord {
        ShardRecord {
            stream: "streaming-p-pin".into(),
            shard: "shardId-000000000000".into(),
            sequence_number: format!("{sequence:056}"),
            partition_key: "k".into(),
            data: vec![0xff, b'{'],
            arrival_ms: 9,
        }
    }

    #[tokio::test]
    async fn what_was_flushed_and_not_committed_is_replayed_with_its_high_water_marks() {
        let lake = tempfile::tempdir().unwrap();
        {
            let (journal, replayed) = Journal::open(lake.path()).unwrap();
            assert_eq!(replayed, Replayed::default());
            let last = journal.append((0..4).map(|offset| Entry::produced(&message(offset))));
            journal.append([Entry::stored(&record(10)), Entry::stored(&record(11))]);
            assert!(!journal.is_durable(last));
            journal.flush_through(last).await.unwrap();
            assert!(journal.is_durable(last));
            let committed = Entry::Committed { topic: "p.pin".into(), partition: 1, offset: 1 };
            let checkpoint =
                Entry::checkpoint("streaming-p-pin", "shardId-000000000000", &Resume::After(format!("{:056}", 10)));
            let through = journal.append([committed, checkpoint]);
            journal.flush_through(through).await.unwrap();
            // Appended, never flushed: lost in the crash, as it was never acknowledged.
            journal.append([Entry::produced(&message(4))]);
        }
        // A crash in the middle of a write leaves half a line at the end.
        let path = lake.path().join(layout::LOCAL_RUNNER_JOURNAL);
        OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"entry\":\"produced\",\"top").unwrap();

        let (_, replayed) = Journal::open(lake.path()).unwrap();
        assert_eq!(replayed.topics[&("p.pin".to_string(), 1)], [message(2), message(3)]);
        assert_eq!(replayed.next_offsets[&("p.pin".to_string(), 1)], 4);
        assert_eq!(
            replayed.streams[&("streaming-p-pin".to_string(), "shardId-000000000000".to_string())],
            [record(11)]
        );
        assert_eq!(replayed.last_sequence, 11);

        // Compacted: after everything is committed, the marks still keep every position unique.
        let (journal, _) = Journal::open(lake.path()).unwrap();
        let committed = Entry::Committed { topic: "p.pin".into(), partition: 1, offset: 3 };
        let checkpoint =
            Entry::checkpoint("streaming-p-pin", "shardId-000000000000", &Resume::After(format!("{:056}", 11)));
        let through = journal.append([committed, checkpoint]);
        journal.flush_through(through).await.unwrap();
        drop(journal);
        let (_, replayed) = Journal::open(lake.path()).unwrap();
        assert!(replayed.topics.values().all(Vec::is_empty));
        assert!(replayed.streams.values().all(Vec::is_empty));
        assert_eq!(replayed.next_offsets[&("p.pin".to_string(), 1)], 4);
        assert_eq!(replayed.last_sequence, 11);
        let lines = std::fs::read_to_string(&path).unwrap();
        assert_eq!(lines.lines().count(), 2, "one mark per partition and the last sequence number:\n{lines}");
    }

    #[test]
    fn a_damaged_line_before_the_last_is_an_error_naming_it() {
        let lake = tempfile::tempdir().unwrap();
        let path = lake.path().join(layout::LOCAL_RUNNER_JOURNAL);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not json\n{\"entry\":\"next_offset\",\"topic\":\"t\",\"partition\":0,\"next\":3}\n")
            .unwrap();
        let error = Journal::open(lake.path()).err().expect("a damaged journal");
        assert!(matches!(error, JournalError::Damaged { line: 1, .. }), "{error}");
    }

    #[test]
    fn entries_keep_bytes_that_are_not_utf8() {
        let entry = Entry::stored(&record(5));
        let line = serde_json::to_string(&entry).unwrap();
        assert!(line.contains(&base64::engine::general_purpose::STANDARD.encode([0xff, b'{'])), "{line}");
        assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), entry);
    }
}
