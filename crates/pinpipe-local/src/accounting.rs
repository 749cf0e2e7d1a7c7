//! The run's accounts: every record the API acknowledged is looked up in the lake by where it was
//! stored (topic, partition and offset; or stream, shard and sequence number). A record held nowhere
//! is lost; a record held twice is doubled.
//!
//! The lake says where records are: raw objects name their first offset and hold one record per
//! line; the stream tables' rows carry `_shard_id` and `_sequence_number` (read through each table's
//! log, so only committed rows count); refused records name their origin (docs/SPEC.md §3, the one
//! `rejected/` schema).

use std::collections::HashMap;

use bytes::Bytes;
pub use pinpipe_contract::accounts::Accounts;
use pinpipe_contract::table::{ARRIVAL_DATE_COLUMN, SEQUENCE_NUMBER_COLUMN, SHARD_ID_COLUMN};
use pinpipe_contract::{layout, Names, Origin, RejectedRecord, StreamPosition, Table, TopicPosition};
use pinpipe_emulate::post::Ack;
use pinpipe_lake::{get_many, ObjectStore};
use pinpipe_tables::{table_url, LakeTable, Rows};

use crate::error::LocalError;

/// Lake objects read at once.
const READ_CONCURRENCY: usize = 16;

/// Every record the lake holds, by where it came from.
#[derive(Debug, Default)]
pub struct LakeInventory {
    /// How many times each Kafka record is held (raw objects, or refused by the landing function).
    pub topic_records: HashMap<TopicPosition, u32>,
    /// How many times each Kinesis record is held (stream tables, or refused by the stream processor).
    pub stream_records: HashMap<StreamPosition, u32>,
    /// Lines of raw objects.
    pub landed_raw: u64,
    /// Rows of the stream tables.
    pub streamed: u64,
    /// Refused records, every stage.
    pub rejected: u64,
}

fn lines(body: &Bytes) -> impl Iterator<Item = &[u8]> {
    body.split(|&byte| byte == b'\n').filter(|line| !line.is_empty())
}

/// Reads every raw object, stream table row and refused record of the lake in `store`, whose streams are
/// those of `names` (the tables are named by table).
pub async fn inventory(store: &dyn ObjectStore, names: &Names) -> Result<LakeInventory, LocalError> {
    let mut inventory = LakeInventory::default();
    count_raw_records(store, &mut inventory).await?;
    count_stream_rows(store, names, &mut inventory).await?;
    count_refused_records(store, &mut inventory).await?;
    Ok(inventory)
}

/// Counts the lines of every raw object by Kafka position.
async fn count_raw_records(store: &dyn ObjectStore, inventory: &mut LakeInventory) -> Result<(), LocalError> {
    let raw: Vec<(layout::RawKey, String)> = store
        .list(layout::RAW_PREFIX)
        .await?
        .into_iter()
        .filter_map(|object| Some((layout::parse_raw_key(&object.key)?, object.key)))
        .collect();
    let keys: Vec<String> = raw.iter().map(|(_, key)| key.clone()).collect();
    for ((raw_key, _), body) in raw.iter().zip(get_many(store, &keys, READ_CONCURRENCY).await?) {
        for (index, _) in lines(&body).enumerate() {
            inventory.landed_raw += 1;
            let position = TopicPosition {
                topic: raw_key.topic.clone(),
                partition: raw_key.partition,
                offset: raw_key.first_offset + index as i64,
            };
            *inventory.topic_records.entry(position).or_insert(0) += 1;
        }
    }
    Ok(())
}

