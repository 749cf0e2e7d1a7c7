//! Positions in the log: where a source's data was taken up to, as `txn` actions.

use deltalake::kernel::Transaction;

use crate::error::{delta_error, TableError};
use crate::table::LakeTable;

/// `txn` actions that hold one position.
pub const POSITION_CHUNKS: usize = 8;
/// Digits of a position in one `txn` version.
const CHUNK_DIGITS: usize = 18;

impl LakeTable {
    /// `source`'s last position in the snapshot held; `None` before its first commit.
    pub async fn last_position(&self, source: &str) -> Result<Option<String>, TableError> {
        let snapshot = self.table.snapshot().map_err(|error| delta_error(&self.url, error))?;
        let log_store = self.table.log_store();
        let mut digits = String::with_capacity(POSITION_CHUNKS * CHUNK_DIGITS);
        for chunk in 0..POSITION_CHUNKS {
            let version = snapshot
                .transaction_version(log_store.as_ref(), format!("{source}#{chunk}"))
                .await
                .map_err(|error| delta_error(&self.url, error))?;
            let Some(version) = version else { return Ok(None) };
            digits.push_str(&format!("{version:0>CHUNK_DIGITS$}"));
        }
        let trimmed = digits.trim_start_matches('0');
        Ok(Some(if trimmed.is_empty() { "0" } else { trimmed }.to_string()))
    }
}

/// The `txn` actions that set `source`'s last position to `position`.
pub fn position_txns(source: &str, position: &str) -> Result<Vec<Transaction>, TableError> {
    let width = POSITION_CHUNKS * CHUNK_DIGITS;
    if position.is_empty() || position.len() > width || !position.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(TableError::Position(position.to_string()));
    }
    let padded = format!("{position:0>width$}");
    let now = chrono::Utc::now().timestamp_millis();
    Ok((0..POSITION_CHUNKS)
        .map(|chunk| {
            let digits = &padded[chunk * CHUNK_DIGITS..(chunk + 1) * CHUNK_DIGITS];
            let version = digits.parse::<i64>().expect("18 decimal digits fit an i64");
            Transaction::new_with_last_update(format!("{source}#{chunk}"), version, Some(now))
        })
        .collect())
}
