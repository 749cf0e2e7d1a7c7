//! The handler: routes a request, checks it, hands the records to Kafka or Kinesis and answers in
//! the wire format of the route. Framework-free: the Lambda function ([`IngestRequest`] from an API
//! Gateway event) and the axum server ([`crate::server`]) both call [`Ingest::handle`].

use std::sync::Arc;
use std::time::Instant;

use pinpipe_contract::Names;

use crate::error::{codes, ApiError};
use crate::ports::{
    Offset, ProduceError, RecordFailure, Stored, StreamError, StreamRecord, StreamWriter, TopicProducer, TopicRecord,
};
use crate::wire::{
    self, OffsetEntry, ProduceResponse, PutRecordResponse, PutRecordsEntry, PutRecordsResponse, RecordRef,
};

/// The content type of REST-proxy answers.
pub const KAFKA_V2_JSON: &str = "application/vnd.kafka.v2+json";
/// The content type of Kinesis-proxy answers and errors outside the topic route.
pub const APPLICATION_JSON: &str = "application/json";
/// The REST proxy's content type for produce requests with JSON values.
pub const KAFKA_JSON_V2_JSON: &str = "application/vnd.kafka.json.v2+json";

/// The most records one `PutRecords` call takes.
pub const PUT_RECORDS_MAX_RECORDS: usize = 500;
/// The most bytes (data and partition keys) one `PutRecords` call takes.
pub const PUT_RECORDS_MAX_BYTES: usize = 5 << 20;

/// A request as the handler needs it.
#[derive(Clone, Copy, Debug)]
pub struct IngestRequest<'a> {
    /// `POST`, `PUT`, ...
    pub method: &'a str,
    /// The URL path, e.g. `/topics/pinpipe.pin` (a stage prefix before the route is ignored).
    pub path: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body (already base64-decoded where API Gateway encoded it).
    pub body: &'a [u8],
    /// The request id, for the logs.
    pub request_id: &'a str,
}

/// The answer: status, content type and JSON body, and what became of the request's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The JSON body.
    pub body: String,
    /// The request's records: received, stored, failed (also in the request's log line).
    pub records: RecordCounts,
}

impl IngestResponse {
    fn json(status: u16, content_type: &'static str, body: &impl serde::Serialize) -> Self {
        Self {
            status,
            content_type,
            body: serde_json::to_string(body).expect("answers serialize"),
            records: RecordCounts::default(),
        }
    }

    fn error(error: &ApiError, content_type: &'static str) -> Self {
        Self { status: error.status, content_type, body: error.envelope(), records: RecordCounts::default() }
    }
}

/// What became of one request's records.
///
/// A request answered before its records are checked (refused whole as malformed, unknown target,
/// Kafka or Kinesis not configured: docs/SPEC.md §2) received none. A partial answer (some records stored, the others listed with their error) has both `stored` and
/// `failed`; `received` is always `stored + failed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// Records the request carried once its body was read and checked.
    pub received: usize,
    /// Records Kafka or Kinesis acknowledged (an offset or a sequence number in the answer).
    pub stored: usize,
    /// Records received but not acknowledged: failed or refused one by one, or with their call; the
    /// client resends them.
    pub failed: usize,
}

/// The routes of docs/SPEC.md §2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `POST /topics/{topic}`.
    Topic(&'a str),
    /// `PUT /streams/{stream}/record`.
    StreamRecord(&'a str),
    /// `PUT /streams/{stream}/records`.
    StreamRecords(&'a str),
}

impl<'a> Route<'a> {
    /// The route of a path, matched on its last segments (so a stage prefix is ignored).
    pub fn of(path: &'a str) -> Option<Self> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [.., "topics", topic] => Some(Route::Topic(topic)),
            [.., "streams", stream, "record"] => Some(Route::StreamRecord(stream)),
            [.., "streams", stream, "records"] => Some(Route::StreamRecords(stream)),
            _ => None,
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Route::Topic(_) => "POST",
            Route::StreamRecord(_) | Route::StreamRecords(_) => "PUT",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Route::Topic(_) => "POST /topics/{topic}",
            Route::StreamRecord(_) => "PUT /streams/{stream-name}/record",
            Route::StreamRecords(_) => "PUT /streams/{stream-name}/records",
        }
    }

    fn target(&self) -> &'a str {
        match self {
            Route::Topic(name) | Route::StreamRecord(name) | Route::StreamRecords(name) => name,
        }
    }
}

