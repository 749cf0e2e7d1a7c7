//! What the four Lambda functions tell CloudWatch, in one place: their metrics and their log lines.
//!
//! * **Metrics** are CloudWatch [Embedded Metric Format] (EMF) lines: one JSON object per line on
//!   stdout, with an `_aws` block naming the namespace, dimensions and metrics, and the values beside
//!   it. CloudWatch Logs turns them into metrics as the function's log group receives them; no API
//!   call, no extra permission. A function builds a [`Metrics`] per invocation and [`Metrics::emit`]s
//!   it from its `main` (never from the handler, which `pinpipe run` also calls).
//! * **Logs**: [`log::init`] installs the `tracing` subscriber every function uses: with
//!   `AWS_LAMBDA_LOG_FORMAT=JSON` each line carries `timestamp` (RFC 3339), `level`, `message`, the
//!   event's fields and the invocation's `requestId` and `xrayTraceId`, which is what Lambda's log-level
//!   filtering and CloudWatch Logs Insights need.
//!
//! The namespace, dimension names and every metric name live here and nowhere else; the alarms and
//! the dashboard of `infra/template.yaml` spell the same names, and a test (`tests/template.rs`)
//! fails if the template uses one this crate does not define.
//!
//! [Embedded Metric Format]: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

pub mod log;

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every pinpipe metric.
pub const NAMESPACE: &str = "pinpipe";

/// The dimension every metric has: the function's name as Lambda knows it (`AWS_LAMBDA_FUNCTION_NAME`,
/// e.g. `pinpipe-kafka-to-s3`), so two stacks in one account keep their metrics apart.
pub const FUNCTION_DIMENSION: &str = "Function";

/// The second dimension of [`RECORDS_REJECTED`] when it is split by the kind of refusal (the rejected
/// line's `kind`, e.g. `not_json`; docs/SPEC.md §3).
pub const KIND_DIMENSION: &str = "Kind";

/// A CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things.
    Count,
    /// A size.
    Bytes,
    /// A duration or an age.
    Milliseconds,
    /// A share, 0 to 100.
    Percent,
}

impl Unit {
    /// The unit's name in CloudWatch.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Milliseconds => "Milliseconds",
            Unit::Percent => "Percent",
        }
    }
}

/// A metric: its name and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The metric's name in CloudWatch.
    pub name: &'static str,
    /// Its unit.
    pub unit: Unit,
}

const fn metric(name: &'static str, unit: Unit) -> Metric {
    Metric { name, unit }
}

/// Records in the invocation's event (batch-transform: raw lines read by the run; ingest-api: records
/// in the request's body once they are checked, none when it is answered before, e.g. refused whole).
pub const RECORDS_IN: Metric = metric("RecordsIn", Unit::Count);
/// Records landed in raw objects under `topics/` (kafka-to-s3).
pub const RECORDS_LANDED: Metric = metric("RecordsLanded", Unit::Count);
/// Rows cleaned and stored (stream-processor: in `stream/`; batch-transform: in `cleaned/`).
pub const RECORDS_CLEANED: Metric = metric("RecordsCleaned", Unit::Count);
/// Records refused and written to `rejected/`; also split by [`KIND_DIMENSION`].
pub const RECORDS_REJECTED: Metric = metric("RecordsRejected", Unit::Count);
/// Records handed back to Lambda for a retry (stream-processor's `batchItemFailures`).
pub const RECORDS_RETRIED: Metric = metric("RecordsRetried", Unit::Count);
/// Records dropped as exact duplicates (kafka-to-s3: an offset twice in one event; batch-transform:
/// a record cleaned before).
pub const DUPLICATES_DROPPED: Metric = metric("DuplicatesDropped", Unit::Count);
/// Objects written to the lake.
pub const OBJECTS_WRITTEN: Metric = metric("ObjectsWritten", Unit::Count);
/// Raw objects a batch run consumed.
pub const INPUTS_CONSUMED: Metric = metric("InputsConsumed", Unit::Count);
/// Bytes received: request bodies (ingest-api), record data (stream-processor), raw objects read
/// (batch-transform).
pub const BYTES_IN: Metric = metric("BytesIn", Unit::Bytes);
/// Bytes of the raw objects written (kafka-to-s3).
pub const BYTES_LANDED: Metric = metric("BytesLanded", Unit::Bytes);
/// Age of the batch's oldest record when it was landed, from its Kafka timestamp (kafka-to-s3).
pub const RECORD_AGE: Metric = metric("RecordAge", Unit::Milliseconds);
/// Share of a batch run's records that were refused, 0 to 100 (batch-transform).
pub const REJECTED_SHARE: Metric = metric("RejectedShare", Unit::Percent);
/// Requests answered (ingest-api).
pub const REQUESTS: Metric = metric("Requests", Unit::Count);
/// Requests answered with a 4xx: refused as malformed, unknown topic or stream … (ingest-api).
pub const REQUESTS_REFUSED: Metric = metric("RequestsRefused", Unit::Count);
/// Requests answered with a 5xx: Kafka or Kinesis did not take every record (ingest-api).
pub const REQUESTS_FAILED: Metric = metric("RequestsFailed", Unit::Count);
/// Records Kafka or Kinesis acknowledged: an offset or a sequence number in the answer (ingest-api).
pub const RECORDS_ACKNOWLEDGED: Metric = metric("RecordsAcknowledged", Unit::Count);
/// Records received but not acknowledged, failed or refused one by one or with their call, for the
/// client to resend (ingest-api; docs/SPEC.md §2).
pub const RECORDS_FAILED: Metric = metric("RecordsFailed", Unit::Count);

