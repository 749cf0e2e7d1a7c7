//! Posting emulated posts to an ingestion API over HTTP (feature `post`; `pinpipe emulate --api`).
//!
//! Each post's pin, geo and user records go to the API in the wire formats of docs/SPEC.md §2:
//! * [`Mode::Batch`]: `POST {api}/topics/<prefix>.<table>` with `{"records":[{"value": <record>}, ...]}`
//!   (Kafka REST Proxy v2, `application/vnd.kafka.json.v2+json`), `batch_size` records per request;
//! * [`Mode::Stream`]: `PUT {api}/streams/streaming-<prefix>-<table>/record` with
//!   `{"StreamName","Data","PartitionKey"}` when `batch_size` is 1, else `PUT .../records` with
//!   `{"records":[{"data","partition-key"}, ...]}` (the API Gateway Kinesis proxy).
//!
//! Records are sent exactly as the source holds them (the as-posted JSON text); the partition key of
//! a stream record is its post's key. Requests run `concurrency` at a time, paced to `rate` records per
//! second when given. [`post`] returns what was sent, acknowledged and refused (by reason), the
//! achieved rate and the request latencies.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pinpipe_contract::{Names, Table};
use serde::Deserialize;
use serde_json::Value;

use crate::dump::table_file_name;
use crate::generator::Generator;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// `concurrency` is 0.
    #[error("the concurrency is at least 1")]
    NoConcurrency,
    /// `batch_size` is 0.
    #[error("the batch size is at least 1")]
    EmptyBatch,
    /// `rate` is not a positive number.
    #[error("the rate is a positive number of records per second, not {0}")]
    BadRate(f64),
    /// `source_rows` is 0 or above [`crate::MAX_SOURCE_ROWS`].
    #[error("the source tables hold 1 to {max} rows, not {0}", max = crate::MAX_SOURCE_ROWS)]
    BadSourceRows(usize),
    /// `api` is not a URL.
    #[error("--api {api:?} is not a URL: {error}")]
    NotAUrl {
        /// The option's value.
        api: String,
        /// Why it does not parse (a `url::ParseError`).
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `api` is a URL of another scheme than http(s).
    #[error("--api {0:?} is not an http(s) URL")]
    NotHttp(String),
    /// The `--source` files could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// Why the `--source` files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file could not be read.
    #[error("reading {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A line is not JSON.
    #[error("{} line {line} is not JSON: {error}", path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The parser's error.
        error: serde_json::Error,
    },
}

/// Which path the records take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Kafka topics through the REST-proxy route.
    Batch,
    /// Kinesis streams through the Kinesis-proxy routes.
    Stream,
}

/// What to post, where, and how fast.
#[derive(Clone, Debug)]
pub struct PostOptions {
    /// The API's base URL, e.g. `http://127.0.0.1:8080` or an API Gateway stage URL.
    pub api: String,
    /// Batch (Kafka) or stream (Kinesis).
    pub mode: Mode,
    /// Posts to send (three records each).
    pub rows: usize,
    /// Records per second to aim at; `None` sends as fast as the API answers.
    pub rate: Option<f64>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Records per request.
    pub batch_size: usize,
    /// Seed of the synthetic source.
    pub seed: u64,
    /// Rows of the synthetic source's tables ([`crate::Generator::with_source_rows`]); many more
    /// than `rows` make few duplicate posts.
    pub source_rows: usize,
    /// The naming prefix of the topics and streams.
    pub prefix: String,
    /// Replay `pin.jsonl`, `geo.jsonl` and `user.jsonl` from this folder instead of generating posts.
    pub source: Option<PathBuf>,
    /// Draw a progress bar on the terminal.
    pub progress: bool,
    /// With `progress`: draw the bar among these bars (`pinpipe run` shows posting, delivery and the
    /// batch together) rather than alone.
    pub progress_group: Option<MultiProgress>,
    /// How long one request may take.
    pub timeout: Duration,
    /// Keep where each acknowledged record was stored ([`PostSummary::acks`]), for accounting.
    pub keep_acks: bool,
}