/// What one request did so far, as the routes learn it; [`Counts::records`] is what it comes to.
#[derive(Default)]
struct Counts {
    records: usize,
    stored: usize,
}

impl Counts {
    /// The request's [`RecordCounts`], for its answer and its log line.
    fn records(&self) -> RecordCounts {
        RecordCounts { received: self.records, stored: self.stored, failed: self.records.saturating_sub(self.stored) }
    }
}

/// The ingestion API: the allow-list and the two ports.
pub struct Ingest {
    names: Names,
    kafka: Option<Arc<dyn TopicProducer>>,
    streams: Option<Arc<dyn StreamWriter>>,
}

impl Ingest {
    /// The API for the topics and streams of `names`. Without a producer the topic route answers 503,
    /// without a writer the stream routes do.
    pub fn new(names: Names, kafka: Option<Arc<dyn TopicProducer>>, streams: Option<Arc<dyn StreamWriter>>) -> Self {
        Self { names, kafka, streams }
    }

    /// The topic and stream names served.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Handles one request; every outcome is an answer (errors in the REST-proxy envelope), and each
    /// request logs one line with its request id, route, status and record counts.
    pub async fn handle(&self, request: IngestRequest<'_>) -> IngestResponse {
        let started = Instant::now();
        let route = Route::of(request.path);
        let mut counts = Counts::default();
        let mut response = match &route {
            None => IngestResponse::error(
                &ApiError::new(
                    404,
                    codes::NO_ROUTE,
                    format!(
                        "no route for {} {}: the routes are POST /topics/{{topic}}, PUT /streams/{{stream-name}}/record and PUT /streams/{{stream-name}}/records",
                        request.method, request.path
                    ),
                ),
                APPLICATION_JSON,
            ),
            Some(route) => match self.route(route, &request, &mut counts).await {
                Ok(response) => response,
                Err(error) => IngestResponse::error(&error, error_content_type(Some(route))),
            },
        };
        response.records = counts.records();
        log_request(&request, route.as_ref(), &response, started);
        response
    }

    /// The answer to a request the HTTP server refuses before its body is read whole (too large,
    /// truncated, too slow; see [`crate::server`]): `error` in the envelope, with the content type of the
    /// route's errors, logged like every request. `request.body` is not looked at.
    pub fn refuse(&self, request: IngestRequest<'_>, error: &ApiError) -> IngestResponse {
        let started = Instant::now();
        let route = Route::of(request.path);
        let response = IngestResponse::error(error, error_content_type(route.as_ref()));
        log_request(&request, route.as_ref(), &response, started);
        response
    }

    async fn route(
        &self,
        route: &Route<'_>,
        request: &IngestRequest<'_>,
        counts: &mut Counts,
    ) -> Result<IngestResponse, ApiError> {
        if !request.method.eq_ignore_ascii_case(route.method()) {
            return Err(ApiError::new(
                405,
                codes::METHOD_NOT_ALLOWED,
                format!("{} does not take {}: use {}", request.path, request.method, route.name()),
            ));
        }
        match *route {
            Route::Topic(topic) => self.produce(topic, request, counts).await,
            Route::StreamRecord(stream) => self.put_record(stream, request, counts).await,
            Route::StreamRecords(stream) => self.put_records(stream, request, counts).await,
        }
    }