/// Every metric a pinpipe function emits.
pub const ALL: &[Metric] = &[
    RECORDS_IN,
    RECORDS_LANDED,
    RECORDS_CLEANED,
    RECORDS_REJECTED,
    RECORDS_RETRIED,
    DUPLICATES_DROPPED,
    OBJECTS_WRITTEN,
    INPUTS_CONSUMED,
    BYTES_IN,
    BYTES_LANDED,
    RECORD_AGE,
    REJECTED_SHARE,
    REQUESTS,
    REQUESTS_REFUSED,
    REQUESTS_FAILED,
    RECORDS_ACKNOWLEDGED,
    RECORDS_FAILED,
];

/// The name of the running function: `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda), else `default`
/// (the binary's name, under cargo-lambda or in tests).
pub fn function_name(default: &str) -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The text of a serialisable label, such as a `RejectKind` (`"not_json"`), for a dimension value.
pub fn label<T: serde::Serialize + ?Sized>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => "unknown".to_string(),
    }
}

/// A metric's value: counts stay integers in the JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    /// A whole number.
    Int(u64),
    /// Any other number.
    Float(f64),
}

impl From<u64> for MetricValue {
    fn from(value: u64) -> Self {
        MetricValue::Int(value)
    }
}

impl From<usize> for MetricValue {
    fn from(value: usize) -> Self {
        MetricValue::Int(value as u64)
    }
}

impl From<f64> for MetricValue {
    fn from(value: f64) -> Self {
        MetricValue::Float(value)
    }
}

impl MetricValue {
    fn to_json(self) -> Value {
        match self {
            MetricValue::Int(value) => json!(value),
            // CloudWatch takes no NaN or infinity; such a value would make the whole line invalid.
            MetricValue::Float(value) if value.is_finite() => json!(value),
            MetricValue::Float(_) => json!(0),
        }
    }
}

/// The metrics of one invocation of one function, written as EMF lines by [`Metrics::emit`].
///
/// Values put under [`FUNCTION_DIMENSION`] alone go in one line; each value put with an extra
/// dimension ([`Metrics::put_by`]) goes in a line of its own, as EMF gives a dimension one value per
/// line. A metric put twice under the same dimensions adds up.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    function: String,
    values: Vec<(Metric, MetricValue)>,
    split: Vec<(Metric, &'static str, String, MetricValue)>,
}

impl Metrics {
    /// No metrics yet, for the function named `function` (see [`function_name`]).
    pub fn new(function: impl Into<String>) -> Self {
        Metrics { function: function.into(), values: Vec::new(), split: Vec::new() }
    }

    /// The function the metrics are about.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// Puts `value` for `metric`, under the function dimension alone.
    pub fn put(&mut self, metric: Metric, value: impl Into<MetricValue>) -> &mut Self {
        let value = value.into();
        match self.values.iter_mut().find(|(known, _)| *known == metric) {
            Some((_, total)) => *total = add(*total, value),
            None => self.values.push((metric, value)),
        }
        self
    }

    /// Puts `value` for `metric` under the function dimension and `dimension` = `label` (for
    /// example [`RECORDS_REJECTED`] by [`KIND_DIMENSION`] `not_json`).
    pub fn put_by(
        &mut self,
        metric: Metric,
        dimension: &'static str,
        label: impl Into<String>,
        value: impl Into<MetricValue>,
    ) -> &mut Self {
        let (label, value) = (label.into(), value.into());
        match self
            .split
            .iter_mut()
            .find(|(known, dim, known_label, _)| *known == metric && *dim == dimension && *known_label == label)
        {
            Some((_, _, _, total)) => *total = add(*total, value),
            None => self.split.push((metric, dimension, label, value)),
        }
        self
    }

    /// The value put for `metric` under the function dimension alone, if any.
    pub fn get(&self, metric: Metric) -> Option<MetricValue> {
        self.values.iter().find(|(known, _)| *known == metric).map(|(_, value)| *value)
    }

