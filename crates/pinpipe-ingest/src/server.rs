//! The handler over HTTP/1.1 (feature `server`): every path goes to [`Ingest::handle`], which routes
//! it. `pinpipe run` and the `serve` example use it; on AWS, API Gateway and the `ingest-api` Lambda play
//! this part.
//!
//! Connections are served by hyper directly (not `axum::serve`, which has no timeouts), around the axum
//! [`router`]:
//! * a request head (request line and headers) must arrive within [`HEADER_READ_TIMEOUT`], and is at
//!   most [`MAX_HEADER_BYTES`]; the same timeout closes a kept-alive connection left idle;
//! * the body is read by the handler: at most [`MAX_BODY_BYTES`] (else 413, `41301`), whole (else 400,
//!   `40002`) and within [`BODY_READ_TIMEOUT`] (else 408, `40801`), each in the REST-proxy envelope.
//!
//! What hyper refuses before any handler runs is answered by hyper alone, with a status and an empty
//! body (hyper 1.x has no hook to shape these answers): a request head that cannot be parsed (400), a
//! head (URI included) over [`MAX_HEADER_BYTES`] or with more than 100 headers (431). A client that does not send its whole request head within [`HEADER_READ_TIMEOUT`] has its connection
//! closed without an answer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::error::{codes, ApiError};
use crate::{Ingest, IngestRequest, IngestResponse};

/// The largest body taken: a synchronous Lambda invocation's payload limit. A larger one is refused
/// with 413 ([`codes::BODY_TOO_LARGE`]).
pub const MAX_BODY_BYTES: usize = 6 << 20;

/// The largest request head (request line and headers) taken; a larger one gets hyper's bare 431.
/// API Gateway takes 10 KiB of request line and headers; this leaves room and bounds what a connection
/// holds while its head arrives.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// How long a request head (request line and headers) may take to arrive, counted from the moment the
/// server waits for it (the connection's start, or the end of its previous answer): a slow or idle
/// client has its connection closed, without an answer.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the whole body may take to arrive once the head has (6 MiB in 30 s is 200 KiB/s): a body
/// still incomplete then is answered 408 ([`codes::BODY_TIMEOUT`]) and the connection closed.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The header carrying the request id (taken from the request when given, else made up).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How long the server waits for slow clients (see [`HEADER_READ_TIMEOUT`] and [`BODY_READ_TIMEOUT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// The time a request head may take.
    pub header_read: Duration,
    /// The time a body may take.
    pub body_read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { header_read: HEADER_READ_TIMEOUT, body_read: BODY_READ_TIMEOUT }
    }
}

#[derive(Clone)]
struct Served {
    ingest: Arc<Ingest>,
    body_read_timeout: Duration,
}

/// A router sending every request to `ingest`, reading bodies within [`BODY_READ_TIMEOUT`].
pub fn router(ingest: Arc<Ingest>) -> Router {
    router_with(ingest, BODY_READ_TIMEOUT)
}

/// A router sending every request to `ingest`, reading bodies within `body_read_timeout`.
pub fn router_with(ingest: Arc<Ingest>, body_read_timeout: Duration) -> Router {
    Router::new().fallback(handle).with_state(Served { ingest, body_read_timeout })
}

/// Serves `ingest` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, ingest: Arc<Ingest>) -> std::io::Result<()> {
    serve_with(listener, ingest, Timeouts::default(), std::future::pending()).await
}

/// Serves `ingest` on `listener` until `shutdown` completes, then stops accepting connections, answers
/// the requests in flight (closing idle connections) and returns.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    ingest: Arc<Ingest>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, ingest, Timeouts::default(), shutdown).await
}

/// [`serve_until`] with the given timeouts.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    ingest: Arc<Ingest>,
    timeouts: Timeouts,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = TowerToHyperService::new(router_with(ingest, timeouts.body_read));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.header_read).max_header_size(MAX_HEADER_BYTES);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed on an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// After a failed accept: nothing for a connection the client gave up; otherwise (out of file
/// descriptors, say) a log line and a second's pause, as hyper 0.14 and axum do.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(error.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused)
    {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn handle(
    State(served): State<Served>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let mut request =
        IngestRequest { method: method.as_str(), path: uri.path(), content_type, body: &[], request_id: &request_id };
    let body = match read_body(&headers, body, served.body_read_timeout).await {
        Ok(body) => body,
        Err(error) => {
            let answer = served.ingest.refuse(request, &error);
            let mut response = answer_of(answer, &request_id);
            // The rest of the body is not read: the connection cannot carry another request.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    request.body = &body;
    let answer = served.ingest.handle(request).await;
    answer_of(answer, &request_id)
}

fn answer_of(answer: IngestResponse, request_id: &str) -> Response<Body> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE.as_str(), answer.content_type.to_string()), (REQUEST_ID_HEADER, request_id.to_string())],
        answer.body,
    )
        .into_response()
}

/// The whole body: 413 when it is (or is announced) larger than [`MAX_BODY_BYTES`], 400 when it cannot
/// be read whole, 408 when it has not arrived within `timeout`.
async fn read_body(headers: &HeaderMap, body: Body, timeout: Duration) -> Result<Bytes, ApiError> {
    let too_large = |size: String| {
        ApiError::new(
            413,
            codes::BODY_TOO_LARGE,
            format!("the body is too large: {size}, at most {MAX_BODY_BYTES} bytes are taken"),
        )
    };
    let announced = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if let Some(length) = announced.filter(|length| *length > MAX_BODY_BYTES as u64) {
        return Err(too_large(format!("Content-Length is {length}")));
    }
    match tokio::time::timeout(timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<LengthLimitError>() => Err(too_large(format!("more than {MAX_BODY_BYTES} bytes"))),
        Ok(Err(error)) => Err(ApiError::new(
            400,
            codes::BODY_UNREADABLE,
            format!("the body could not be read whole: {}", causes(error.as_ref())),
        )),
        Err(_elapsed) => Err(ApiError::new(
            408,
            codes::BODY_TIMEOUT,
            format!("the body did not arrive whole within {} s", timeout.as_secs_f64()),
        )),
    }
}

/// An error and its causes, `: `-separated (a cause its error already quotes is left out).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}
