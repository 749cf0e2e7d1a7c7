//! The REST-proxy error envelope (docs/SPEC.md §2): `{"error_code": <status*100+sub>, "message": "..."}`.

use serde::Serialize;

/// An answer other than success: an HTTP status, the envelope's `error_code` and a message that names
/// the record and the problem where there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} ({error_code}): {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// `status * 100 + sub-code`, see [`codes`].
    pub error_code: u32,
    /// What went wrong, for a person.
    pub message: String,
}

/// Every `error_code` the API answers with.
pub mod codes {
    /// 400: the body is not JSON (or not UTF-8).
    pub const BAD_JSON: u32 = 40001;
    /// 400: the body could not be read whole: the client closed the connection before sending all of it,
    /// or sent a malformed chunked encoding (the HTTP server, `crate::server`).
    pub const BODY_UNREADABLE: u32 = 40002;
    /// 404: no route has this path.
    pub const NO_ROUTE: u32 = 40400;
    /// 404: the topic is not one of the prefix's three, or does not exist in the Kafka cluster.
    pub const UNKNOWN_TOPIC: u32 = 40401;
    /// 404: the stream is not one of the prefix's three, or does not exist in Kinesis (the REST proxy's
    /// "not found" code, shared with [`UNKNOWN_TOPIC`]).
    pub const UNKNOWN_STREAM: u32 = 40401;
    /// 404: the record names a partition the topic does not have.
    pub const UNKNOWN_PARTITION: u32 = 40402;
    /// 405: the route exists but not with this method.
    pub const METHOD_NOT_ALLOWED: u32 = 40501;
    /// 408: the body did not arrive whole within the server's body read timeout
    /// (`crate::server::BODY_READ_TIMEOUT`, 30 s); the connection is closed.
    pub const BODY_TIMEOUT: u32 = 40801;
    /// 413: the body is larger than the server takes (`crate::server::MAX_BODY_BYTES`, 6 MiB, a
    /// synchronous Lambda invocation's payload limit); the connection is closed.
    pub const BODY_TOO_LARGE: u32 = 41301;
    /// 415: the content type is not one the route accepts.
    pub const UNSUPPORTED_MEDIA_TYPE: u32 = 41501;
    /// 422: a record is larger than Kafka or Kinesis takes.
    pub const RECORD_TOO_LARGE: u32 = 42201;
    /// 422: the body is not a well-formed object (each field at most once) with a non-empty `records`
    /// array.
    pub const NO_RECORDS: u32 = 42202;
    /// 422: a record (a `PutRecord` body is one) is not a well-formed object (each field at most once), or
    /// has no (or a null) `value` / `Data`.
    pub const NO_VALUE: u32 = 42203;
    /// 422: a `value` array is empty or holds `null` or an array.
    pub const BAD_VALUE_ARRAY: u32 = 42204;
    /// 422: a `partition` is not an integer from 0 to 2147483647.
    pub const BAD_PARTITION: u32 = 42205;
    /// 422: a partition key is missing, not a string, or not 1 to 256 characters.
    pub const BAD_PARTITION_KEY: u32 = 42206;
    /// 422: the body's `StreamName` differs from the stream in the path.
    pub const STREAM_NAME_MISMATCH: u32 = 42207;
    /// 422: Kinesis refused the records as invalid (`InvalidArgumentException`, `ValidationException`);
    /// nothing of that call was stored, and sending the same records again fails the same way.
    pub const KINESIS_REFUSED: u32 = 42208;
    /// 422: the request holds more records than one request takes
    /// ([`crate::wire::MAX_RECORDS_PER_REQUEST`]; on the topic route each element of an array `value`
    /// counts); nothing is stored.
    pub const TOO_MANY_RECORDS: u32 = 42209;
    /// 500: a fault of the API itself.
    pub const INTERNAL: u32 = 50001;
    /// 503: the Kafka brokers or the Kinesis stream could not take the records (or Kafka is not configured);
    /// the request can be retried.
    pub const UNAVAILABLE: u32 = 50302;
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: u16, error_code: u32, message: impl Into<String>) -> Self {
        Self { status, error_code, message: message.into() }
    }

    /// 400 / 40001.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(400, codes::BAD_JSON, message)
    }

    /// 404 / 40401: an unknown topic.
    pub fn unknown_topic(message: impl Into<String>) -> Self {
        Self::new(404, codes::UNKNOWN_TOPIC, message)
    }

    /// 404 / 40401: an unknown stream.
    pub fn unknown_stream(message: impl Into<String>) -> Self {
        Self::new(404, codes::UNKNOWN_STREAM, message)
    }

    /// 422 with the given sub-code.
    pub fn unprocessable(error_code: u32, message: impl Into<String>) -> Self {
        Self::new(422, error_code, message)
    }

    /// 503 / 50302.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, codes::UNAVAILABLE, message)
    }

    /// The envelope as JSON text.
    pub fn envelope(&self) -> String {
        serde_json::to_string(&Envelope { error_code: self.error_code, message: &self.message })
            .expect("an envelope serializes")
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error_code: u32,
    message: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_the_rest_proxy_shape() {
        let error = ApiError::unknown_topic("topic \"x\" is unknown");
        assert_eq!(error.status, 404);
        assert_eq!(error.envelope(), r#"{"error_code":40401,"message":"topic \"x\" is unknown"}"#);
        for code in [
            codes::BAD_JSON,
            codes::BODY_UNREADABLE,
            codes::BODY_TIMEOUT,
            codes::BODY_TOO_LARGE,
            codes::TOO_MANY_RECORDS,
            codes::NO_ROUTE,
            codes::UNKNOWN_TOPIC,
            codes::UNKNOWN_STREAM,
            codes::UNKNOWN_PARTITION,
            codes::METHOD_NOT_ALLOWED,
            codes::UNSUPPORTED_MEDIA_TYPE,
            codes::RECORD_TOO_LARGE,
            codes::NO_RECORDS,
            codes::NO_VALUE,
            codes::BAD_VALUE_ARRAY,
            codes::BAD_PARTITION,
            codes::BAD_PARTITION_KEY,
            codes::STREAM_NAME_MISMATCH,
            codes::KINESIS_REFUSED,
            codes::INTERNAL,
            codes::UNAVAILABLE,
        ] {
            assert!((40000..60000).contains(&code), "{code} is status*100+sub");
        }
    }
}
