"""Init time of each Lambda function binary: process start -> first `GET /2018-06-01/runtime/invocation/next`.

That request is the moment a Lambda runtime is ready for its first event, so this is the part of a cold start that
the code controls (what Lambda adds, such as fetching the zip and starting the micro-VM, is not measured). The script
serves a fake Lambda Runtime API on 127.0.0.1, starts a binary with AWS_LAMBDA_RUNTIME_API pointing at it and the
environment that function gets from template.yaml (local servers instead of AWS), records when the request arrives
and the process's resident memory at that moment, kills it, and repeats. Run by scripts/cold-start.sh.

usage: cold_start.py BIN_DIR RUNS FUNCTION...
"""

from __future__ import annotations

import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
TIMEOUT = 30.0

# What each function needs besides the Runtime API, as template.yaml sets it (a local bucket name and the local
# Kafka broker instead of the deployed ones).
FUNCTION_ENV = {
    "ingest-api": {"PINPIPE_PREFIX": "pinpipe", "PINPIPE_KAFKA_BOOTSTRAP": os.environ.get("PINPIPE_TEST_KAFKA",
                                                                                          f"{HOST}:9092"),
                   "PINPIPE_KAFKA_AUTH": "none"},
    "kafka-to-s3": {"PINPIPE_LAKE_BUCKET": "pinpipe-lake-local", "PINPIPE_PREFIX": "pinpipe"},
    "stream-processor": {"PINPIPE_LAKE_BUCKET": "pinpipe-lake-local", "PINPIPE_PREFIX": "pinpipe"},
    "batch-transform": {"PINPIPE_LAKE_BUCKET": "pinpipe-lake-local", "PINPIPE_PREFIX": "pinpipe"},
}


class Probe:
    """The fake Runtime API: remembers when `next` was asked for and what the runtime reported as an init error."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.release = threading.Event()
        self.ready_at = 0.0
        self.init_error = ""
        probe = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if self.path.endswith("/2018-06-01/runtime/invocation/next"):
                    probe.ready_at = time.perf_counter()
                    probe.ready.set()
                    probe.release.wait(TIMEOUT)  # never answer: the process is killed meanwhile
                    self.close_connection = True
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode(errors="replace")
                if self.path.endswith("/runtime/init/error"):
                    probe.init_error = body
                    probe.ready_at = time.perf_counter()
                    probe.ready.set()
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.release.set()
        self.ready = threading.Event()
        self.release = threading.Event()
        self.ready_at = 0.0
        self.init_error = ""


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_run(probe: Probe, binary: Path, env: dict[str, str]) -> tuple[float, int]:
    probe.reset()
    started = time.perf_counter()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([binary.as_posix()], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        if not probe.ready.wait(TIMEOUT):
            raise SystemExit(f"{binary.name}: no runtime request within {TIMEOUT:.0f}s")
        resident = rss_kb(process.pid)
        if probe.init_error:
            process.kill()
            process.wait(timeout=10)
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{binary.name}: init error {probe.init_error}\n{output}")
        return (probe.ready_at - started) * 1000.0, resident
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()
        probe.release.set()


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    bin_dir, runs, functions = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    probe = Probe()
    print(f"{'function':<18} {'binary':>9} {'init p50':>9} {'min':>8} {'p90':>8} {'RSS at ready':>13}   ({runs} runs)")
    for function in functions:
        binary = bin_dir / function
        if not binary.is_file():
            raise SystemExit(f"no binary {binary}")
        env = dict(os.environ)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"{HOST}:{probe.port}",
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "RUST_LOG": "info",
        })
        env.update(FUNCTION_ENV.get(function, {}))
        one_run(probe, binary, env)  # warm-up: page cache, as for every run after the first
        times, memory = [], []
        for _ in range(runs):
            elapsed, resident = one_run(probe, binary, env)
            times.append(elapsed)
            memory.append(resident)
        times.sort()
        p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
        print(f"{function:<18} {binary.stat().st_size / 1048576:>6.1f} MB {statistics.median(times):>6.1f} ms "
              f"{times[0]:>5.1f} ms {p90:>5.1f} ms {statistics.median(memory) / 1024:>10.1f} MB", flush=True)
    probe.server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