    /// The EMF documents, one JSON object per line, stamped `timestamp_ms` (milliseconds since the
    /// Unix epoch).
    pub fn documents(&self, timestamp_ms: u64) -> Vec<Value> {
        let mut documents = Vec::new();
        if !self.values.is_empty() {
            let mut root = Map::new();
            for (metric, value) in &self.values {
                root.insert(metric.name.to_string(), value.to_json());
            }
            let metrics: Vec<Metric> = self.values.iter().map(|(metric, _)| *metric).collect();
            documents.push(self.document(timestamp_ms, &[FUNCTION_DIMENSION], &metrics, root));
        }
        for (metric, dimension, label, value) in &self.split {
            let mut root = Map::new();
            root.insert(dimension.to_string(), Value::String(label.clone()));
            root.insert(metric.name.to_string(), value.to_json());
            documents.push(self.document(timestamp_ms, &[FUNCTION_DIMENSION, dimension], &[*metric], root));
        }
        documents
    }

    fn document(
        &self,
        timestamp_ms: u64,
        dimensions: &[&str],
        metrics: &[Metric],
        mut root: Map<String, Value>,
    ) -> Value {
        let metrics: Vec<Value> =
            metrics.iter().map(|metric| json!({"Name": metric.name, "Unit": metric.unit.as_str()})).collect();
        root.insert(FUNCTION_DIMENSION.to_string(), Value::String(self.function.clone()));
        root.insert(
            "_aws".to_string(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dimensions], "Metrics": metrics}],
            }),
        );
        Value::Object(root)
    }

    /// The EMF lines, each ending in `\n`, stamped `timestamp_ms`.
    pub fn to_lines(&self, timestamp_ms: u64) -> String {
        let mut text = String::new();
        for document in self.documents(timestamp_ms) {
            text.push_str(&document.to_string());
            text.push('\n');
        }
        text
    }

    /// Writes the EMF lines to stdout, stamped now, in one write (so no log line lands inside one).
    /// A failure to write is logged, never returned: metrics must not fail an invocation.
    pub fn emit(&self) {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_millis() as u64).unwrap_or(0);
        let lines = self.to_lines(now_ms);
        if lines.is_empty() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = stdout.write_all(lines.as_bytes()).and_then(|()| stdout.flush()) {
            tracing::warn!(%error, "could not write the invocation's metrics");
        }
    }
}

fn add(a: MetricValue, b: MetricValue) -> MetricValue {
    match (a, b) {
        (MetricValue::Int(a), MetricValue::Int(b)) => MetricValue::Int(a.saturating_add(b)),
        (a, b) => MetricValue::Float(as_f64(a) + as_f64(b)),
    }
}

fn as_f64(value: MetricValue) -> f64 {
    match value {
        MetricValue::Int(value) => value as f64,
        MetricValue::Float(value) => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_dimension_set_in_the_emf_shape() {
        let mut metrics = Metrics::new("pinpipe-kafka-to-s3");
        metrics.put(RECORDS_IN, 123usize).put(BYTES_LANDED, 4096u64).put(RECORDS_IN, 2usize);
        metrics.put_by(RECORDS_REJECTED, KIND_DIMENSION, "not_json", 3usize);
        metrics.put_by(RECORDS_REJECTED, KIND_DIMENSION, "not_json", 1usize);
        metrics.put_by(RECORDS_REJECTED, KIND_DIMENSION, "missing_value", 1usize);
        let lines = metrics.to_lines(1_700_000_000_000);
        assert!(lines.ends_with('\n'));
        let lines: Vec<Value> = lines.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(
            lines[0],
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "pinpipe",
                        "Dimensions": [["Function"]],
                        "Metrics": [{"Name": "RecordsIn", "Unit": "Count"}, {"Name": "BytesLanded", "Unit": "Bytes"}],
                    }],
                },
                "Function": "pinpipe-kafka-to-s3",
                "RecordsIn": 125,
                "BytesLanded": 4096,
            })
        );
        assert_eq!(
            lines[1],
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "pinpipe",
                        "Dimensions": [["Function", "Kind"]],
                        "Metrics": [{"Name": "RecordsRejected", "Unit": "Count"}],
                    }],
                },
                "Function": "pinpipe-kafka-to-s3",
                "Kind": "not_json",
                "RecordsRejected": 4,
            })
        );
        assert_eq!(lines[2]["Kind"], "missing_value");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn values_are_numbers_cloudwatch_takes() {
        let mut metrics = Metrics::new("f");
        metrics.put(REJECTED_SHARE, 12.5).put(RECORD_AGE, f64::NAN);
        let line: Value = serde_json::from_str(metrics.to_lines(0).trim_end()).unwrap();
        assert_eq!(line["RejectedShare"], json!(12.5));
        assert_eq!(line["RecordAge"], json!(0));
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Percent");
        assert_eq!(metrics.get(REJECTED_SHARE), Some(MetricValue::Float(12.5)));
        assert_eq!(Metrics::new("f").to_lines(0), "");
    }

    #[test]
    fn names_are_unique_and_labels_are_plain_text() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|b| a.name != b.name), "{} twice", a.name);
            assert!(a.name.chars().all(|c| c.is_ascii_alphanumeric()), "{}", a.name);
        }
        assert_eq!(label("not_json"), "not_json");
        assert_eq!(label(&3), "3");
    }
}
