//! The whole pinpipe pipeline on one machine (`pinpipe run` and `pinpipe serve`).
//!
//! Only the adapters differ from AWS; the handlers are the Lambda functions' own:
//! * the ingestion API ([`pinpipe_ingest::Ingest`]) served over HTTP on loopback;
//! * topics and streams either embedded in the process ([`memory`], kept across crashes by their
//!   [`journal`]) or on real protocol servers on
//!   loopback ([`kafka_feed`]: a Kafka-protocol broker read by a consumer group; [`kinesis_feed`]:
//!   moto's Kinesis read through shard iterators);
//! * the event-source loops ([`delivery`]) play Lambda's event-source mappings: they turn what the
//!   feeds ([`feed`]) hand over into the events Lambda sends ([`pinpipe_events`]) and call the landing
//!   (`kafka-to-s3`) and stream (`stream-processor`) handlers, committing only what a handler took,
//!   and keep a batch they give up on as Lambda does ([`failure`]);
//! * [`replay`] sends kept batches and refused records through the handlers again (`pinpipe replay`);
//! * [`stack`] assembles them, and runs the `batch-transform` handler on a scheduled event;
//! * [`run`] posts emulated records through the API, waits until they are delivered, runs the batch
//!   and settles the accounts ([`accounting`]): what was acknowledged, landed, cleaned, streamed,
//!   refused, lost or doubled; [`report`] rewrites the run date's report (`pinpipe_report`) with the
//!   accounts; progress bars on the terminal show posting, delivery and the batch;
//! * [`error`] holds the typed errors of each: [`FeedError`], [`DeliveryError`], [`LocalError`].

pub mod accounting;
pub mod delivery;
pub mod error;
pub mod failure;
pub mod feed;
pub mod journal;
pub mod kafka_feed;
pub mod kinesis_feed;
pub mod memory;
mod progress;
pub mod replay;
pub mod report;
pub mod run;
pub mod stack;

pub use batch_transform::RunSummary;
pub use error::{DeliveryError, FeedError, LocalError};
pub use run::{run, Paths, RunOptions, RunReport};
pub use stack::{Services, Stack, StackOptions};