impl PostOptions {
    /// Options with the defaults: one request in flight, one record per request, seed 0,
    /// [`crate::SOURCE_ROWS`] source rows, prefix `pinpipe`, no pacing, no progress bar, a 30 s
    /// timeout.
    pub fn new(api: impl Into<String>, mode: Mode, rows: usize) -> Self {
        Self {
            api: api.into(),
            mode,
            rows,
            rate: None,
            concurrency: 1,
            batch_size: 1,
            seed: 0,
            source_rows: crate::SOURCE_ROWS,
            prefix: "pinpipe".to_string(),
            source: None,
            progress: false,
            progress_group: None,
            timeout: Duration::from_secs(30),
            keep_acks: false,
        }
    }
}

/// Records refused for one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failures {
    /// How many records.
    pub records: u64,
    /// The first message given for them.
    pub example: String,
}

/// Why records were not acknowledged: what they are counted by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailReason {
    /// The API answered with this HTTP status and, when it gave one, the record's error code (or the
    /// request's).
    Http {
        /// The HTTP status.
        status: u16,
        /// The error code given.
        code: Option<ErrorCode>,
    },
    /// The request took longer than [`PostOptions::timeout`].
    Timeout,
    /// No connection to the API could be made.
    ConnectionFailed,
    /// The request or its answer broke off otherwise.
    Transport,
}

/// An error code in an answer of the API.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// A REST-proxy `error_code` (`status * 100 + sub-code`), of the request or of one record.
    Api(u64),
    /// A Kinesis `ErrorCode` of one record, e.g. `ProvisionedThroughputExceededException`.
    Kinesis(String),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Api(code) => write!(f, "{code}"),
            ErrorCode::Kinesis(code) => f.write_str(code),
        }
    }
}

/// `HTTP 503 (50302)`, `HTTP 502`, `timeout`, `connection failed`, `transport error`.
impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::Http { status, code: Some(code) } => write!(f, "HTTP {status} ({code})"),
            FailReason::Http { status, code: None } => write!(f, "HTTP {status}"),
            FailReason::Timeout => f.write_str("timeout"),
            FailReason::ConnectionFailed => f.write_str("connection failed"),
            FailReason::Transport => f.write_str("transport error"),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct PostSummary {
    /// Posts sent.
    pub posts: usize,
    /// HTTP requests made.
    pub requests: u64,
    /// Records sent.
    pub sent: u64,
    /// Records the API acknowledged as stored.
    pub acknowledged: u64,
    /// Records not acknowledged, by reason (`HTTP 503 (50302)`, `connection failed`, ...).
    pub failed: BTreeMap<FailReason, Failures>,
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Median request latency.
    pub latency_p50: Duration,
    /// 99th-percentile request latency.
    pub latency_p99: Duration,
    /// Slowest request.
    pub latency_max: Duration,
    /// Where each acknowledged record was stored, when [`PostOptions::keep_acks`] asked for it.
    pub acks: Vec<Ack>,
}

/// Where the API said it stored a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ack {
    /// A Kafka record: topic, partition and offset.
    Topic {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset.
        offset: i64,
    },
    /// A Kinesis record: stream, shard and sequence number.
    Stream {
        /// The stream.
        stream: String,
        /// The shard.
        shard: String,
        /// The sequence number.
        sequence_number: String,
    },
}

impl PostSummary {
    /// Records not acknowledged.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().map(|failures| failures.records).sum()
    }

    /// Acknowledged records per second.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.acknowledged as f64 / seconds
        } else {
            0.0
        }
    }
}

impl fmt::Display for PostSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "sent {} records ({} posts) in {} requests: {} acknowledged, {} failed",
            self.sent,
            self.posts,
            self.requests,
            self.acknowledged,
            self.failed_total()
        )?;
        writeln!(f, "rate: {:.1} records/s acknowledged over {:.3} s", self.rate(), self.elapsed.as_secs_f64())?;
        write!(
            f,
            "latency per request: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(self.latency_p50),
            ms(self.latency_p99),
            ms(self.latency_max)
        )?;
        for (reason, failures) in &self.failed {
            write!(f, "\nfailed: {} records: {reason}: {}", failures.records, failures.example)?;
        }
        Ok(())
    }
}

