//! The run's accounts: every record the API acknowledged is looked up in the lake by where it was
//! stored (topic, partition and offset; or stream, shard and sequence number). A record held nowhere
//! is lost; a record held twice is doubled.
//!
//! The lake says where records are: raw objects name their first offset and hold one record per
//! line; stream parts carry `_shard_id` and `_sequence_number` per row; refused records name their
//! origin in `rejected/kafka-to-s3/` and `rejected/stream-processor/`.

use std::collections::HashMap;
use std::io::Cursor;

use anyhow::Context as _;
use bytes::Bytes;
use pinpipe_emulate::post::Ack;
use pinpipe_lake::{get_many, layout, ObjectStore};
use polars::prelude::{ParquetReader, SerReader};
use serde::{Deserialize, Serialize};
use stream_processor::{SEQUENCE_NUMBER_COLUMN, SHARD_ID_COLUMN};

/// Lake objects read at once.
const READ_CONCURRENCY: usize = 16;

/// Where a Kafka record is: topic, partition, offset.
pub type TopicPosition = (String, i32, i64);
/// Where a Kinesis record is: stream, shard, sequence number.
pub type StreamPosition = (String, String, String);

/// Every record the lake holds, by where it came from.
#[derive(Debug, Default)]
pub struct LakeInventory {
    /// How many times each Kafka record is held (raw objects, or refused by the landing function).
    pub topic_records: HashMap<TopicPosition, u32>,
    /// How many times each Kinesis record is held (stream parts, or refused by the stream processor).
    pub stream_records: HashMap<StreamPosition, u32>,
    /// Lines of raw objects.
    pub landed_raw: u64,
    /// Rows of stream parts.
    pub streamed: u64,
    /// Refused records, every stage.
    pub rejected: u64,
}

/// A line of `rejected/kafka-to-s3/` or `rejected/stream-processor/`, for where it came from.
#[derive(Deserialize)]
struct RefusedOrigin {
    topic: Option<String>,
    partition: Option<i32>,
    offset: Option<i64>,
    stream: Option<String>,
    shard_id: Option<String>,
    sequence_number: Option<String>,
}

fn lines(body: &Bytes) -> impl Iterator<Item = &[u8]> {
    body.split(|&byte| byte == b'\n').filter(|line| !line.is_empty())
}

/// Reads every raw object, stream part and refused record of the lake in `store`; `stream_of_table`
/// names the stream feeding a table (stream parts are filed by table).
pub async fn inventory(
    store: &dyn ObjectStore,
    stream_of_table: impl Fn(&str) -> String,
) -> anyhow::Result<LakeInventory> {
    let mut inventory = LakeInventory::default();

    let raw: Vec<(layout::RawKey, String)> = store
        .list(layout::RAW_PREFIX)
        .await?
        .into_iter()
        .filter_map(|object| Some((layout::parse_raw_key(&object.key)?, object.key)))
        .collect();
    let keys: Vec<String> = raw.iter().map(|(_, key)| key.clone()).collect();
    for ((raw_key, _), body) in raw.iter().zip(get_many(store, &keys, READ_CONCURRENCY).await?) {
        let partition = i32::try_from(raw_key.partition).context("a raw key's partition is out of range")?;
        for (index, _) in lines(&body).enumerate() {
            inventory.landed_raw += 1;
            let position = (raw_key.topic.clone(), partition, raw_key.first_offset + index as i64);
            *inventory.topic_records.entry(position).or_insert(0) += 1;
        }
    }

    let parts: Vec<String> = store
        .list(layout::STREAM_PREFIX)
        .await?
        .into_iter()
        .map(|object| object.key)
        .filter(|key| key.ends_with(".parquet"))
        .collect();
    for (key, body) in parts.iter().zip(get_many(store, &parts, READ_CONCURRENCY).await?) {
        let stream = stream_of_table(table_of_part(key)?);
        let frame = ParquetReader::new(Cursor::new(body))
            .with_columns(Some(vec![SHARD_ID_COLUMN.into(), SEQUENCE_NUMBER_COLUMN.into()]))
            .finish()
            .with_context(|| format!("reading the lineage columns of {key}"))?;
        let shards = frame.column(SHARD_ID_COLUMN)?.str()?.clone();
        let sequence_numbers = frame.column(SEQUENCE_NUMBER_COLUMN)?.str()?.clone();
        for (shard, sequence_number) in shards.iter().zip(sequence_numbers.iter()) {
            inventory.streamed += 1;
            let (shard, sequence_number) = (shard.unwrap_or_default(), sequence_number.unwrap_or_default());
            let position = (stream.clone(), shard.to_string(), sequence_number.to_string());
            *inventory.stream_records.entry(position).or_insert(0) += 1;
        }
    }

    let refused: Vec<String> =
        store.list(layout::REJECTED_PREFIX).await?.into_iter().map(|object| object.key).collect();
    for body in get_many(store, &refused, READ_CONCURRENCY).await? {
        for line in lines(&body) {
            inventory.rejected += 1;
            let Ok(origin) = serde_json::from_slice::<RefusedOrigin>(line) else { continue };
            if let (Some(topic), Some(partition), Some(offset)) = (origin.topic, origin.partition, origin.offset) {
                *inventory.topic_records.entry((topic, partition, offset)).or_insert(0) += 1;
            } else if let (Some(stream), Some(shard), Some(sequence_number)) =
                (origin.stream, origin.shard_id, origin.sequence_number)
            {
                *inventory.stream_records.entry((stream, shard, sequence_number)).or_insert(0) += 1;
            }
        }
    }
    Ok(inventory)
}

