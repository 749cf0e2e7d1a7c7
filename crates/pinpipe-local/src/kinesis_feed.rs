//! The streams on a real Kinesis endpoint (`--services local`: moto on loopback), read as Lambda's
//! Kinesis event source reads them: shard by shard through shard iterators, one batch per shard at a
//! time, resuming after the last record taken or at the first one to retry. Each shard's checkpoint
//! is kept in the lake (`state/local-runner/kinesis/<stream>/<shard>`), so a restart resumes there.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;
use bytes::Bytes;
use pinpipe_contract::layout;
use pinpipe_lake::{ObjectStore, StoreError};

use crate::error::FeedError;
use crate::feed::{Resume, ShardRecord, StreamFeed};

/// How long an empty round over every shard waits before the next.
const IDLE_PAUSE: Duration = Duration::from_millis(200);

/// Where the next read of a shard starts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Position {
    TrimHorizon,
    After(String),
    At(String),
}

struct ShardState {
    stream: String,
    shard: String,
    position: Position,
    /// The iterator of the next read, when one is open.
    iterator: Option<String>,
    /// The iterator after the batch in flight, used when that batch is taken.
    after_batch: Option<String>,
}

/// Every shard of a set of streams.
pub struct KinesisFeed {
    client: Client,
    shards: Vec<ShardState>,
    next_shard: usize,
    checkpoints: Arc<dyn ObjectStore>,
}

impl KinesisFeed {
    /// Reads every shard of `streams`, each from its checkpoint in `checkpoints` (else from the
    /// oldest record).
    pub async fn new(client: Client, streams: &[String], checkpoints: Arc<dyn ObjectStore>) -> Result<Self, FeedError> {
        let mut shards = Vec::new();
        for stream in streams {
            let listed = client
                .list_shards()
                .stream_name(stream)
                .send()
                .await
                .map_err(|source| FeedError::kinesis(format!("listing the shards of {stream}"), source))?;
            for shard in listed.shards() {
                let key = layout::kinesis_checkpoint_key(stream, shard.shard_id());
                let position = match checkpoints.get(&key).await {
                    Ok(body) => Position::After(String::from_utf8_lossy(&body).trim().to_string()),
                    Err(StoreError::NotFound(_)) => Position::TrimHorizon,
                    Err(source) => return Err(FeedError::Checkpoint { action: "reading", key, source }),
                };
                shards.push(ShardState {
                    stream: stream.clone(),
                    shard: shard.shard_id().to_string(),
                    position,
                    iterator: None,
                    after_batch: None,
                });
            }
        }
        Ok(Self { client, shards, next_shard: 0, checkpoints })
    }

    async fn iterator(&self, stream: &str, shard: &str, position: &Position) -> Result<Option<String>, FeedError> {
        let request = self.client.get_shard_iterator().stream_name(stream).shard_id(shard);
        let request = match position {
            Position::TrimHorizon => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            Position::After(sequence_number) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence_number),
            Position::At(sequence_number) => request
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .starting_sequence_number(sequence_number),
        };
        let answer =
            request.send().await.map_err(|source| FeedError::kinesis(format!("opening {stream}/{shard}"), source))?;
        Ok(answer.shard_iterator().map(str::to_string))
    }

    /// One read of shard `index`: its records (the iterator after them kept for the checkpoint).
    async fn read(&mut self, index: usize, max_records: usize) -> Result<Vec<ShardRecord>, FeedError> {
        let state = &self.shards[index];
        let iterator = match &state.iterator {
            Some(iterator) => Some(iterator.clone()),
            None => self.iterator(&state.stream, &state.shard, &state.position).await?,
        };
        let Some(iterator) = iterator else { return Ok(Vec::new()) };
        let limit = i32::try_from(max_records.min(10_000)).unwrap_or(10_000);
        let answer = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit)
            .send()
            .await
            .map_err(|source| FeedError::kinesis(format!("reading {}/{}", state.stream, state.shard), source))?;
        let records: Vec<ShardRecord> = answer
            .records()
            .iter()
            .map(|record| ShardRecord {
                stream: state.stream.clone(),
                shard: state.shard.clone(),
                sequence_number: record.sequence_number().to_string(),
                partition_key: record.partition_key().unwrap_or_default().to_string(),
                data: record.data().as_ref().to_vec(),
                arrival_ms: record.approximate_arrival_timestamp().and_then(|time| time.to_millis().ok()).unwrap_or(0),
            })
            .collect();
        let next = answer.next_shard_iterator().map(str::to_string);
        let state = &mut self.shards[index];
        if records.is_empty() {
            state.iterator = next;
        } else {
            state.after_batch = next;
        }
        Ok(records)
    }
}

#[async_trait]
impl StreamFeed for KinesisFeed {
    async fn poll(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ShardRecord>, FeedError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            for _ in 0..self.shards.len() {
                let index = self.next_shard % self.shards.len();
                self.next_shard = index + 1;
                let records = self.read(index, max_records).await?;
                if !records.is_empty() {
                    return Ok(records);
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            tokio::time::sleep(IDLE_PAUSE.min(deadline - now)).await;
        }
    }

    async fn checkpoint(&mut self, stream: &str, shard: &str, resume: Resume) -> Result<(), FeedError> {
        let Some(state) = self.shards.iter_mut().find(|state| state.stream == stream && state.shard == shard) else {
            return Err(FeedError::UnknownShard { stream: stream.to_string(), shard: shard.to_string() });
        };
        match resume {
            Resume::After(sequence_number) => {
                state.iterator = state.after_batch.take();
                state.position = Position::After(sequence_number.clone());
                let key = layout::kinesis_checkpoint_key(stream, shard);
                if let Err(source) = self.checkpoints.put(&key, Bytes::from(sequence_number)).await {
                    return Err(FeedError::Checkpoint { action: "storing", key, source });
                }
            }
            Resume::At(sequence_number) => {
                state.iterator = None;
                state.after_batch = None;
                state.position = Position::At(sequence_number);
            }
        }
        Ok(())
    }

    async fn lag(&mut self) -> Result<u64, FeedError> {
        let mut lag = 0;
        for state in &self.shards {
            let mut iterator = self.iterator(&state.stream, &state.shard, &state.position).await?;
            while let Some(current) = iterator {
                let answer = self.client.get_records().shard_iterator(current).send().await.map_err(|source| {
                    FeedError::kinesis(format!("reading {}/{} to tell its lag", state.stream, state.shard), source)
                })?;
                if answer.records().is_empty() {
                    break;
                }
                lag += answer.records().len() as u64;
                iterator = answer.next_shard_iterator().map(str::to_string);
            }
        }
        Ok(lag)
    }
}