/// One post as text: its key and its three records, in [`Table::ALL`] order.
struct PostTexts {
    key: String,
    records: [String; 3],
}

impl PostTexts {
    /// The record of `table`.
    fn record(&self, table: Table) -> &str {
        &self.records[table as usize]
    }
}

/// Where posts come from.
enum Source {
    Generated(Box<Generator>),
    Files { tables: [Vec<String>; 3], next: usize },
}

impl Source {
    fn next_post(&mut self) -> Option<PostTexts> {
        match self {
            Source::Generated(generator) => {
                let post = generator.next_post();
                Some(PostTexts { key: post.key().to_string(), records: post.json_texts() })
            }
            Source::Files { tables, next } => {
                let row = *next;
                let records = [tables[0].get(row)?.clone(), tables[1].get(row)?.clone(), tables[2].get(row)?.clone()];
                *next += 1;
                Some(PostTexts { key: record_key(&records[0]).unwrap_or_else(|| row.to_string()), records })
            }
        }
    }
}

/// The `index` (or `ind`) of a pin record, as text.
fn record_key(record: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Keys {
        index: Option<Value>,
        ind: Option<Value>,
    }
    let keys: Keys = serde_json::from_str(record).ok()?;
    match keys.index.or(keys.ind)? {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Reads the three JSON-lines files of `dir` (`pin.jsonl`, `geo.jsonl`, `user.jsonl`); every line
/// must be JSON. Returns the tables in [`Table::ALL`] order (as many rows as the shortest file has).
pub fn read_source(dir: &Path) -> Result<[Vec<String>; 3], SourceError> {
    let mut tables: [Vec<String>; 3] = Default::default();
    for (lines, table) in tables.iter_mut().zip(Table::ALL) {
        let path = dir.join(table_file_name(table));
        let text = fs::read_to_string(&path).map_err(|error| SourceError::Read { path: path.clone(), error })?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            serde_json::from_str::<serde::de::IgnoredAny>(line).map_err(|error| SourceError::NotJson {
                path: path.clone(),
                line: number + 1,
                error,
            })?;
            lines.push(line.to_string());
        }
    }
    let rows = tables.iter().map(Vec::len).min().unwrap_or(0);
    for table in &mut tables {
        table.truncate(rows);
    }
    Ok(tables)
}

/// The kind of request, which says how its answer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Topic,
    Record,
    Records,
}

/// One HTTP request to make.
struct Job {
    route: Route,
    /// The topic or stream.
    destination: String,
    url: String,
    body: String,
    records: u64,
    /// When to send it, from the start, when pacing.
    due: Option<Duration>,
}

/// The requests of a run, made as they are needed: per chunk of `batch_size` posts, one request per
/// table.
struct Jobs {
    source: Source,
    options: PostOptions,
    /// The topics and streams of `options.prefix`.
    names: Names,
    base: String,
    posts_left: usize,
    pending: Vec<Job>,
    records_before: u64,
}

impl Jobs {
    /// The requests for `rows` posts of `source`.
    fn new(source: Source, options: &PostOptions, base: String, rows: usize) -> Self {
        let names = Names::new(&options.prefix);
        Self { source, options: options.clone(), names, base, posts_left: rows, pending: Vec::new(), records_before: 0 }
    }

    fn next_chunk(&mut self) {
        let take = self.options.batch_size.min(self.posts_left);
        let mut posts = Vec::with_capacity(take);
        for _ in 0..take {
            match self.source.next_post() {
                Some(post) => posts.push(post),
                None => break,
            }
        }
        self.posts_left = if posts.len() < take { 0 } else { self.posts_left - take };
        if posts.is_empty() {
            return;
        }
        let mut jobs: Vec<Job> = Table::ALL.into_iter().map(|table| self.job(table, &posts)).collect();
        jobs.reverse();
        self.pending = jobs;
    }

