//! pinpipe's data contract in code ([`docs/SPEC.md`](../../docs/SPEC.md)): what every stage agrees on,
//! spelled once. No Polars, no AWS, no async runtime: the lean functions depend on it too.
//!
//! * [`table`]: the three source tables, their raw fields and their cleaned and lineage columns (SPEC §1, §4).
//! * [`names`]: topic and stream names from the naming prefix, and which table each feeds (SPEC §2).
//! * [`layout`]: every key of the lake, built and parsed (SPEC §3).
//! * [`accounts`]: the accounts of a `pinpipe run`.
//! * [`failed`]: the failed-invocation records a trigger keeps of a batch it gave up on (SPEC §3).
//! * [`rejected`]: the one schema of a refused record, shared by every stage (SPEC §3), and the typed
//!   positions of Kafka and Kinesis records.

pub mod accounts;
pub mod failed;
pub mod layout;
pub mod names;
pub mod rejected;
pub mod table;

pub use names::Names;
pub use rejected::{Origin, Payload, RejectKind, RejectedRecord, Stage, StreamPosition, TopicPosition};
pub use table::Table;