/// Counts the rows of every stream table by Kinesis position, from their lineage columns, reading
/// each table's current snapshot through its log.
async fn count_stream_rows(
    store: &dyn ObjectStore,
    names: &Names,
    inventory: &mut LakeInventory,
) -> Result<(), LocalError> {
    for table in Table::ALL {
        let url = table_url(&store.url(), &layout::stream_table(table));
        let Some(stream_table) = LakeTable::open(&url).await? else { continue };
        let lineage =
            stream_table.read(Some(&[SHARD_ID_COLUMN, SEQUENCE_NUMBER_COLUMN]), ARRIVAL_DATE_COLUMN, Rows::All).await?;
        let lineage_error =
            |source| LocalError::Polars { what: format!("reading the lineage columns of {url}"), source };
        let shards = lineage.column(SHARD_ID_COLUMN).and_then(|column| column.str()).map_err(lineage_error)?;
        let sequence_numbers =
            lineage.column(SEQUENCE_NUMBER_COLUMN).and_then(|column| column.str()).map_err(lineage_error)?;
        for (shard, sequence_number) in shards.iter().zip(sequence_numbers.iter()) {
            inventory.streamed += 1;
            let position = StreamPosition {
                stream: names.stream(table).to_string(),
                shard_id: shard.unwrap_or_default().to_string(),
                sequence_number: sequence_number.unwrap_or_default().to_string(),
            };
            *inventory.stream_records.entry(position).or_insert(0) += 1;
        }
    }
    Ok(())
}

/// Counts every refused record, by its Kafka or Kinesis position where it has one.
async fn count_refused_records(store: &dyn ObjectStore, inventory: &mut LakeInventory) -> Result<(), LocalError> {
    let refused: Vec<String> =
        store.list(layout::REJECTED_PREFIX).await?.into_iter().map(|object| object.key).collect();
    for (key, body) in refused.iter().zip(get_many(store, &refused, READ_CONCURRENCY).await?) {
        for record in RejectedRecord::parse_lines(&body) {
            let record = record.map_err(|source| LocalError::RejectedLine { key: key.clone(), source })?;
            inventory.rejected += 1;
            match record.origin {
                Origin::Kafka(position) => *inventory.topic_records.entry(position).or_insert(0) += 1,
                Origin::Kinesis(position) => *inventory.stream_records.entry(position).or_insert(0) += 1,
                Origin::Line { .. } => {}
            }
        }
    }
    Ok(())
}

/// Settles `acks` against `inventory`, position by position: a position acknowledged more often
/// than the lake holds it lost the difference (two acknowledgements naming one position mean the
/// store gave two records one identity and kept one), and one held more often than acknowledged
/// (at least once) is doubled by the difference.
pub fn settle(posted: u64, acks: &[Ack], inventory: &LakeInventory, cleaned: u64) -> Accounts {
    let mut acked_topic: HashMap<TopicPosition, u32> = HashMap::new();
    let mut acked_stream: HashMap<StreamPosition, u32> = HashMap::new();
    for ack in acks {
        match ack {
            Ack::Topic { topic, partition, offset } => {
                let position =
                    TopicPosition { topic: topic.clone(), partition: i64::from(*partition), offset: *offset };
                *acked_topic.entry(position).or_insert(0) += 1
            }
            Ack::Stream { stream, shard, sequence_number } => {
                let position = StreamPosition {
                    stream: stream.clone(),
                    shard_id: shard.clone(),
                    sequence_number: sequence_number.clone(),
                };
                *acked_stream.entry(position).or_insert(0) += 1
            }
        }
    }
    let (topic_lost, topic_doubled) = compare(&acked_topic, &inventory.topic_records);
    let (stream_lost, stream_doubled) = compare(&acked_stream, &inventory.stream_records);
    Accounts {
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
        let held_topic = |offset| TopicPosition { topic: "p.pin".into(), partition: 0, offset };
        let held_stream = |sequence_number: &str| StreamPosition {
            stream: "streaming-p-pin".into(),
            shard_id: "s0".into(),
            sequence_number: sequence_number.into(),
        };
        inventory.topic_records.insert(held_topic(0), 1);
        inventory.topic_records.insert(held_topic(1), 2);
        inventory.stream_records.insert(held_stream("7"), 1);
        inventory.stream_records.insert(held_stream("8"), 1);
        let topic = |offset| Ack::Topic { topic: "p.pin".into(), partition: 0, offset };
        let stream = |sequence_number: &str| Ack::Stream {
            stream: "streaming-p-pin".into(),
            shard: "s0".into(),
            sequence_number: sequence_number.into(),
        };
        // Two acknowledgements of stream record 8, which the lake holds once: one of them was lost.
        let acks = [topic(0), topic(1), topic(2), stream("7"), stream("8"), stream("8"), stream("9")];
        let accounts = settle(8, &acks, &inventory, 3);
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