    /// The request carrying `table`'s records of `posts`.
    fn job(&mut self, table: Table, posts: &[PostTexts]) -> Job {
        let records = posts.len() as u64;
        let (route, url, destination, body) = match self.options.mode {
            Mode::Batch => {
                let topic = self.names.topic(table).to_string();
                (Route::Topic, format!("{}/topics/{topic}", self.base), topic, topic_body(table, posts))
            }
            Mode::Stream if self.options.batch_size == 1 => {
                let stream = self.names.stream(table).to_string();
                let body = record_body(&stream, table, &posts[0]);
                (Route::Record, format!("{}/streams/{stream}/record", self.base), stream, body)
            }
            Mode::Stream => {
                let stream = self.names.stream(table).to_string();
                (Route::Records, format!("{}/streams/{stream}/records", self.base), stream, records_body(table, posts))
            }
        };
        let due = self.options.rate.map(|rate| Duration::from_secs_f64(self.records_before as f64 / rate));
        self.records_before += records;
        Job { route, destination, url, body, records, due }
    }
}

/// A REST-proxy produce body: `{"records":[{"value": <record>}, ...]}`.
fn topic_body(table: Table, posts: &[PostTexts]) -> String {
    let mut body = String::from("{\"records\":[");
    for (index, post) in posts.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str("{\"value\":");
        body.push_str(post.record(table));
        body.push('}');
    }
    body.push_str("]}");
    body
}

/// A Kinesis-proxy `PutRecord` body: `{"StreamName","Data","PartitionKey"}`.
fn record_body(stream: &str, table: Table, post: &PostTexts) -> String {
    format!(
        "{{\"StreamName\":{},\"Data\":{},\"PartitionKey\":{}}}",
        json_string(stream),
        post.record(table),
        json_string(&post.key)
    )
}

/// A Kinesis-proxy `PutRecords` body: `{"records":[{"data","partition-key"}, ...]}`.
fn records_body(table: Table, posts: &[PostTexts]) -> String {
    let mut body = String::from("{\"records\":[");
    for (index, post) in posts.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str("{\"data\":");
        body.push_str(post.record(table));
        body.push_str(",\"partition-key\":");
        body.push_str(&json_string(&post.key));
        body.push('}');
    }
    body.push_str("]}");
    body
}

impl Iterator for Jobs {
    type Item = Job;

    fn next(&mut self) -> Option<Job> {
        if self.pending.is_empty() && self.posts_left > 0 {
            self.next_chunk();
        }
        self.pending.pop()
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

/// What one request achieved.
#[derive(Default)]
struct Outcome {
    acknowledged: u64,
    /// Where the acknowledged records were stored.
    acks: Vec<Ack>,
    /// The records not acknowledged, by reason.
    failed: BTreeMap<FailReason, Failures>,
}

impl Outcome {
    /// Every record of the request failed for one reason.
    fn all_failed(reason: FailReason, message: String, records: u64) -> Self {
        let mut outcome = Self::default();
        outcome.fail(reason, message, records);
        outcome
    }

    /// Counts `records` failed for `reason`; the first message given for a reason is its example.
    fn fail(&mut self, reason: FailReason, message: String, records: u64) {
        self.failed.entry(reason).or_insert(Failures { records: 0, example: message }).records += records;
    }

    fn acknowledge(&mut self, ack: Ack) {
        self.acknowledged += 1;
        self.acks.push(ack);
    }
}

async fn send(client: &reqwest::Client, job: &Job) -> Outcome {
    let (method, content_type) = match job.route {
        Route::Topic => (reqwest::Method::POST, "application/vnd.kafka.json.v2+json"),
        Route::Record | Route::Records => (reqwest::Method::PUT, "application/json"),
    };
    let sent = client
        .request(method, &job.url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::ACCEPT, "application/vnd.kafka.v2+json, application/json")
        .body(job.body.clone())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(err) => return transport_failure(&err, job.records),
    };
    let status = response.status().as_u16();
    let text = match response.text().await {
        Ok(text) => text,
        Err(err) => return transport_failure(&err, job.records),
    };
    read_answer(job.route, &job.destination, job.records, status, &text)
}

fn transport_failure(err: &reqwest::Error, records: u64) -> Outcome {
    let reason = if err.is_timeout() {
        FailReason::Timeout
    } else if err.is_connect() {
        FailReason::ConnectionFailed
    } else {
        FailReason::Transport
    };
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Outcome::all_failed(reason, message, records)
}

/// An answer as a whole: its status, and the error envelope's code and message when it has them.
struct Answer {
    status: u16,
    code: Option<ErrorCode>,
    /// The envelope's message, or the start of the body.
    message: String,
}

impl Answer {
    fn of(status: u16, body: &Value, text: &str) -> Self {
        Self {
            status,
            code: body.get("error_code").and_then(Value::as_u64).map(ErrorCode::Api),
            message: body
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(300).collect()),
        }
    }