    /// `POST /topics/{topic}`: checks the records, produces them and answers with their offsets.
    async fn produce(
        &self,
        topic: &str,
        request: &IngestRequest<'_>,
        counts: &mut Counts,
    ) -> Result<IngestResponse, ApiError> {
        let kafka = self.topic_producer(topic, request)?;
        let (refs, records): (Vec<RecordRef>, Vec<TopicRecord>) =
            wire::parse_produce(request.body)?.into_iter().unzip();
        counts.records = records.len();
        let results = kafka.produce(topic, &records).await;
        if results.len() != records.len() {
            return Err(ApiError::new(
                500,
                codes::INTERNAL,
                format!(
                    "the producer answered {} results for {} records; nothing is claimed stored",
                    results.len(),
                    records.len()
                ),
            ));
        }
        counts.stored = results.iter().filter(|result| result.is_ok()).count();
        Ok(produce_answer(&refs, &results))
    }

    /// The producer for `topic`: 404 unless the topic is served, 503 without Kafka, 415 unless the
    /// content type is the JSON embedded format.
    fn topic_producer(&self, topic: &str, request: &IngestRequest<'_>) -> Result<&dyn TopicProducer, ApiError> {
        if self.names.table_of_topic(topic).is_none() {
            return Err(ApiError::unknown_topic(format!(
                "topic {topic:?} is not served here: the topics are {}",
                self.names.topics().join(", ")
            )));
        }
        let Some(kafka) = &self.kafka else {
            return Err(ApiError::unavailable(
                "Kafka is not configured for this API (set PINPIPE_KAFKA_BOOTSTRAP or PINPIPE_MSK_CLUSTER_ARN)",
            ));
        };
        check_content_type(
            request.content_type,
            &[KAFKA_JSON_V2_JSON, APPLICATION_JSON],
            "the topic route takes the JSON embedded format",
        )?;
        Ok(kafka.as_ref())
    }

    /// The writer for `stream`: 404 unless the stream is served, 503 without Kinesis, 415 unless JSON.
    fn stream_writer(&self, stream: &str, request: &IngestRequest<'_>) -> Result<&dyn StreamWriter, ApiError> {
        if self.names.table_of_stream(stream).is_none() {
            return Err(ApiError::unknown_stream(format!(
                "stream {stream:?} is not served here: the streams are {}",
                self.names.streams().join(", ")
            )));
        }
        let Some(writer) = &self.streams else {
            return Err(ApiError::unavailable("Kinesis is not configured for this API"));
        };
        check_content_type(request.content_type, &[APPLICATION_JSON], "the stream routes take JSON")?;
        Ok(writer.as_ref())
    }

    /// `PUT /streams/{stream}/record`: one record, stored or refused as a whole.
    async fn put_record(
        &self,
        stream: &str,
        request: &IngestRequest<'_>,
        counts: &mut Counts,
    ) -> Result<IngestResponse, ApiError> {
        let writer = self.stream_writer(stream, request)?;
        let record = wire::parse_put_record(request.body, stream)?;
        counts.records = 1;
        let stored = writer.put_record(stream, &record).await.map_err(|error| stream_error(stream, &error))?;
        counts.stored = 1;
        Ok(IngestResponse::json(
            200,
            APPLICATION_JSON,
            &PutRecordResponse {
                sequence_number: &stored.sequence_number,
                shard_id: &stored.shard_id,
                encryption_type: stored.encryption_type.as_deref(),
            },
        ))
    }

    /// `PUT /streams/{stream}/records`: checks the records, puts those that may be stored and answers
    /// record by record.
    async fn put_records(
        &self,
        stream: &str,
        request: &IngestRequest<'_>,
        counts: &mut Counts,
    ) -> Result<IngestResponse, ApiError> {
        let writer = self.stream_writer(stream, request)?;
        let checked = wire::parse_put_records(request.body, stream)?;
        counts.records = checked.len();
        let (results, call_error) = put_in_calls(writer, stream, &checked).await;
        counts.stored = results.iter().filter(|result| result.is_ok()).count();
        if counts.stored == 0 {
            if let Some(error) = &call_error {
                // Nothing stored and one cause: the plain error answer.
                return Err(stream_error(stream, error));
            }
        }
        Ok(put_records_answer(&results, &checked, call_error.as_ref()))
    }
}

