//! The HTTP server (`pinpipe_ingest::server`) over raw TCP, with ports that acknowledge at once (no
//! broker): the refusals it makes itself answer in the REST-proxy envelope (413 for a body over the
//! limit, 400 for a truncated one, 408 for one too slow), slow and idle clients are cut off, hyper's own
//! refusals are what docs/SPEC.md §2 says, and a graceful shutdown answers the request in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pinpipe_ingest::error::codes;
use pinpipe_ingest::server::{serve_with, Timeouts, MAX_BODY_BYTES, MAX_HEADER_BYTES};
use pinpipe_ingest::testing::{AckingProducer, AckingWriter};
use pinpipe_ingest::{Ingest, Names};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFIX: &str = "served";

/// Short timeouts, so the slow-client cases take a second or two.
const TIMEOUTS: Timeouts = Timeouts { header_read: Duration::from_secs(1), body_read: Duration::from_secs(1) };

/// A server on 127.0.0.1 (a free port) with [`TIMEOUTS`], in front of ports that acknowledge every
/// record; it stops when the returned sender is used or dropped.
async fn server() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ingest = Ingest::new(
        Names::new(PREFIX),
        Some(Arc::new(AckingProducer::default())),
        Some(Arc::new(AckingWriter::default())),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve_with(listener, Arc::new(ingest), TIMEOUTS, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop, task)
}

fn topic() -> String {
    format!("/topics/{PREFIX}.pin")
}

/// An answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// The header lines, lower-cased.
    headers: Vec<String>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.headers.iter().find_map(|line| line.strip_prefix(&prefix))
    }

    /// Asserts the envelope with this status and code, and returns its message.
    fn envelope(&self, status: u16, code: u32) -> String {
        assert_eq!(self.status, status, "{self:?}");
        let body: Value = serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {self:?}"));
        assert_eq!(body["error_code"], u64::from(code), "{self:?}");
        assert_eq!(body.as_object().unwrap().len(), 2, "only error_code and message: {self:?}");
        body["message"].as_str().unwrap().to_string()
    }
}

/// Reads what the server sends until it closes the connection (at most 10 s).
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let read = tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await.expect("closed in 10 s");
        match read {
            Ok(0) | Err(_) => return raw,
            Ok(read) => raw.extend_from_slice(&buffer[..read]),
        }
    }
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.map(str::to_ascii_lowercase).collect();
    Answer { status, headers, body: body.to_string() }
}

/// Sends `request` and reads the answer up to the server's close.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    parse(&read_to_close(&mut stream).await)
}

fn post_head(path: &str, framing: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/vnd.kafka.json.v2+json\r\n{framing}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_good_request_is_answered_and_the_connection_kept() {
    let (addr, _stop, _) = server().await;
    let body = r#"{"records":[{"value":{"n":1}}]}"#;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for _ in 0..2 {
        let request = format!("{}{body}", post_head(&topic(), &format!("content-length: {}", body.len())));
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = vec![0u8; 4096];
        let read = stream.read(&mut raw).await.unwrap();
        let answer = parse(&raw[..read]);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.header("content-type"), Some("application/vnd.kafka.v2+json"));
        assert!(answer.header("x-request-id").is_some(), "{answer:?}");
        assert!(answer.body.starts_with(r#"{"offsets":[{"partition":0,"#), "{answer:?}");
    }
}

#[tokio::test]
async fn a_body_announced_over_the_limit_is_413_at_once() {
    let (addr, _stop, _) = server().await;
    let length = MAX_BODY_BYTES + 1;
    let answer = exchange(addr, post_head(&topic(), &format!("content-length: {length}")).as_bytes()).await;
    let message = answer.envelope(413, codes::BODY_TOO_LARGE);
    assert_eq!(message, "the body is too large: Content-Length is 6291457, at most 6291456 bytes are taken");
    assert_eq!(answer.header("content-type"), Some("application/vnd.kafka.v2+json"));
    assert_eq!(answer.header("connection"), Some("close"));
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let (addr, _stop, _) = server().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let path = format!("/streams/streaming-{PREFIX}-pin/records");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 6 MiB and one byte in chunks of 64 KiB, without the last chunk: the server has read all of it when
    // it answers, so its close is clean.
    let chunk = vec![b' '; 64 << 10];
    let mut sent = 0;
    while sent <= MAX_BODY_BYTES {
        let size = chunk.len().min(MAX_BODY_BYTES + 1 - sent);
        stream.write_all(format!("{size:x}\r\n").as_bytes()).await.unwrap();
        stream.write_all(&chunk[..size]).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
        sent += size;
    }
    let answer = parse(&read_to_close(&mut stream).await);
    let message = answer.envelope(413, codes::BODY_TOO_LARGE);
    assert_eq!(message, "the body is too large: more than 6291456 bytes, at most 6291456 bytes are taken");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("connection"), Some("close"));
}

