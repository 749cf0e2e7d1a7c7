//! The accounts of a `pinpipe run` (docs/DESIGN.md): what was posted, acknowledged, landed, cleaned,
//! streamed, refused, lost and doubled. `pinpipe run` prints them as its last line (JSON) and the run's
//! report shows them; the local runner settles them.

use serde::{Deserialize, Serialize};

/// The accounts of a run: the last line `pinpipe run` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