/// The content type of an error answer: the REST proxy's on the topic route, JSON elsewhere.
fn error_content_type(route: Option<&Route<'_>>) -> &'static str {
    match route {
        Some(Route::Topic(_)) => KAFKA_V2_JSON,
        _ => APPLICATION_JSON,
    }
}

/// The answer to a produce request whose records all have a result: 200 with every offset, or, when
/// some failed, the status and code of the first failure (one the client may retry first) and a
/// message naming the failed records.
fn produce_answer(refs: &[RecordRef], results: &[Result<Offset, ProduceError>]) -> IngestResponse {
    let offsets: Vec<OffsetEntry> = results.iter().map(OffsetEntry::of).collect();
    let errors = || results.iter().filter_map(|result| result.as_ref().err());
    let Some(first) = errors().find(|error| matches!(error, ProduceError::Unavailable(_))).or_else(|| errors().next())
    else {
        return IngestResponse::json(
            200,
            KAFKA_V2_JSON,
            &ProduceResponse { error_code: None, message: None, offsets, key_schema_id: None, value_schema_id: None },
        );
    };
    let error_code = wire::produce_error_code(first);
    let failures: Vec<String> = refs
        .iter()
        .zip(results)
        .filter_map(|(at, result)| result.as_ref().err().map(|error| format!("{at}: {error}")))
        .collect();
    let message = failure_message(&failures, results.len(), "were not acknowledged by Kafka", "offsets");
    IngestResponse::json(
        status_of(error_code),
        KAFKA_V2_JSON,
        &ProduceResponse {
            error_code: Some(error_code),
            message: Some(&message),
            offsets,
            key_schema_id: None,
            value_schema_id: None,
        },
    )
}

/// Puts the records of `checked` that passed the checks into `stream`, in calls of at most 500
/// records and 5 MiB, in order. After a failed call the rest is not attempted: its error stands for
/// them too. Returns one result per record of `checked` (a record refused here keeps its failure) and
/// the first error of a whole call.
async fn put_in_calls(
    writer: &dyn StreamWriter,
    stream: &str,
    checked: &[Result<StreamRecord, RecordFailure>],
) -> (Vec<Result<Stored, RecordFailure>>, Option<StreamError>) {
    let mut results: Vec<Option<Result<Stored, RecordFailure>>> =
        checked.iter().map(|record| record.as_ref().err().cloned().map(Err)).collect();
    let sendable: Vec<(usize, &StreamRecord)> = checked
        .iter()
        .enumerate()
        .filter_map(|(index, record)| record.as_ref().ok().map(|record| (index, record)))
        .collect();
    let mut call_error: Option<StreamError> = None;
    for chunk in chunks(&sendable) {
        let outcome = match &call_error {
            Some(error) => Err(error.clone()),
            None => put_call(writer, stream, chunk).await,
        };
        match outcome {
            Ok(stored) => {
                for ((index, _), result) in chunk.iter().zip(stored) {
                    results[*index] = Some(result);
                }
            }
            Err(error) => {
                for (index, _) in chunk {
                    results[*index] = Some(Err(record_failure(&error)));
                }
                call_error.get_or_insert(error);
            }
        }
    }
    let results = results.into_iter().map(|result| result.expect("every record has a result")).collect();
    (results, call_error)
}

/// One `PutRecords` call; an answer without one result per record fails the whole call.
async fn put_call(
    writer: &dyn StreamWriter,
    stream: &str,
    chunk: &[(usize, &StreamRecord)],
) -> Result<Vec<Result<Stored, RecordFailure>>, StreamError> {
    let batch: Vec<StreamRecord> = chunk.iter().map(|(_, record)| (*record).clone()).collect();
    let stored = writer.put_records(stream, &batch).await?;
    if stored.len() != batch.len() {
        return Err(StreamError::Unavailable(format!(
            "Kinesis answered {} results for {} records",
            stored.len(),
            batch.len()
        )));
    }
    Ok(stored)
}

/// The answer to a `PutRecords` request that stored something or failed record by record: 200 when
/// every record is stored; otherwise the status and code of what stopped the others, and a message
/// naming them.
fn put_records_answer(
    results: &[Result<Stored, RecordFailure>],
    checked: &[Result<StreamRecord, RecordFailure>],
    call_error: Option<&StreamError>,
) -> IngestResponse {
    let entries: Vec<PutRecordsEntry> = results.iter().map(PutRecordsEntry::of).collect();
    let encryption_type =
        results.iter().find_map(|result| result.as_ref().ok().and_then(|stored| stored.encryption_type.as_deref()));
    let failures: Vec<String> = results
        .iter()
        .enumerate()
        .filter_map(|(index, result)| {
            result
                .as_ref()
                .err()
                .map(|failure| format!("records[{index}]: {}: {}", failure.error_code, failure.error_message))
        })
        .collect();
    if failures.is_empty() {
        return IngestResponse::json(
            200,
            APPLICATION_JSON,
            &PutRecordsResponse {
                error_code: None,
                message: None,
                failed_record_count: 0,
                records: entries,
                encryption_type,
            },
        );
    }
    let (status, error_code) = match call_error {
        // A failed call stopped the records it held and those after it.
        Some(error) => stream_error_code(error),
        // Only records refused here for their size: the client's fault.
        None if results.iter().zip(checked).all(|(result, checked)| result.is_ok() || checked.is_err()) => {
            (422, codes::RECORD_TOO_LARGE)
        }
        // Records Kinesis failed one by one (throttled, internal failure): worth retrying.
        None => (503, codes::UNAVAILABLE),
    };
    let message = failure_message(&failures, results.len(), "were not stored by Kinesis", "Records");
    IngestResponse::json(
        status,
        APPLICATION_JSON,
        &PutRecordsResponse {
            error_code: Some(error_code),
            message: Some(&message),
            failed_record_count: failures.len(),
            records: entries,
            encryption_type,
        },
    )
}

/// The request's one log line: `info` when it is answered 200, else `warn` with the start of the answer.
fn log_request(request: &IngestRequest<'_>, route: Option<&Route<'_>>, response: &IngestResponse, started: Instant) {
    let counts = &response.records;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route_name = route.map_or("none", Route::name);
    let target = route.map_or("", Route::target);
    if response.status == 200 {
        tracing::info!(
            request_id = request.request_id,
            route = route_name,
            destination = target,
            status = response.status,
            records = counts.received,
            stored = counts.stored,
            failed = counts.failed,
            duration_ms,
            "request handled"
        );
    } else {
        tracing::warn!(
            request_id = request.request_id,
            route = route_name,
            destination = target,
            status = response.status,
            records = counts.received,
            stored = counts.stored,
            failed = counts.failed,
            duration_ms,
            answer = %truncated(&response.body, 600),
            "request refused or failed"
        );
    }
}

/// Splits records into `PutRecords` calls of at most 500 records and 5 MiB.
fn chunks<'r>(records: &'r [(usize, &'r StreamRecord)]) -> Vec<&'r [(usize, &'r StreamRecord)]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, (_, record)) in records.iter().enumerate() {
        let size = record.data.len() + record.partition_key.len();
        if index > start && (index - start == PUT_RECORDS_MAX_RECORDS || bytes + size > PUT_RECORDS_MAX_BYTES) {
            out.push(&records[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < records.len() {
        out.push(&records[start..]);
    }
    out
}

/// The failure each record of a failed call gets.
fn record_failure(error: &StreamError) -> RecordFailure {
    RecordFailure { error_code: error.record_error_code().to_string(), error_message: error.to_string() }
}

/// The HTTP status and `error_code` of a whole Kinesis call that failed.
fn stream_error_code(error: &StreamError) -> (u16, u32) {
    match error {
        StreamError::NotFound(_) => (404, codes::UNKNOWN_STREAM),
        StreamError::Invalid(_) => (422, codes::KINESIS_REFUSED),
        StreamError::Unavailable(_) => (503, codes::UNAVAILABLE),
    }
}

/// The answer to a whole Kinesis call that failed.
fn stream_error(stream: &str, error: &StreamError) -> ApiError {
    let (status, error_code) = stream_error_code(error);
    let message = match error {
        StreamError::NotFound(detail) => {
            format!("stream {stream:?} does not exist in Kinesis; nothing was stored ({detail})")
        }
        StreamError::Invalid(detail) => format!("Kinesis refused the records; nothing was stored: {detail}"),
        StreamError::Unavailable(detail) => {
            format!("stream {stream:?} is unavailable; nothing was stored, retry later: {detail}")
        }
    };
    ApiError::new(status, error_code, message)
}

/// The HTTP status of an `error_code` (`status * 100 + sub-code`).
fn status_of(error_code: u32) -> u16 {
    u16::try_from(error_code / 100).expect("error codes are status * 100 + sub-code")
}

/// "2 of 5 records were not …: records[1]: reason; records[3]: reason. The other 3 are stored (see
/// offsets): resend only the failed ones.", from one "record: reason" text per failed record.
fn failure_message(failures: &[String], total: usize, what: &str, listing: &str) -> String {
    const SHOWN: usize = 5;
    let mut message = format!("{} of {total} records {what}: ", failures.len());
    message.push_str(&failures[..failures.len().min(SHOWN)].join("; "));
    if failures.len() > SHOWN {
        message.push_str(&format!("; and {} more", failures.len() - SHOWN));
    }
    let stored = total - failures.len();
    if stored > 0 {
        message.push_str(&format!(". The other {stored} are stored (see {listing}): resend only the failed ones"));
    }
    message
}

/// 415 unless the content type's media type is one of `accepted`.
fn check_content_type(content_type: Option<&str>, accepted: &[&str], what: &str) -> Result<(), ApiError> {
    let media_type =
        content_type.and_then(|value| value.split(';').next()).map(|value| value.trim().to_ascii_lowercase());
    match media_type {
        Some(media_type) if accepted.contains(&media_type.as_str()) => Ok(()),
        _ => Err(ApiError::new(
            415,
            codes::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type {}: {what}, send {}",
                content_type.map_or_else(|| "(none)".to_string(), |value| format!("{value:?}")),
                accepted.join(" or ")
            ),
        )),
    }
}

fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_the_last_path_segments() {
        assert_eq!(Route::of("/topics/p.pin"), Some(Route::Topic("p.pin")));
        assert_eq!(Route::of("/dev/topics/p.pin/"), Some(Route::Topic("p.pin")));
        assert_eq!(Route::of("/streams/s/record"), Some(Route::StreamRecord("s")));
        assert_eq!(Route::of("/streams/s/records"), Some(Route::StreamRecords("s")));
        assert_eq!(Route::of("/topics"), None);
        assert_eq!(Route::of("/streams/s"), None);
        assert_eq!(Route::of("/"), None);
    }

    #[test]
    fn content_types_are_compared_by_media_type() {
        let accepted = [KAFKA_JSON_V2_JSON, APPLICATION_JSON];
        assert!(check_content_type(Some("application/vnd.kafka.json.v2+json"), &accepted, "").is_ok());
        assert!(check_content_type(Some("Application/JSON; charset=utf-8"), &accepted, "").is_ok());
        let error = check_content_type(Some("application/vnd.kafka.binary.v2+json"), &accepted, "").unwrap_err();
        assert_eq!((error.status, error.error_code), (415, codes::UNSUPPORTED_MEDIA_TYPE));
        assert!(check_content_type(None, &accepted, "").is_err());
    }

    #[test]
    fn put_records_calls_hold_at_most_500_records_and_5_mib() {
        let small = StreamRecord { data: vec![b'x'; 10], partition_key: "k".into() };
        let records: Vec<(usize, &StreamRecord)> = (0..1001).map(|index| (index, &small)).collect();
        let sizes: Vec<usize> = chunks(&records).iter().map(|chunk| chunk.len()).collect();
        assert_eq!(sizes, [500, 500, 1]);
        let big = StreamRecord { data: vec![b'x'; (1 << 20) - 1], partition_key: "k".into() };
        let records: Vec<(usize, &StreamRecord)> = (0..11).map(|index| (index, &big)).collect();
        let sizes: Vec<usize> = chunks(&records).iter().map(|chunk| chunk.len()).collect();
        assert_eq!(sizes, [5, 5, 1]);
        assert!(chunks(&[]).is_empty());
    }

    #[test]
    fn a_partly_stored_put_records_answers_the_cause_of_its_failures() {
        let record = StreamRecord { data: b"{}".to_vec(), partition_key: "k".into() };
        let stored =
            Stored { sequence_number: "1".into(), shard_id: "shardId-000000000000".into(), encryption_type: None };
        let too_large = RecordFailure { error_code: wire::TOO_LARGE_ERROR_CODE.into(), error_message: "big".into() };
        let answer = |failure: RecordFailure, refused_here: bool, call_error: Option<StreamError>| {
            let checked = [Ok(record.clone()), if refused_here { Err(failure.clone()) } else { Ok(record.clone()) }];
            let answer = put_records_answer(&[Ok(stored.clone()), Err(failure)], &checked, call_error.as_ref());
            let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
            (answer.status, body["error_code"].as_u64().unwrap())
        };
        assert_eq!(answer(too_large.clone(), true, None), (422, u64::from(codes::RECORD_TOO_LARGE)));
        let throttled =
            RecordFailure { error_code: "ProvisionedThroughputExceededException".into(), error_message: "m".into() };
        assert_eq!(answer(throttled, false, None), (503, u64::from(codes::UNAVAILABLE)));
        for (error, expected) in [
            (StreamError::Invalid("v".into()), (422, codes::KINESIS_REFUSED)),
            (StreamError::NotFound("n".into()), (404, codes::UNKNOWN_STREAM)),
            (StreamError::Unavailable("u".into()), (503, codes::UNAVAILABLE)),
        ] {
            let failure = record_failure(&error);
            assert_eq!(answer(failure, false, Some(error)), (expected.0, u64::from(expected.1)));
        }
    }

    /// A Kafka that acknowledges every record but the second, which times out.
    struct SecondTimesOut;

    #[async_trait::async_trait]
    impl TopicProducer for SecondTimesOut {
        async fn produce(&self, _topic: &str, records: &[TopicRecord]) -> Vec<Result<Offset, ProduceError>> {
            (0..records.len())
                .map(|index| match index {
                    1 => Err(ProduceError::Unavailable("Local: Message timed out".into())),
                    _ => Ok(Offset { partition: 0, offset: index as i64 }),
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn the_answer_counts_the_records_received_stored_and_failed() {
        let names = Names::new("counts");
        let api = Ingest::new(names.clone(), Some(Arc::new(SecondTimesOut)), None);
        let path = format!("/topics/{}", names.topics()[0]);
        let request = |body: &'static str| IngestRequest {
            method: "POST",
            path: &path,
            content_type: Some(KAFKA_JSON_V2_JSON),
            body: body.as_bytes(),
            request_id: "r",
        };
        let counts = |received, stored, failed| RecordCounts { received, stored, failed };
        let answer = api.handle(request(r#"{"records":[{"value":{}}]}"#)).await;
        assert_eq!((answer.status, answer.records), (200, counts(1, 1, 0)));
        let answer = api.handle(request(r#"{"records":[{"value":{}},{"value":{}},{"value":{}}]}"#)).await;
        assert_eq!((answer.status, answer.records), (503, counts(3, 2, 1)));
        let answer = api.handle(request("not json")).await;
        assert_eq!((answer.status, answer.records), (400, counts(0, 0, 0)));
        let answer = api.refuse(request(""), &ApiError::new(413, codes::BODY_TOO_LARGE, "too large"));
        assert_eq!(answer.records, counts(0, 0, 0));
    }

    #[test]
    fn failure_messages_name_the_records() {
        let failures = vec!["records[1]: Local: Message timed out".to_string()];
        assert_eq!(
            failure_message(&failures, 3, "were not acknowledged by Kafka", "offsets"),
            "1 of 3 records were not acknowledged by Kafka: records[1]: Local: Message timed out. The other 2 are stored (see offsets): resend only the failed ones"
        );
    }
}