/// The table of a stream part `stream/<table>/…`.
fn table_of_part(key: &str) -> anyhow::Result<&str> {
    key.strip_prefix(layout::STREAM_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .map(|(table, _)| table)
        .with_context(|| format!("{key} is not a stream part key"))
}

/// The accounts of a run: the last line `pinpipe run` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    /// Records sent to the API.
    pub posted: u64,
    /// Records the API acknowledged as stored.
    pub acknowledged: u64,
    /// Records in the raw layer.
    pub landed_raw: u64,
    /// Records the batch cleaned in this run.
    pub cleaned: u64,
    /// Rows of the stream tables.
    pub streamed: u64,
    /// Records refused by any stage (with their reasons in `rejected/`).
    pub rejected: u64,
    /// Acknowledged records the lake does not hold.
    pub lost: u64,
    /// Extra copies of records the lake holds more than once.
    pub doubled: u64,
}

impl Accounts {
    /// Settles `acks` against `inventory`, position by position: a position acknowledged more often
    /// than the lake holds it lost the difference (two acknowledgements naming one position mean the
    /// store gave two records one identity and kept one), and one held more often than acknowledged
    /// (at least once) is doubled by the difference.
    pub fn settle(posted: u64, acks: &[Ack], inventory: &LakeInventory, cleaned: u64) -> Self {
        let mut acked_topic: HashMap<TopicPosition, u32> = HashMap::new();
        let mut acked_stream: HashMap<StreamPosition, u32> = HashMap::new();
        for ack in acks {
            match ack {
                Ack::Topic { topic, partition, offset } => {
                    *acked_topic.entry((topic.clone(), *partition, *offset)).or_insert(0) += 1
                }
                Ack::Stream { stream, shard, sequence_number } => {
                    *acked_stream.entry((stream.clone(), shard.clone(), sequence_number.clone())).or_insert(0) += 1
                }
            }
        }
        let (topic_lost, topic_doubled) = compare(&acked_topic, &inventory.topic_records);
        let (stream_lost, stream_doubled) = compare(&acked_stream, &inventory.stream_records);
        Self {
            posted,
            acknowledged: acks.len() as u64,
            landed_raw: inventory.landed_raw,
            cleaned,
            streamed: inventory.streamed,
            rejected: inventory.rejected,
            lost: topic_lost + stream_lost,
            doubled: topic_doubled + stream_doubled,
        }
    }
}

/// (lost, doubled) of the positions acknowledged (`acked`) against those held (`held`), each with
/// its count.
fn compare<P: Eq + std::hash::Hash>(acked: &HashMap<P, u32>, held: &HashMap<P, u32>) -> (u64, u64) {
    let lost = acked.iter().map(|(position, &acks)| acks.saturating_sub(held.get(position).copied().unwrap_or(0)));
    let doubled =
        held.iter().map(|(position, &copies)| copies.saturating_sub(acked.get(position).copied().unwrap_or(0).max(1)));
    (lost.map(u64::from).sum(), doubled.map(u64::from).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_records_and_shared_positions_are_lost_and_second_copies_doubled() {
        let mut inventory = LakeInventory { landed_raw: 3, streamed: 2, rejected: 1, ..Default::default() };
        inventory.topic_records.insert(("p.pin".into(), 0, 0), 1);
        inventory.topic_records.insert(("p.pin".into(), 0, 1), 2);
        inventory.stream_records.insert(("streaming-p-pin".into(), "s0".into(), "7".into()), 1);
        inventory.stream_records.insert(("streaming-p-pin".into(), "s0".into(), "8".into()), 1);
        let topic = |offset| Ack::Topic { topic: "p.pin".into(), partition: 0, offset };
        let stream = |sequence_number: &str| Ack::Stream {
            stream: "streaming-p-pin".into(),
            shard: "s0".into(),
            sequence_number: sequence_number.into(),
        };
        // Two acknowledgements of stream record 8, which the lake holds once: one of them was lost.
        let acks = [topic(0), topic(1), topic(2), stream("7"), stream("8"), stream("8"), stream("9")];
        let accounts = Accounts::settle(8, &acks, &inventory, 3);
        assert_eq!(
            accounts,
            Accounts {
                posted: 8,
                acknowledged: 7,
                landed_raw: 3,
                cleaned: 3,
                streamed: 2,
                rejected: 1,
                lost: 3,
                doubled: 1
            }
        );
    }
}
