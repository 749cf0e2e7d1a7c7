//! Every key of the lake (docs/SPEC.md §3), built and parsed. Nothing else in pinpipe spells a key.
//!
//! | layer    | key                                                                              |
//! |----------|----------------------------------------------------------------------------------|
//! | raw      | `topics/<topic>/partition=<p>/<topic>+<p>+<first offset, 10 digits>.json`        |
//! | cleaned  | `cleaned/<table>/`: a Delta table partitioned by `run_date`                      |
//! | results  | `results/<query id>/`: a Delta table partitioned by `run_date`                   |
//! | runs     | `runs/<date>/manifest.json`, `runs/<date>/report.html`                           |
//! | unloads  | `athena-unload/<date>/<run id>/<query id>/…`: Athena's Parquet output (QueryEngine=Athena) |
//! | staging  | `staging/<date>/<run id>/plan.json`, `…/part-<n>/<table>.parquet`, `…/part-<n>/decoded.json`: a fanned-out clean's parts (QueryEngine=Athena) |
//! | stream   | `stream/<table>/`: a Delta table partitioned by `arrival_date`                    |
//! | rejected | `rejected/batch-transform/<date>/<table>.jsonl`                                  |
//! |          | `rejected/kafka-to-s3/<topic>/partition=<p>/<topic>+<p>+<first offset>.jsonl`    |
//! |          | `rejected/stream-processor/<table or unrouted>/<shard id>-<first>-<last sequence number>.jsonl` |
//! | state    | `state/batch-transform/consumed/<date>.json`, `state/local-runner/kinesis/<stream>/<shard id>`, `state/local-runner/journal.jsonl` |
//! | failed   | `aws/lambda/<trigger UUID>/<shard or partition>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>` (named by Lambda, see [`FAILED_PREFIX`]) |

use crate::names::is_kafka_topic_name;
use crate::rejected::Stage;
use crate::table::Table;

/// Prefix of the raw layer (what the Kafka→S3 sink writes).
pub const RAW_PREFIX: &str = "topics/";
/// Prefix of the cleaned layer.
pub const CLEANED_PREFIX: &str = "cleaned/";
/// Prefix of the query results.
pub const RESULTS_PREFIX: &str = "results/";
/// Prefix of the batch runs' manifests and reports.
pub const RUNS_PREFIX: &str = "runs/";
/// Prefix of the Parquet files Athena writes for the batch's queries (template `QueryEngine=Athena`),
/// which the batch commits into the result tables and then deletes.
pub const ATHENA_UNLOAD_PREFIX: &str = "athena-unload/";
/// Prefix of what the fanned-out clean stage (template `QueryEngine=Athena`) stages between its
/// invocations: the plan of a run and each part's decoded records, deleted once the run commits.
pub const STAGING_PREFIX: &str = "staging/";
/// Prefix of the stream tables.
pub const STREAM_PREFIX: &str = "stream/";
/// Prefix of refused records.
pub const REJECTED_PREFIX: &str = "rejected/";
/// Prefix of the batch transform's ledger of consumed raw objects.
pub const CONSUMED_PREFIX: &str = "state/batch-transform/consumed/";
/// Prefix of the failed-invocation records: the Kinesis and MSK batches a trigger gave up on (after its
/// retries, or past its maximum record age), kept whole by the triggers' S3 on-failure destination.
///
/// Lambda writes these objects itself and takes no prefix for them, so the prefix is Lambda's own
/// (see [`failed_key`]); each object is one [`crate::failed::FailedInvocation`], whose `payload` is the
/// invocation's whole event, which is what a replay sends again. On AWS only Lambda writes here;
/// `pinpipe run`/`serve` write the same records where their event-source loops give up (docs/SPEC.md §3).
pub const FAILED_PREFIX: &str = "aws/lambda/";

/// The key Lambda gives a failed-invocation record: `aws/lambda/<trigger UUID>/<shard id or
/// partition>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>`, the time in UTC given as `YYYY-MM-DDTHH.MM.SS`.
pub fn failed_key(trigger_uuid: &str, shard_or_partition: &str, time: &str, uuid: &str) -> String {
    let day = time.get(..10).unwrap_or_default().replace('-', "/");
    format!("{FAILED_PREFIX}{trigger_uuid}/{shard_or_partition}/{day}/{time}-{uuid}")
}

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

/// The Delta table of the cleaned rows of `table`, relative to the lake root (docs/SPEC.md §3).
pub fn cleaned_table(table: Table) -> String {
    format!("{CLEANED_PREFIX}{table}")
}

/// The Delta table of one query's results, relative to the lake root (docs/SPEC.md §3).
pub fn result_table(query_id: &str) -> String {
    format!("{RESULTS_PREFIX}{query_id}")
}

/// The source a batch run of `run_date` names in its commits' `txn` actions: their version counts the
/// date's runs, so two runs of one date at once conflict in the log and one of them fails.
pub fn batch_run_source(run_date: &str) -> String {
    format!("batch-transform/{run_date}")
}

