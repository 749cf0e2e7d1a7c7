//! Shared helpers of the ingestion tests: calling the handler, and a private broker to stop.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pinpipe_ingest::{Ingest, IngestRequest};
use serde_json::Value;

/// Calls the handler; returns the status, the content type and the body as JSON.
pub async fn call(
    ingest: &Ingest,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, &'static str, Value) {
    let answer = ingest.handle(IngestRequest { method, path, content_type, body, request_id: "test-request" }).await;
    let json = serde_json::from_str(&answer.body)
        .unwrap_or_else(|err| panic!("the answer is not JSON ({err}): {}", answer.body));
    (answer.status, answer.content_type, json)
}

/// POSTs a REST-proxy body to a topic.
pub async fn post_topic(ingest: &Ingest, topic: &str, body: &str) -> (u16, Value) {
    let (status, content_type, json) =
        call(ingest, "POST", &format!("/topics/{topic}"), Some("application/vnd.kafka.json.v2+json"), body.as_bytes())
            .await;
    assert_eq!(content_type, "application/vnd.kafka.v2+json");
    (status, json)
}

/// PUTs a Kinesis-proxy body to `/streams/{stream}/{route}`.
pub async fn put_stream(ingest: &Ingest, stream: &str, route: &str, body: &str) -> (u16, Value) {
    let (status, content_type, json) =
        call(ingest, "PUT", &format!("/streams/{stream}/{route}"), Some("application/json"), body.as_bytes()).await;
    assert_eq!(content_type, "application/json");
    (status, json)
}

/// Asserts the REST-proxy error envelope with this status and code, and returns its message.
pub fn assert_envelope(status: u16, body: &Value, expected_status: u16, expected_code: u64) -> String {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error_code"], expected_code, "{body}");
    body["message"].as_str().unwrap_or_else(|| panic!("no message: {body}")).to_string()
}

/// A tansu broker of a test's own, on a free loopback port with its own data folder, so the test can
/// stop it. Killed when dropped.
pub struct PrivateBroker {
    child: Option<Child>,
    pub bootstrap: String,
    _dir: tempfile::TempDir,
}

impl PrivateBroker {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let binary: PathBuf = std::env::var_os("PINPIPE_TEST_TANSU").map_or_else(|| "tansu".into(), Into::into);
        let listener = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args(["--storage-engine", "sqlite://tansu.db"])
            .args(["--listener-url", &listener, "--advertised-listener-url", &listener])
            .current_dir(dir.path())
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {} (install it with `scripts/services.sh install tansu`): {err}", binary.display())
            });
        let broker = Self { child: Some(child), bootstrap: format!("127.0.0.1:{port}"), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the private tansu never listened on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        broker
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
