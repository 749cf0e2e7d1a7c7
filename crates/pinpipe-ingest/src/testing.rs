//! Test support (feature `test-support`): the local Kafka broker (tansu, as `scripts/services.sh start
//! tansu` runs it) and Kinesis on the local AWS server (moto): fresh prefixes, topics and streams, and
//! reading back what the API stored; and ports that acknowledge at once ([`AckingProducer`],
//! [`AckingWriter`]), for measuring the API without a broker.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset as KafkaOffset, TopicPartitionList};

use crate::{
    Ingest, KafkaConfig, KafkaProducer, KinesisWriter, Names, Offset, ProduceError, RecordFailure, Stored, StreamError,
    StreamRecord, StreamWriter, TopicProducer, TopicRecord,
};

/// The variable naming the local broker; `127.0.0.1:9092` when unset.
pub const TEST_KAFKA_VAR: &str = "PINPIPE_TEST_KAFKA";

/// The local broker's bootstrap address.
pub fn kafka_bootstrap() -> String {
    std::env::var(TEST_KAFKA_VAR).ok().filter(|value| !value.is_empty()).unwrap_or_else(|| "127.0.0.1:9092".to_string())
}

/// A naming prefix no other test (or earlier run) uses: `<test>-<base36 clock and pid>`, valid as
/// `PINPIPE_PREFIX`.
pub fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos();
    let mut seed = nanos ^ (u128::from(std::process::id()) << 64);
    let mut suffix = String::new();
    while seed > 0 {
        let digit = (seed % 36) as u32;
        suffix.push(char::from_digit(digit, 36).expect("a base-36 digit"));
        seed /= 36;
    }
    let test: String = test.chars().take(40 - 1 - suffix.len().min(30)).collect();
    format!("{test}-{}", &suffix[..suffix.len().min(30)])
}

/// Creates `topics` with `partitions` partitions each (one replica); existing ones are kept.
pub async fn create_topics(bootstrap: &str, topics: &[String], partitions: i32) {
    crate::provision::create_topics(bootstrap, topics, partitions)
        .await
        .unwrap_or_else(|err| panic!("{err:#} (start it with `scripts/services.sh start tansu`)"));
}

/// A record read back from Kafka.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumed {
    /// The partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// The value as text.
    pub value: String,
}

/// Reads `count` records of `topic`'s `partition` from `offset` on (waiting up to 30 s for them).
pub async fn read_topic(bootstrap: &str, topic: &str, partition: i32, offset: i64, count: usize) -> Vec<Consumed> {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", format!("pinpipe-test-{}", unique_prefix("read")))
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .create()
            .expect("a consumer");
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&topic, partition, KafkaOffset::Offset(offset)).expect("an offset");
        consumer.assign(&assignment).expect("assigning the partition");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        while out.len() < count && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) => out.push(Consumed {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    value: String::from_utf8(message.payload().unwrap_or_default().to_vec()).expect("UTF-8 values"),
                }),
                Some(Err(err)) => panic!("reading {topic}/{partition}: {err}"),
                None => {}
            }
        }
        out
    })
    .await
    .expect("the reader thread")
}

/// A Kafka producer for the local broker, with a delivery timeout of `timeout`.
pub fn local_producer(bootstrap: &str, timeout: Duration) -> KafkaProducer {
    let config = KafkaConfig { delivery_timeout: timeout, ..KafkaConfig::plaintext(bootstrap) };
    KafkaProducer::new(config, None)
}

/// A Kinesis writer for the local AWS server (moto), the environment filled in as
/// `pinpipe_lake::testing::local_environment` does.
pub async fn local_kinesis() -> KinesisWriter {
    pinpipe_lake::testing::local_environment();
    KinesisWriter::from_env().await
}

/// Creates `streams` (one shard each) on the local AWS server, keeping those that exist, and waits
/// until they are active.
pub async fn create_streams(kinesis: &KinesisWriter, streams: &[String]) {
    crate::provision::create_streams(kinesis.client(), streams, 1)
        .await
        .unwrap_or_else(|err| panic!("{err:#} (is moto running? `scripts/services.sh start moto`)"));
}

/// A record read back from Kinesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRead {
    /// The sequence number.
    pub sequence_number: String,
    /// The partition key.
    pub partition_key: String,
    /// The payload as text.
    pub data: String,
}