/// The source every batch run names in its commits' `txn` actions, whatever its date: its version
/// counts a table's runs, so two runs at once (of any dates) conflict in the log of the first table
/// both commit to, and one of them fails before it consumed anything.
pub const BATCH_RUNS_SOURCE: &str = "batch-transform";

/// Where one Athena run of the queries for `run_date` unloads its results (`run_id` tells runs of one
/// date apart: Athena unloads only into an empty location); each query's under `<this><query id>/`.
pub fn athena_unload_prefix(run_date: &str, run_id: &str) -> String {
    format!("{ATHENA_UNLOAD_PREFIX}{run_date}/{run_id}/")
}

/// Where one fanned-out clean of `run_date` stages its plan and parts (`run_id` tells runs apart).
pub fn staging_prefix(run_date: &str, run_id: &str) -> String {
    format!("{STAGING_PREFIX}{run_date}/{run_id}/")
}

/// The plan of a fanned-out clean: which raw objects each part decodes.
pub fn staged_plan_key(run_date: &str, run_id: &str) -> String {
    format!("{}plan.json", staging_prefix(run_date, run_id))
}

/// One part's decoded distinct records of `table`, as Parquet.
pub fn staged_records_key(run_date: &str, run_id: &str, part: usize, table: Table) -> String {
    format!("{}part-{part}/{table}.parquet", staging_prefix(run_date, run_id))
}

/// One part's decoding counts and refused lines, as JSON.
pub fn staged_decoded_key(run_date: &str, run_id: &str, part: usize) -> String {
    format!("{}part-{part}/decoded.json", staging_prefix(run_date, run_id))
}

/// The manifest of a batch run.
pub fn manifest_key(run_date: &str) -> String {
    format!("{RUNS_PREFIX}{run_date}/manifest.json")
}

/// The run date of a key written by [`manifest_key`]: each run date of the lake has one.
pub fn run_date_of_manifest(key: &str) -> Option<&str> {
    let date = key.strip_prefix(RUNS_PREFIX)?.strip_suffix("/manifest.json")?;
    (!date.is_empty() && !date.contains('/')).then_some(date)
}

/// The report of a batch run: one self-contained HTML page of its results and counts.
pub fn report_key(run_date: &str) -> String {
    format!("{RUNS_PREFIX}{run_date}/report.html")
}

/// The ledger of raw objects a batch run of `run_date` consumed.
pub fn consumed_key(run_date: &str) -> String {
    format!("{CONSUMED_PREFIX}{run_date}.json")
}

/// The run date of a key written by [`consumed_key`].
pub fn run_date_of_consumed(key: &str) -> Option<&str> {
    key.strip_prefix(CONSUMED_PREFIX)?.strip_suffix(".json")
}

/// The prefix of one stage's refused records.
pub fn rejected_prefix(stage: Stage) -> String {
    format!("{REJECTED_PREFIX}{stage}/")
}

/// The records of `table` the batch run of `run_date` refused.
pub fn batch_rejected_key(run_date: &str, table: Table) -> String {
    format!("{REJECTED_PREFIX}{}/{run_date}/{table}.jsonl", Stage::BatchTransform)
}

/// The run date of a key written by [`batch_rejected_key`]; `None` for any other key.
pub fn run_date_of_batch_rejected(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(REJECTED_PREFIX)?.strip_prefix(Stage::BatchTransform.name())?.strip_prefix('/')?;
    let (date, file) = rest.split_once('/')?;
    let table = file.strip_suffix(".jsonl")?;
    Table::from_name(table).map(|_| date)
}

/// The records the landing function refused from the run of `topic` partition `partition` starting at
/// `first_offset`: the raw key's path under `rejected/kafka-to-s3/`, so a redelivery rewrites it too. A
/// name that is no Kafka topic name (never from MSK) is hex-encoded so that it cannot shape the key, after
/// `invalid-topic=` (no topic name holds `=`, so it cannot be another topic's folder).
pub fn landing_rejected_key(topic: &str, partition: i64, first_offset: i64) -> String {
    let topic = if is_kafka_topic_name(topic) {
        topic.to_string()
    } else {
        let hex: String = topic.bytes().map(|b| format!("{b:02x}")).collect();
        format!("invalid-topic={hex}")
    };
    format!(
        "{REJECTED_PREFIX}{}/{topic}/partition={partition}/{topic}+{partition}+{first_offset:010}.jsonl",
        Stage::KafkaToS3
    )
}

/// The folder of `rejected/stream-processor/` for records whose stream feeds no table.
pub const UNROUTED: &str = "unrouted";

/// The records of one shard the stream processor refused in one commit to the stream table of
/// `table` (`None`: their stream feeds no table), which took the records from `first_sequence_number`
/// to `last_sequence_number`. An attempt that was not committed left an object of the same first
/// sequence number and another last one, which the next commit of that shard deletes.
pub fn stream_rejected_key(
    table: Option<Table>,
    shard_id: &str,
    first_sequence_number: &str,
    last_sequence_number: &str,
) -> String {
    format!("{}{last_sequence_number}.jsonl", stream_rejected_prefix(table, shard_id, first_sequence_number))
}