    /// The reason of a record that failed with `code`, or with the answer's code when it gives none.
    fn reason(&self, code: Option<ErrorCode>) -> FailReason {
        FailReason::Http { status: self.status, code: code.or_else(|| self.code.clone()) }
    }
}

/// Reads an answer: which records it acknowledges, and why the others failed.
fn read_answer(route: Route, destination: &str, records: u64, status: u16, text: &str) -> Outcome {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let answer = Answer::of(status, &body, text);
    let whole = || Outcome::all_failed(answer.reason(None), answer.message.clone(), records);
    match route {
        Route::Record => match (status, stream_ack(destination, &body)) {
            (200, Some(ack)) => Outcome { acknowledged: 1, acks: vec![ack], failed: BTreeMap::new() },
            _ => whole(),
        },
        Route::Topic | Route::Records => {
            let field = if route == Route::Topic { "offsets" } else { "Records" };
            let Some(entries) = body.get(field).and_then(Value::as_array) else {
                return whole();
            };
            if entries.len() as u64 != records {
                return Outcome::all_failed(
                    answer.reason(None),
                    format!("the answer lists {} results for {records} records: {}", entries.len(), answer.message),
                    records,
                );
            }
            read_entries(route, destination, &answer, entries)
        }
    }
}

/// Reads the entries of a REST-proxy `offsets` or a `PutRecords` `Records` list, one per record.
fn read_entries(route: Route, destination: &str, answer: &Answer, entries: &[Value]) -> Outcome {
    let mut outcome = Outcome::default();
    for entry in entries {
        let (stored, code, entry_message) = if route == Route::Topic {
            let code = entry.get("error_code").filter(|code| !code.is_null());
            (
                topic_ack(destination, entry).filter(|_| code.is_none()),
                code.and_then(Value::as_u64).map(ErrorCode::Api),
                entry.get("error").and_then(Value::as_str),
            )
        } else {
            let code = entry.get("ErrorCode").and_then(Value::as_str);
            (
                stream_ack(destination, entry).filter(|_| code.is_none()),
                code.map(|code| ErrorCode::Kinesis(code.to_string())),
                entry.get("ErrorMessage").and_then(Value::as_str),
            )
        };
        match stored {
            Some(ack) => outcome.acknowledge(ack),
            None => outcome.fail(
                answer.reason(code),
                entry_message.map_or_else(|| answer.message.clone(), str::to_string),
                1,
            ),
        }
    }
    outcome
}

/// The Kafka location of a REST-proxy `offsets` entry, if it has one.
fn topic_ack(topic: &str, entry: &Value) -> Option<Ack> {
    Some(Ack::Topic {
        topic: topic.to_string(),
        partition: i32::try_from(entry.get("partition")?.as_i64()?).ok()?,
        offset: entry.get("offset")?.as_i64()?,
    })
}