/// Every record of every shard of `stream`, from the start.
pub async fn read_stream(kinesis: &KinesisWriter, stream: &str) -> Vec<StreamRead> {
    let client = kinesis.client();
    let shards = client.list_shards().stream_name(stream).send().await.expect("listing the shards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("a shard iterator")
            .shard_iterator()
            .map(str::to_string);
        while let Some(current) = iterator {
            let answer = client.get_records().shard_iterator(current).send().await.expect("getting records");
            for record in answer.records() {
                out.push(StreamRead {
                    sequence_number: record.sequence_number().to_string(),
                    partition_key: record.partition_key().unwrap_or_default().to_string(),
                    data: String::from_utf8(record.data().as_ref().to_vec()).expect("UTF-8 data"),
                });
            }
            if answer.records().is_empty() {
                break;
            }
            iterator = answer.next_shard_iterator().map(str::to_string);
        }
    }
    out
}

/// The API for `prefix` against the local broker and moto (Kafka optional).
pub async fn local_ingest(prefix: &str, kafka: Option<&str>) -> (Ingest, KinesisWriter) {
    let kinesis = local_kinesis().await;
    let producer: Option<Arc<dyn TopicProducer>> = kafka.map(|bootstrap| {
        Arc::new(local_producer(bootstrap, crate::config::DEFAULT_DELIVERY_TIMEOUT)) as Arc<dyn TopicProducer>
    });
    let writer: Arc<dyn StreamWriter> = Arc::new(kinesis.clone());
    (Ingest::new(Names::new(prefix), producer, Some(writer)), kinesis)
}

/// A tansu broker of a test's own, on a free loopback port with its own data folder, so the test can
/// stop and restart it. Killed when dropped.
pub struct PrivateBroker {
    child: Option<std::process::Child>,
    port: u16,
    /// The broker's bootstrap address.
    pub bootstrap: String,
    dir: tempfile::TempDir,
}

impl PrivateBroker {
    /// The broker's log file in its folder.
    const LOG: &'static str = "tansu.log";

    /// Starts a broker (the `tansu` on the PATH, or the one `PINPIPE_TEST_TANSU` names).
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut broker = Self { child: None, port, bootstrap: format!("127.0.0.1:{port}"), dir };
        broker.restart();
        broker
    }

    /// Starts the broker again (after [`PrivateBroker::stop`]) on the same port and data, and waits
    /// until it listens.
    pub fn restart(&mut self) {
        use std::process::{Command, Stdio};
        let binary: std::path::PathBuf =
            std::env::var_os("PINPIPE_TEST_TANSU").map_or_else(|| "tansu".into(), Into::into);
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&binary)
            .args(["--storage-engine", "sqlite://tansu.db"])
            .args(["--listener-url", &listener, "--advertised-listener-url", &listener])
            .current_dir(self.dir.path())
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log_file())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {} (install it with `scripts/services.sh install tansu`): {err}", binary.display())
            });
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "the private tansu never listened on {}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The broker's log (its standard error, appended by every start), so a test that fails on the
    /// broker can show what the broker said.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(Self::LOG)).unwrap_or_else(|err| format!("(no broker log: {err})"))
    }

    /// `Some(status)` once the running broker has exited on its own.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|child| child.try_wait().ok().flatten())
    }

    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(Self::LOG))
            .expect("the broker's log file")
    }

    /// Stops the broker and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Kafka that acknowledges every record immediately, at the next offset of partition 0.
#[derive(Default)]
pub struct AckingProducer {
    next: AtomicI64,
}

#[async_trait]
impl TopicProducer for AckingProducer {
    async fn produce(&self, _topic: &str, records: &[TopicRecord]) -> Vec<Result<Offset, ProduceError>> {
        let first = self.next.fetch_add(records.len() as i64, Ordering::Relaxed);
        (0..records.len()).map(|i| Ok(Offset { partition: 0, offset: first + i as i64 })).collect()
    }
}

/// A Kinesis that stores every record immediately in shard 0.
#[derive(Default)]
pub struct AckingWriter {
    next: AtomicI64,
}

impl AckingWriter {
    fn stored(&self) -> Stored {
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        Stored {
            sequence_number: format!("49658370122746823958214527451932187136412563480{sequence:010}"),
            shard_id: "shardId-000000000000".to_string(),
            encryption_type: None,
        }
    }
}

#[async_trait]
impl StreamWriter for AckingWriter {
    async fn put_record(&self, _stream: &str, _record: &StreamRecord) -> Result<Stored, StreamError> {
        Ok(self.stored())
    }

    async fn put_records(
        &self,
        _stream: &str,
        records: &[StreamRecord],
    ) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError> {
        Ok(records.iter().map(|_| Ok(self.stored())).collect())
    }
}