/// The keys of [`stream_rejected_key`] with this table, shard and first sequence number start so.
pub fn stream_rejected_prefix(table: Option<Table>, shard_id: &str, first_sequence_number: &str) -> String {
    let folder = table.map_or(UNROUTED, Table::name);
    format!("{REJECTED_PREFIX}{}/{folder}/{shard_id}-{first_sequence_number}-", Stage::StreamProcessor)
}

/// The Delta table of the stream rows of `table`, relative to the lake root (docs/SPEC.md §3).
pub fn stream_table(table: Table) -> String {
    format!("{STREAM_PREFIX}{table}")
}

/// The journal of the local runner's embedded topics and streams (`pinpipe serve` with no servers): what
/// they acknowledged and what was taken since, replayed after a crash. A file of the lake folder.
pub const LOCAL_RUNNER_JOURNAL: &str = "state/local-runner/journal.jsonl";

/// Where the local runner keeps how far it has read a Kinesis shard.
pub fn kinesis_checkpoint_key(stream: &str, shard_id: &str) -> String {
    format!("state/local-runner/kinesis/{stream}/{shard_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_key_matches_the_kafka_connect_layout() {
        assert_eq!(raw_key("p.pin", 3, 42), "topics/p.pin/partition=3/p.pin+3+0000000042.json");
    }

    #[test]
    fn a_failed_key_is_filed_by_trigger_shard_and_day_as_lambda_files_it() {
        assert_eq!(
            failed_key("6d0b…", "shardId-000000000001", "2026-12-02T15.04.05", "9f3e"),
            "aws/lambda/6d0b…/shardId-000000000001/2026/12/02/2026-12-02T15.04.05-9f3e"
        );
    }

    #[test]
    fn a_batch_rejected_key_gives_its_run_date() {
        assert_eq!(run_date_of_batch_rejected(&batch_rejected_key("2026-12-02", Table::Geo)), Some("2026-12-02"));
        assert_eq!(run_date_of_batch_rejected(&landing_rejected_key("p.pin", 0, 1)), None);
        assert_eq!(run_date_of_batch_rejected("rejected/batch-transform/2026-12-02/clicks.jsonl"), None);
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
    fn rejected_keys_name_their_stage_and_origin() {
        assert_eq!(batch_rejected_key("2026-11-25", Table::Geo), "rejected/batch-transform/2026-11-25/geo.jsonl");
        assert_eq!(
            landing_rejected_key("p.pin", 3, 42),
            "rejected/kafka-to-s3/p.pin/partition=3/p.pin+3+0000000042.jsonl"
        );
        assert_eq!(
            landing_rejected_key("a/b", 0, 0),
            "rejected/kafka-to-s3/invalid-topic=612f62/partition=0/invalid-topic=612f62+0+0000000000.jsonl"
        );
        // Hex-encoded as `invalid-topic-25`, `%` would share the key of the (valid) topic of that name.
        assert_ne!(landing_rejected_key("%", 0, 0), landing_rejected_key("invalid-topic-25", 0, 0));
        assert_ne!(landing_rejected_key("", 0, 0), landing_rejected_key("invalid-topic-", 0, 0));
        let key = stream_rejected_key(Some(Table::Pin), "s0", "7", "9");
        assert_eq!(key, "rejected/stream-processor/pin/s0-7-9.jsonl");
        assert!(key.starts_with(&stream_rejected_prefix(Some(Table::Pin), "s0", "7")));
        assert!(!key.starts_with(&stream_rejected_prefix(Some(Table::Pin), "s0", "79")));
        assert_eq!(stream_rejected_key(None, "s0", "7", "7"), "rejected/stream-processor/unrouted/s0-7-7.jsonl");
        assert_eq!(rejected_prefix(Stage::KafkaToS3), "rejected/kafka-to-s3/");
    }

    #[test]
    fn stream_tables_and_checkpoints_have_their_places() {
        assert_eq!(stream_table(Table::User), "stream/user");
        assert_eq!(kinesis_checkpoint_key("streaming-p-pin", "s0"), "state/local-runner/kinesis/streaming-p-pin/s0");
    }

    #[test]
    fn a_run_keeps_its_results_manifest_and_report_together() {
        assert_eq!(result_table("q1"), "results/q1");
        assert_eq!(cleaned_table(Table::Pin), "cleaned/pin");
        assert_eq!(manifest_key("2026-11-25"), "runs/2026-11-25/manifest.json");
        assert_eq!(report_key("2026-11-25"), "runs/2026-11-25/report.html");
        assert_eq!(run_date_of_manifest(&manifest_key("2026-11-25")), Some("2026-11-25"));
        assert_eq!(run_date_of_manifest(&report_key("2026-11-25")), None);
        assert_eq!(run_date_of_manifest("runs/a/b/manifest.json"), None);
        assert_eq!(run_date_of_manifest("runs//manifest.json"), None);
    }

    #[test]
    fn run_dates_are_read_back_from_keys() {
        assert_eq!(run_date_of_consumed(&consumed_key("2026-11-25")), Some("2026-11-25"));
        assert_eq!(run_date_of_consumed("state/other/2026-11-25.json"), None);
    }
}