/// The Kinesis location of a PutRecord answer or a PutRecords entry, if it has one.
fn stream_ack(stream: &str, entry: &Value) -> Option<Ack> {
    Some(Ack::Stream {
        stream: stream.to_string(),
        shard: entry.get("ShardId")?.as_str()?.to_string(),
        sequence_number: entry.get("SequenceNumber")?.as_str()?.to_string(),
    })
}

/// Posts `options.rows` posts (three records each) to the API and sums up what happened.
pub async fn post(options: &PostOptions) -> Result<PostSummary, PostError> {
    let base = check_options(options)?;
    let (source, rows) = match &options.source {
        None => {
            let generator = Generator::with_source_rows(options.seed, options.source_rows);
            (Source::Generated(Box::new(generator)), options.rows)
        }
        Some(dir) => {
            let tables = read_source(dir)?;
            let rows = options.rows.min(tables[0].len());
            (Source::Files { tables, next: 0 }, rows)
        }
    };
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .map_err(PostError::Client)?;
    let bar = progress_bar(options, rows as u64 * Table::ALL.len() as u64);
    let jobs = Jobs::new(source, options, base, rows);
    let mut tally = Tally::new(rows, options.keep_acks);
    let start = tokio::time::Instant::now();
    let client = &client;
    let mut answers = futures::stream::iter(jobs)
        .map(|job| async move {
            if let Some(due) = job.due {
                tokio::time::sleep_until(start + due).await;
            }
            let sent_at = Instant::now();
            let outcome = send(client, &job).await;
            (job.records, sent_at.elapsed(), outcome)
        })
        .buffer_unordered(options.concurrency);
    while let Some((records, latency, outcome)) = answers.next().await {
        tally.add(records, latency, outcome);
        bar.inc(records);
        let failed = tally.summary.failed_total();
        if failed > 0 {
            bar.set_message(format!("{failed} failed"));
        }
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    Ok(tally.finish(elapsed))
}

/// Checks the options; returns the API's base URL without a trailing `/`.
fn check_options(options: &PostOptions) -> Result<String, PostError> {
    if options.concurrency == 0 {
        return Err(PostError::NoConcurrency);
    }
    if options.batch_size == 0 {
        return Err(PostError::EmptyBatch);
    }
    if let Some(rate) = options.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(PostError::BadRate(rate));
        }
    }
    if !(1..=crate::MAX_SOURCE_ROWS).contains(&options.source_rows) {
        return Err(PostError::BadSourceRows(options.source_rows));
    }
    let base = options.api.trim_end_matches('/').to_string();
    let url = reqwest::Url::parse(&base)
        .map_err(|error| PostError::NotAUrl { api: options.api.clone(), error: Box::new(error) })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PostError::NotHttp(options.api.clone()));
    }
    Ok(base)
}

/// A progress bar of `total` records on the terminal (in the options' group, if any), or a hidden one.
fn progress_bar(options: &PostOptions, total: u64) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>18} {spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records ({per_sec}, eta {eta}) {msg}",
        )
        .expect("a valid template"),
    );
    bar.set_prefix(match options.mode {
        Mode::Batch => "posting (topics)",
        Mode::Stream => "posting (streams)",
    });
    match &options.progress_group {
        Some(group) => group.add(bar),
        None => bar,
    }
}

/// The summary of a run as its answers come in.
struct Tally {
    summary: PostSummary,
    latencies: Histogram<u64>,
    keep_acks: bool,
}

impl Tally {
    fn new(posts: usize, keep_acks: bool) -> Self {
        let summary = PostSummary {
            posts,
            requests: 0,
            sent: 0,
            acknowledged: 0,
            failed: BTreeMap::new(),
            elapsed: Duration::ZERO,
            latency_p50: Duration::ZERO,
            latency_p99: Duration::ZERO,
            latency_max: Duration::ZERO,
            acks: Vec::new(),
        };
        let latencies = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
        Self { summary, latencies, keep_acks }
    }

