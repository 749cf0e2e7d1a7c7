//! The functions' log lines.
//!
//! `lambda_runtime::tracing::init_default_subscriber()` (lambda_runtime 1.5) writes JSON when
//! `AWS_LAMBDA_LOG_FORMAT=JSON`, but `.without_time()`: its lines have no `timestamp`, so Lambda's
//! log-level filtering treats every one as INFO and stamps it itself (Lambda reads `level` and an RFC
//! 3339 `timestamp` from the JSON of functions on OS-only runtimes). Its message sits in a nested
//! `fields` object and the request id in a nested `span` object. It also lets `RUST_LOG` widen what
//! `AWS_LAMBDA_LOG_LEVEL` (the function's `ApplicationLogLevel`) asks for.
//!
//! [`init`] writes one flat JSON object per event instead:
//!
//! ```text
//! {"timestamp":"2026-12-02T01:30:00.123456Z","level":"INFO","target":"kafka_to_s3","message":"batch landed",
//!  "requestId":"…","xrayTraceId":"…","records_in":500,"records_landed":500}
//! ```
//!
//! `requestId` and `xrayTraceId` come from the runtime's `Lambda runtime invoke` span (its fields and
//! those of any other span in scope are copied in, then the event's own fields). Without
//! `AWS_LAMBDA_LOG_FORMAT=JSON` (cargo-lambda, a terminal) the lines are `tracing`'s plain text, with
//! the time.
//!
//! The level is the more restrictive of `RUST_LOG` (directives per target allowed; default `info`) and
//! `AWS_LAMBDA_LOG_LEVEL` when Lambda sets it (`FATAL` counts as `ERROR`).

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Installs the global subscriber: JSON lines on stdout when `AWS_LAMBDA_LOG_FORMAT` is `JSON`,
/// plain text otherwise. Does nothing if a subscriber is installed already.
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let lambda_level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = env_filter(rust_log.as_deref());
    let max_level = lambda_level.as_deref().map(level_of).unwrap_or(LevelFilter::TRACE);
    let registry = tracing_subscriber::registry().with(max_level);
    let _ = if json {
        registry.with(json_layer(std::io::stdout).with_filter(filter)).try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(false).with_writer(std::io::stdout).with_filter(filter))
            .try_init()
    };
}

/// The JSON-lines layer of [`init`], writing to `writer`.
pub fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer().fmt_fields(JsonFields::new()).event_format(LambdaJson).with_writer(writer)
}

/// Added to the directives unless `RUST_LOG` names `buoyant_kernel`: the Delta kernel's snapshot
/// builder logs at ERROR every table it does not find (the normal case before a table's first commit)
/// and every error it returns, which the caller reports in its own words.
const QUIET_KERNEL: &str = "buoyant_kernel::snapshot::builder=off";

/// `RUST_LOG`'s directives (`info` when it is unset or empty) and [`QUIET_KERNEL`]; a directive that
/// does not parse is skipped.
fn env_filter(rust_log: Option<&str>) -> EnvFilter {
    let directives = rust_log.map(str::trim).filter(|directives| !directives.is_empty()).unwrap_or("info");
    let directives = if directives.contains("buoyant_kernel") {
        directives.to_string()
    } else {
        format!("{directives},{QUIET_KERNEL}")
    };
    EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(directives)
}

/// The level of an `AWS_LAMBDA_LOG_LEVEL` value (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`);
/// anything else lets everything through (Lambda filters by the line's `level` anyway).
fn level_of(value: &str) -> LevelFilter {
    if value.eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    LevelFilter::from_str(value).unwrap_or(LevelFilter::TRACE)
}

/// The event format of [`json_layer`]: one flat JSON object per event.
struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(metadata.level().as_str().into()));
        line.insert("target".into(), Value::String(metadata.target().into()));
        // Span fields (requestId, xrayTraceId …), outermost first, as JsonFields recorded them.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else { continue };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields.fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut FieldsVisitor(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Copies an event's fields into a JSON object.
struct FieldsVisitor<'a>(&'a mut Map<String, Value>);

impl FieldsVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_string(), value);
    }
}

impl Visit for FieldsVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map(Value::Number).unwrap_or(Value::Null);
        self.put(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Captures what the layer writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(rust_log: Option<&str>, log: impl FnOnce()) -> Vec<Value> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::registry().with(json_layer(move || writer.clone()).with_filter(env_filter(rust_log)));
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    #[test]
    fn a_line_has_timestamp_level_message_fields_and_the_request_id() {
        let lines = lines_of(None, || {
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-1", xrayTraceId = "Root=1-2-3");
            let _entered = span.enter();
            tracing::warn!(records_in = 500u64, ok = true, share = 0.5, who = %"kafka", "batch \"landed\"");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "batch \"landed\"");
        assert_eq!(line["requestId"], "req-1");
        assert_eq!(line["xrayTraceId"], "Root=1-2-3");
        assert_eq!(line["records_in"], 500);
        assert_eq!(line["ok"], true);
        assert_eq!(line["share"], 0.5);
        assert_eq!(line["who"], "kafka");
        // RFC 3339 in UTC: 2026-12-02T01:30:00.123456Z
        let timestamp = line["timestamp"].as_str().unwrap();
        let bytes = timestamp.as_bytes();
        assert!(timestamp.ends_with('Z') && bytes[4] == b'-' && bytes[10] == b'T' && bytes[13] == b':', "{timestamp}");
    }

    #[test]
    fn the_filter_keeps_to_rust_log_and_lambda_levels() {
        let messages = |rust_log| {
            let lines = lines_of(rust_log, || {
                tracing::debug!("debug");
                tracing::info!("info");
                tracing::info!(target: "noisy", "noisy info");
                tracing::warn!(target: "noisy", "noisy warn");
                tracing::error!(target: "buoyant_kernel::snapshot::builder", "no table");
            });
            lines.iter().map(|line| line["message"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(messages(Some("info,noisy=warn")), ["info", "noisy warn"]);
        assert_eq!(messages(None), ["info", "noisy info", "noisy warn"]);
        assert_eq!(messages(Some(" ")), messages(None));
        assert_eq!(messages(Some("info,buoyant_kernel=error")), ["info", "noisy info", "noisy warn", "no table"]);
        assert_eq!(level_of("WARN"), LevelFilter::WARN);
        assert_eq!(level_of("debug"), LevelFilter::DEBUG);
        assert_eq!(level_of("FATAL"), LevelFilter::ERROR);
        assert_eq!(level_of("loud"), LevelFilter::TRACE);
    }
}
