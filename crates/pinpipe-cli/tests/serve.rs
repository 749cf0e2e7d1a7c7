//! `pinpipe serve` stops within 2 s of the first Ctrl-C (SIGINT) at any moment: idle, or while a
//! periodic batch run is under way, which it abandons safely. Runs the real binary, embedded (no server).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the server may take to exit after the signal.
const STOP_WITHIN: Duration = Duration::from_secs(2);

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `pinpipe serve` on a folder lake with a batch every second, and its stdout lines as they come.
fn start_serve(lake: &std::path::Path, port: u16) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpipe"))
        .args(["serve", "--port", &port.to_string(), "--batch-every", "1", "--prefix", "sigint"])
        .arg("--lake")
        .arg(lake)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting pinpipe serve");
    let (lines, receiver) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, receiver)
}

/// Waits for a line starting with `prefix`, for at most `timeout`.
fn wait_for(lines: &mpsc::Receiver<String>, prefix: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(_) => continue,
            Err(error) => panic!("no line starting with {prefix:?} within {timeout:?}: {error}"),
        }
    }
}

/// Sends SIGINT and gives how long the process took to exit, with its status.
fn interrupt(child: &mut Child) -> (Duration, std::process::ExitStatus) {
    let sent = Instant::now();
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (sent.elapsed(), status);
        }
        if sent.elapsed() > STOP_WITHIN * 5 {
            child.kill().unwrap();
            panic!("pinpipe serve still runs {:?} after SIGINT", sent.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_stops_serve_within_two_seconds_idle_and_during_batch_runs() {
    let lake = tempfile::tempdir().unwrap();
    // Posts in the lake make each periodic batch run take a while in this debug build.
    let port = free_port();
    let (mut child, lines) = start_serve(lake.path(), port);
    wait_for(&lines, "pinpipe API on", Duration::from_secs(60));
    let posted = Command::new(env!("CARGO_BIN_EXE_pinpipe"))
        .args(["emulate", "--api", &format!("http://127.0.0.1:{port}"), "--prefix", "sigint"])
        .args(["--rows", "3000", "--batch-size", "500", "--mode", "batch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(posted.success(), "posting failed");
    wait_for(&lines, "batch ", Duration::from_secs(60));
    let (took, status) = interrupt(&mut child);
    assert!(status.success(), "{status}");
    assert!(took < STOP_WITHIN, "stopped {took:?} after SIGINT during the batch period");

    // Restarted on the same lake, at moments spread over the batch period (a run starts every second
    // and reads everything the lake holds): each time it stops in time.
    for delay_ms in [0, 300, 700, 1_100] {
        let (mut child, lines) = start_serve(lake.path(), free_port());
        wait_for(&lines, "pinpipe API on", Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(1_000 + delay_ms));
        let (took, status) = interrupt(&mut child);
        assert!(status.success(), "after {delay_ms} ms: {status}");
        assert!(took < STOP_WITHIN, "after {delay_ms} ms: stopped {took:?} after SIGINT");
    }
}