    /// Counts one request of `records` records that took `latency`.
    fn add(&mut self, records: u64, latency: Duration, outcome: Outcome) {
        let summary = &mut self.summary;
        summary.requests += 1;
        summary.sent += records;
        summary.acknowledged += outcome.acknowledged;
        if self.keep_acks {
            summary.acks.extend(outcome.acks);
        }
        self.latencies.saturating_record((latency.as_micros() as u64).max(1));
        for (reason, failures) in outcome.failed {
            summary.failed.entry(reason).or_insert(Failures { records: 0, example: failures.example }).records +=
                failures.records;
        }
    }

    /// The summary of a run that took `elapsed`.
    fn finish(mut self, elapsed: Duration) -> PostSummary {
        let micros = Duration::from_micros;
        self.summary.elapsed = elapsed;
        self.summary.latency_p50 = micros(self.latencies.value_at_quantile(0.50));
        self.summary.latency_p99 = micros(self.latencies.value_at_quantile(0.99));
        self.summary.latency_max = micros(self.latencies.max());
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(mode: Mode, rows: usize, batch_size: usize, rate: Option<f64>) -> Vec<Job> {
        let options =
            PostOptions { batch_size, rate, prefix: "p".into(), ..PostOptions::new("http://127.0.0.1:1", mode, rows) };
        Jobs::new(Source::Generated(Box::new(Generator::new(3))), &options, "http://h".into(), rows).collect()
    }

    #[test]
    fn batch_requests_carry_the_as_posted_records_per_table() {
        let jobs = jobs(Mode::Batch, 5, 2, None);
        let urls: Vec<&str> = jobs.iter().map(|job| job.url.as_str()).collect();
        assert_eq!(urls.len(), 9);
        assert_eq!(&urls[..3], ["http://h/topics/p.pin", "http://h/topics/p.geo", "http://h/topics/p.user"]);
        assert_eq!(jobs.iter().map(|job| job.records).collect::<Vec<_>>(), [2, 2, 2, 2, 2, 2, 1, 1, 1]);
        let posts: Vec<_> = Generator::new(3).take(5).collect();
        let expected = format!(
            "{{\"records\":[{{\"value\":{}}},{{\"value\":{}}}]}}",
            posts[0].json_texts()[1],
            posts[1].json_texts()[1]
        );
        assert_eq!(jobs[1].body, expected);
        let body: Value = serde_json::from_str(&jobs[6].body).unwrap();
        assert_eq!(body["records"][0]["value"]["index"], posts[4].pin.index);
    }

    #[test]
    fn stream_requests_use_record_or_records_by_batch_size() {
        let single = jobs(Mode::Stream, 1, 1, None);
        assert_eq!(single[0].url, "http://h/streams/streaming-p-pin/record");
        let body: Value = serde_json::from_str(&single[2].body).unwrap();
        let post = Generator::new(3).next_post();
        assert_eq!(body["StreamName"], "streaming-p-user");
        assert_eq!(body["PartitionKey"], post.key().to_string());
        assert_eq!(body["Data"]["first_name"], post.user.first_name);
        let many = jobs(Mode::Stream, 3, 3, None);
        assert_eq!(many[1].url, "http://h/streams/streaming-p-geo/records");
        let body: Value = serde_json::from_str(&many[1].body).unwrap();
        assert_eq!(body["records"].as_array().unwrap().len(), 3);
        assert!(body["records"][2]["partition-key"].is_string());
    }

    #[test]
    fn pacing_schedules_requests_by_records_sent_before() {
        let jobs = jobs(Mode::Batch, 4, 2, Some(10.0));
        let due: Vec<f64> = jobs.iter().map(|job| job.due.unwrap().as_secs_f64()).collect();
        assert_eq!(due, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    }

    #[test]
    fn source_rows_are_checked() {
        let options = |source_rows| PostOptions { source_rows, ..PostOptions::new("http://h", Mode::Batch, 1) };
        assert!(matches!(check_options(&options(0)), Err(PostError::BadSourceRows(0))));
        assert!(check_options(&options(1)).is_ok());
        assert!(check_options(&options(crate::MAX_SOURCE_ROWS)).is_ok());
        let above = crate::MAX_SOURCE_ROWS + 1;
        assert!(matches!(check_options(&options(above)), Err(PostError::BadSourceRows(rows)) if rows == above));
    }

    fn failed(reason: FailReason, example: &str, records: u64) -> BTreeMap<FailReason, Failures> {
        BTreeMap::from([(reason, Failures { records, example: example.into() })])
    }

    fn http(status: u16, code: Option<ErrorCode>) -> FailReason {
        FailReason::Http { status, code }
    }

    #[test]
    fn answers_are_read_per_record() {
        let ok = r#"{"offsets":[{"partition":0,"offset":1,"error_code":null,"error":null},{"partition":0,"offset":2,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}"#;
        let outcome = read_answer(Route::Topic, "p.pin", 2, 200, ok);
        assert_eq!((outcome.acknowledged, outcome.failed.len()), (2, 0));
        let at = |offset| Ack::Topic { topic: "p.pin".into(), partition: 0, offset };
        assert_eq!(outcome.acks, [at(1), at(2)]);
        let partial = r#"{"error_code":50302,"message":"m","offsets":[{"partition":0,"offset":1,"error_code":null,"error":null},{"partition":null,"offset":null,"error_code":50302,"error":"timed out"}]}"#;
        let outcome = read_answer(Route::Topic, "p.pin", 2, 503, partial);
        assert_eq!(outcome.acks, [at(1)]);
        assert_eq!(outcome.failed, failed(http(503, Some(ErrorCode::Api(50302))), "timed out", 1));
        let envelope = r#"{"error_code":40401,"message":"unknown"}"#;
        let outcome = read_answer(Route::Topic, "p.pin", 3, 404, envelope);
        assert_eq!(outcome.failed, failed(http(404, Some(ErrorCode::Api(40401))), "unknown", 3));
        let records = r#"{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"s"},{"ErrorCode":"InvalidArgumentException","ErrorMessage":"too large"}]}"#;
        let outcome = read_answer(Route::Records, "s", 2, 422, records);
        let stream = |sequence_number: &str| Ack::Stream {
            stream: "s".into(),
            shard: "s".into(),
            sequence_number: sequence_number.into(),
        };
        assert_eq!(outcome.acks, [stream("1")]);
        let too_large = http(422, Some(ErrorCode::Kinesis("InvalidArgumentException".into())));
        assert_eq!(outcome.failed, failed(too_large.clone(), "too large", 1));
        assert_eq!(too_large.to_string(), "HTTP 422 (InvalidArgumentException)");
        let record = r#"{"SequenceNumber":"1","ShardId":"s"}"#;
        assert_eq!(read_answer(Route::Record, "s", 1, 200, record).acks, [stream("1")]);
        assert_eq!(
            read_answer(Route::Record, "s", 1, 502, "Bad Gateway").failed,
            failed(http(502, None), "Bad Gateway", 1)
        );
    }

    #[test]
    fn source_files_are_replayed_with_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pin.jsonl"), "{\"index\": 7}\n{\"index\": 9}\n{\"index\": 10}\n").unwrap();
        fs::write(dir.path().join("geo.jsonl"), "{\"ind\": 7}\r\n{\"ind\": 9}\n").unwrap();
        fs::write(dir.path().join("user.jsonl"), "{\"ind\": 7}\n{\"ind\": 9}\n\n").unwrap();
        let tables = read_source(dir.path()).unwrap();
        assert_eq!(tables[0], ["{\"index\": 7}", "{\"index\": 9}"]);
        assert_eq!(tables[1], ["{\"ind\": 7}", "{\"ind\": 9}"]);
        let mut source = Source::Files { tables, next: 0 };
        assert_eq!(source.next_post().unwrap().key, "7");
        assert_eq!(source.next_post().unwrap().key, "9");
        assert!(source.next_post().is_none());
        fs::write(dir.path().join("geo.jsonl"), "{\"ind\": 7}\nnot json\n").unwrap();
        let error = read_source(dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains("geo.jsonl line 2 is not JSON"), "{error:#}");
    }
}
