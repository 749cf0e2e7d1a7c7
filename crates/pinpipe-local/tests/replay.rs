//! `pinpipe replay` on a lake folder: batches a trigger gave up on, and records a stage refused,
//! sent through the handlers again, landed once however often the replay runs.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use lambda_runtime::{Context, LambdaEvent};
use pinpipe_batch::read_run_date;
use pinpipe_contract::table::RUN_DATE_COLUMN;
use pinpipe_contract::{layout, Names, Origin, Payload, RejectKind, RejectedRecord, Stage, Table, TopicPosition};
use pinpipe_contract::{StreamPosition, Table::Pin};
use pinpipe_emulate::Generator;
use pinpipe_events::{scheduled_event, EventOrigin, ShardRecord, TopicMessage};
use pinpipe_lake::{LocalStore, ObjectStore};
use pinpipe_local::accounting::{inventory, LakeInventory};
use pinpipe_local::failure::FailureDestination;
use pinpipe_local::replay::{replay, ReplayOptions, ReplaySummary};
use pinpipe_tables::{table_url, LakeTable};

const PREFIX: &str = "replay";
const SHARD: &str = "shardId-000000000000";

fn lake() -> (tempfile::TempDir, Arc<dyn ObjectStore>) {
    let lake = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(lake.path()));
    (lake, store)
}

/// The JSON texts of the first `n` generated records of `table`.
fn texts(table: Table, n: usize) -> Vec<String> {
    let column = Table::ALL.iter().position(|t| *t == table).unwrap();
    Generator::new(11).take(n).map(|post| post.json_texts()[column].clone()).collect()
}

async fn keys(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    store.list(prefix).await.unwrap().into_iter().map(|object| object.key).collect()
}

/// Every position the lake holds is held once.
fn held_once(held: &LakeInventory) -> bool {
    held.topic_records.values().chain(held.stream_records.values()).all(|&copies| copies == 1)
}

