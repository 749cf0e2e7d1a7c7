//! Every key of the lake (SPEC §3). Nothing else in pinpipe spells a key by hand.
//!
//! | layer    | key                                                                  |
//! |----------|----------------------------------------------------------------------|
//! | raw      | `topics/<topic>/partition=<p>/<topic>+<p>+<first offset, 10 digits>.json` |
//! | cleaned  | `cleaned/<table>/run_date=<date>/part-00000.parquet`                 |
//! | results  | `results/<date>/<query id>.parquet`, `results/<date>/manifest.json`  |
//! | stream   | `stream/<table>/<shard id>-<first sequence number>.parquet`          |
//! | rejected | `rejected/<source>/<name>.jsonl`                                     |
//! | state    | `state/batch-transform/consumed/<date>.json`                         |

/// Prefix of the raw layer (what the Kafka→S3 sink writes).
pub const RAW_PREFIX: &str = "topics/";
/// Prefix of the cleaned layer.
pub const CLEANED_PREFIX: &str = "cleaned/";
/// Prefix of the query results.
pub const RESULTS_PREFIX: &str = "results/";
/// Prefix of the stream tables.
pub const STREAM_PREFIX: &str = "stream/";
/// Prefix of refused records.
pub const REJECTED_PREFIX: &str = "rejected/";
/// Prefix of the batch transform's ledger of consumed raw objects.
pub const CONSUMED_PREFIX: &str = "state/batch-transform/consumed/";

/// The key of one raw object: a contiguous run of offsets of one topic partition.
pub fn raw_key(topic: &str, partition: i64, first_offset: i64) -> String {
    format!("{RAW_PREFIX}{topic}/partition={partition}/{topic}+{partition}+{first_offset:010}.json")
}

/// The parts of a raw key, as [`raw_key`] builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawKey {
    /// The Kafka topic.
    pub topic: String,
    /// The partition number.
    pub partition: i64,
    /// The offset of the object's first record.
    pub first_offset: i64,
}

/// Parses a key written by [`raw_key`]; `None` for any other key.
pub fn parse_raw_key(key: &str) -> Option<RawKey> {
    let rest = key.strip_prefix(RAW_PREFIX)?;
    let (topic, rest) = rest.split_once('/')?;
    let (partition_dir, file) = rest.split_once('/')?;
    let partition: i64 = partition_dir.strip_prefix("partition=")?.parse().ok()?;
    let stem = file.strip_suffix(".json")?;
    let (file_topic, numbers) = stem.rsplit_once('+').and_then(|(head, offset)| {
        let (file_topic, file_partition) = head.rsplit_once('+')?;
        (file_partition.parse::<i64>().ok()? == partition).then_some((file_topic, offset))
    })?;
    if file_topic != topic || numbers.len() < 10 {
        return None;
    }
    Some(RawKey { topic: topic.to_string(), partition, first_offset: numbers.parse().ok()? })
}

/// The table a topic or stream feeds: the text after the last `.` or `-` (`<prefix>.pin` → `pin`).
pub fn table_of(topic_or_stream: &str) -> &str {
    topic_or_stream.rsplit(['.', '-']).next().unwrap_or(topic_or_stream)
}

/// Prefix of one cleaned table.
pub fn cleaned_table_prefix(table: &str) -> String {
    format!("{CLEANED_PREFIX}{table}/")
}

/// The cleaned part a batch run of `run_date` (`YYYY-MM-DD`) writes for one table.
pub fn cleaned_part_key(table: &str, run_date: &str) -> String {
    format!("{CLEANED_PREFIX}{table}/run_date={run_date}/part-00000.parquet")
}

/// The run date of a key written by [`cleaned_part_key`].
pub fn run_date_of_cleaned_part(key: &str) -> Option<&str> {
    let (_, rest) = key.split_once("/run_date=")?;
    rest.split_once('/').map(|(date, _)| date)
}

/// One query's result for a run date.
pub fn result_key(run_date: &str, query_id: &str) -> String {
    format!("{RESULTS_PREFIX}{run_date}/{query_id}.parquet")
}

/// The manifest of a batch run.
pub fn manifest_key(run_date: &str) -> String {
    format!("{RESULTS_PREFIX}{run_date}/manifest.json")
}

/// The ledger of raw objects a batch run of `run_date` consumed.
pub fn consumed_key(run_date: &str) -> String {
    format!("{CONSUMED_PREFIX}{run_date}.json")
}

/// The run date of a key written by [`consumed_key`].
pub fn run_date_of_consumed(key: &str) -> Option<&str> {
    key.strip_prefix(CONSUMED_PREFIX)?.strip_suffix(".json")
}

/// An object of refused records from one stage (`source`, such as `batch-transform`).
pub fn rejected_key(source: &str, name: &str) -> String {
    format!("{REJECTED_PREFIX}{source}/{name}.jsonl")
}

/// A stream-table part, named from the shard and the first sequence number so a retried batch rewrites it.
pub fn stream_part_key(table: &str, shard_id: &str, first_sequence_number: &str) -> String {
    format!("{STREAM_PREFIX}{table}/{shard_id}-{first_sequence_number}.parquet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_key_matches_the_kafka_connect_layout() {
        assert_eq!(raw_key("p.pin", 3, 42), "topics/p.pin/partition=3/p.pin+3+0000000042.json");
    }

    #[test]
    fn raw_key_round_trips_and_other_keys_do_not_parse() {
        let key = raw_key("12a.geo", 0, 12_345_678_901);
        assert_eq!(
            parse_raw_key(&key),
            Some(RawKey { topic: "12a.geo".into(), partition: 0, first_offset: 12_345_678_901 })
        );
        assert_eq!(parse_raw_key("topics/p.pin/partition=1/p.pin+2+0000000000.json"), None);
        assert_eq!(parse_raw_key("topics/p.pin/partition=1/other+1+0000000000.json"), None);
        assert_eq!(parse_raw_key("topics/p.pin/partition=1/p.pin+1+12.json"), None);
        assert_eq!(parse_raw_key("cleaned/pin/x.json"), None);
    }

    #[test]
    fn tables_come_from_topic_and_stream_names() {
        assert_eq!(table_of("0a1b.pin"), "pin");
        assert_eq!(table_of("streaming-0a1b-geo"), "geo");
        assert_eq!(table_of("user"), "user");
    }

    #[test]
    fn run_dates_are_read_back_from_keys() {
        assert_eq!(run_date_of_cleaned_part(&cleaned_part_key("pin", "2026-11-25")), Some("2026-11-25"));
        assert_eq!(run_date_of_consumed(&consumed_key("2026-11-25")), Some("2026-11-25"));
        assert_eq!(run_date_of_consumed("state/other/2026-11-25.json"), None);
    }
}