#[tokio::test]
async fn a_truncated_body_is_400() {
    let (addr, _stop, _) = server().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(post_head(&topic(), "content-length: 100").as_bytes()).await.unwrap();
    stream.write_all(br#"{"records":[{"value":"#).await.unwrap();
    stream.shutdown().await.unwrap();
    let answer = parse(&read_to_close(&mut stream).await);
    let message = answer.envelope(400, codes::BODY_UNREADABLE);
    assert_eq!(
        message,
        "the body could not be read whole: error reading a body from connection: end of file before message length reached"
    );
    assert_eq!(answer.header("connection"), Some("close"));

    // A broken chunked encoding.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(post_head(&topic(), "transfer-encoding: chunked").as_bytes()).await.unwrap();
    stream.write_all(b"zz\r\n{}\r\n").await.unwrap();
    let answer = parse(&read_to_close(&mut stream).await);
    let message = answer.envelope(400, codes::BODY_UNREADABLE);
    assert_eq!(
        message,
        "the body could not be read whole: error reading a body from connection: Invalid chunk size line: missing size digit"
    );
}

#[tokio::test]
async fn a_body_slower_than_the_timeout_is_408() {
    let (addr, _stop, _) = server().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(post_head(&topic(), "content-length: 100").as_bytes()).await.unwrap();
    stream.write_all(br#"{"records":"#).await.unwrap();
    let answer = parse(&read_to_close(&mut stream).await);
    let waited = started.elapsed();
    let message = answer.envelope(408, codes::BODY_TIMEOUT);
    assert_eq!(message, "the body did not arrive whole within 1 s");
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(waited >= TIMEOUTS.body_read && waited < TIMEOUTS.body_read * 3, "{waited:?}");
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_at_the_header_timeout() {
    let (addr, _stop, _) = server().await;
    // Idle: connects and sends nothing.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    assert!(read_to_close(&mut idle).await.is_empty());
    let waited = started.elapsed();
    assert!(waited >= TIMEOUTS.header_read && waited < TIMEOUTS.header_read * 3, "{waited:?}");

    // Slowloris: a header byte every 100 ms, never the end of the head.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(format!("POST {} HTTP/1.1\r\nx-slow: ", topic()).as_bytes()).await.unwrap();
    let closed = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow.write_all(b"a").await.is_err() {
            break started.elapsed();
        }
        let mut byte = [0u8; 1];
        if let Ok(read) = tokio::time::timeout(Duration::from_millis(1), slow.read(&mut byte)).await {
            assert!(matches!(read, Ok(0) | Err(_)), "an answer to a head that never ended: {read:?}");
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the slow client is still connected");
    };
    assert!(closed >= TIMEOUTS.header_read && closed < TIMEOUTS.header_read * 3, "{closed:?}");
}

#[tokio::test]
async fn hyper_answers_a_head_over_the_limit_with_a_bare_431() {
    let (addr, _stop, _) = server().await;
    let big = "x".repeat(MAX_HEADER_BYTES);
    let request = format!("{}{{}}", post_head(&topic(), &format!("content-length: 2\r\nx-big: {big}")));
    let answer = exchange(addr, request.as_bytes()).await;
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_eq!(answer.body, "", "hyper gives no hook to answer this in the envelope");
}

#[tokio::test]
async fn a_graceful_shutdown_answers_the_request_in_flight_then_returns() {
    let (addr, stop, task) = server().await;
    let body = r#"{"records":[{"value":{"n":1}}]}"#;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(post_head(&topic(), &format!("content-length: {}", body.len())).as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "returned with a request in flight");
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let answer = parse(&read_to_close(&mut stream).await);
    assert_eq!(answer.status, 200, "{answer:?}");
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("serve returns").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting after the shutdown");
}