async fn replayed(store: &Arc<dyn ObjectStore>, options: ReplayOptions) -> ReplaySummary {
    replay(store.clone(), &Names::new(PREFIX), options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_given_up_are_replayed_once_however_often_the_replay_runs() {
    let (_lake, store) = lake();
    let names = Names::new(PREFIX);
    let origin = EventOrigin::new("127.0.0.1:9092");
    let messages: Vec<TopicMessage> = texts(Pin, 40)
        .into_iter()
        .enumerate()
        .map(|(i, text)| TopicMessage::numbered(names.topic(Pin), 2, i, text))
        .collect();
    let shard: Vec<ShardRecord> = texts(Table::Geo, 30)
        .into_iter()
        .enumerate()
        .map(|(i, text)| ShardRecord::numbered(names.stream(Table::Geo), SHARD, i, text))
        .collect();
    let landing = FailureDestination::new(store.clone(), origin.clone(), kafka_to_s3::FUNCTION, PREFIX);
    let streaming = FailureDestination::new(store.clone(), origin, stream_processor::FUNCTION, PREFIX);
    for (destination, (key, record)) in [
        (&landing, landing.kafka(&messages, 3, "S3 is down")),
        (&streaming, streaming.kinesis(&shard, 3, "S3 is down")),
    ] {
        destination.keep(&key, &record).await.unwrap();
    }
    let failed = keys(store.as_ref(), layout::FAILED_PREFIX).await;
    assert_eq!(failed.len(), 2);

    let keep = ReplayOptions { keep: true, ..ReplayOptions::default() };
    for options in [keep, keep, ReplayOptions::default()] {
        let summary = replayed(&store, options).await;
        assert_eq!((summary.failed_invocations, summary.failed_records), (2, 70), "{summary:?}");
        assert!(summary.still_failing.is_empty(), "{summary:?}");
        let held = inventory(store.as_ref(), &names).await.unwrap();
        assert_eq!((held.landed_raw, held.streamed), (40, 30));
        assert!(held_once(&held), "replaying again doubled a record");
    }
    assert!(keys(store.as_ref(), layout::FAILED_PREFIX).await.is_empty(), "replayed records are deleted");
    assert_eq!(replayed(&store, ReplayOptions::default()).await, ReplaySummary::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_invocation_that_still_fails_is_left_in_place_and_named() {
    let (_lake, store) = lake();
    store
        .put("aws/lambda/uuid/shardId-000000000000/2026/12/02/x", "{\"payload\": {\"Records\": 1}}".into())
        .await
        .unwrap();
    let summary = replayed(&store, ReplayOptions::default()).await;
    assert_eq!(summary.failed_invocations, 0);
    assert_eq!(summary.still_failing.len(), 1);
    assert!(summary.still_failing[0].contains("neither an MSK nor a Kinesis event"), "{summary:?}");
    assert_eq!(keys(store.as_ref(), layout::FAILED_PREFIX).await.len(), 1);
}

/// A refused record as an older, stricter rule would have written it.
fn refused(stage: Stage, origin: Origin, text: &str) -> RejectedRecord {
    RejectedRecord {
        stage,
        table: Some(Pin),
        origin,
        kind: RejectKind::NotJson,
        reason: "refused by an older rule".to_string(),
        payload: Some(Payload::Text(text.to_string())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_records_that_the_rules_now_accept_are_stored_and_leave_the_rejected_objects() {
    let (_lake, store) = lake();
    let names = Names::new(PREFIX);
    let good = texts(Pin, 2);
    let broken = "{\"index\": 7, \"title\": ";

    // The landing function refused offsets 5 (now fine) and 6 (still broken) of a run starting at 5.
    let topic = names.topic(Pin).to_string();
    let at = |offset| Origin::Kafka(TopicPosition { topic: topic.clone(), partition: 1, offset });
    let landing_key = layout::landing_rejected_key(&topic, 1, 5);
    let lines = [refused(Stage::KafkaToS3, at(5), &good[0]), refused(Stage::KafkaToS3, at(6), broken)];
    store.put(&landing_key, RejectedRecord::to_json_lines(&lines).into()).await.unwrap();

    // The stream processor refused the first record of a batch (now fine) and the second (broken).
    let sequence = |i| ShardRecord::numbered(names.stream(Pin), SHARD, i, "").sequence_number;
    let stream_at = |i| {
        Origin::Kinesis(StreamPosition {
            stream: names.stream(Pin).to_string(),
            shard_id: SHARD.to_string(),
            sequence_number: sequence(i),
        })
    };
    let stream_key = layout::stream_rejected_key(Some(Pin), SHARD, &sequence(0), &sequence(1));
    let lines = [
        refused(Stage::StreamProcessor, stream_at(0), &good[1]),
        refused(Stage::StreamProcessor, stream_at(1), broken),
    ];
    store.put(&stream_key, RejectedRecord::to_json_lines(&lines).into()).await.unwrap();

    for _ in 0..2 {
        replayed(&store, ReplayOptions { failed: false, ..ReplayOptions::default() }).await;
        let held = inventory(store.as_ref(), &names).await.unwrap();
        assert_eq!((held.landed_raw, held.streamed, held.rejected), (1, 1, 2), "{held:?}");
        assert!(held_once(&held), "a record is both stored and refused, or stored twice");
    }
    let raw = store.get(&layout::raw_key(&topic, 1, 5)).await.unwrap();
    assert_eq!(raw, format!("{}\n", good[0]).into_bytes());
    // One stream row, and the record still refused: both positions once, the row being the first.
    let held = inventory(store.as_ref(), &names).await.unwrap();
    let mut positions: Vec<String> = held.stream_records.keys().map(|p| p.sequence_number.clone()).collect();
    positions.sort();
    assert_eq!((held.streamed, positions), (1, vec![sequence(0), sequence(1)]));
    for (key, position) in [(landing_key, at(6)), (stream_key, stream_at(1))] {
        let left: Vec<RejectedRecord> =
            RejectedRecord::parse_lines(&store.get(&key).await.unwrap()).map(Result::unwrap).collect();
        assert_eq!(left.len(), 1, "{key}");
        assert_eq!(left[0].origin, position);
        assert!(!left[0].reason.starts_with("refused by an older rule"), "today's reason: {left:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_the_batch_refused_are_replayed_by_running_their_date_and_the_latest_again() {
    let (_lake, store) = lake();
    let names = Names::new(PREFIX);
    let origin = EventOrigin::new("127.0.0.1:9092");
    let run = |date: &str| {
        let time = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap().and_time(NaiveTime::MIN).and_utc();
        let event = scheduled_event(&origin, time).unwrap();
        batch_transform::handle(store.clone(), LambdaEvent::new(event, Context::default()))
    };
    let good = texts(Pin, 3);
    let first = format!("{}\n{{\"title\": \"no key\"}}\n{}\n", good[0], good[1]);
    store.put(&layout::raw_key(names.topic(Pin), 0, 0), first.into()).await.unwrap();
    run("2026-12-01").await.unwrap();
    store.put(&layout::raw_key(names.topic(Pin), 0, 3), format!("{}\n", good[2]).into()).await.unwrap();
    run("2026-12-02").await.unwrap();
    let q1 =
        || async { read_run_date(store.as_ref(), &layout::result_table("q1"), "2026-12-02").await.unwrap().unwrap() };
    let results = q1().await;
    let cleaned_pin = table_url(&store.url(), &layout::cleaned_table(Pin));

    for _ in 0..2 {
        let summary = replayed(&store, ReplayOptions { failed: false, ..ReplayOptions::default() }).await;
        // The line without a key is still refused (the rule has not changed): the runs change nothing.
        assert_eq!(summary.batch_dates_rerun, ["2026-12-01", "2026-12-02"]);
        assert_eq!(summary.batch_refused, (1, 1));
        assert!(q1().await.equals_missing(&results));
        let cleaned =
            LakeTable::open(&cleaned_pin).await.unwrap().unwrap().partition_files(RUN_DATE_COLUMN).await.unwrap();
        assert_eq!(cleaned, [("2026-12-01".to_string(), 1), ("2026-12-02".to_string(), 1)], "one file a date");
    }
}
