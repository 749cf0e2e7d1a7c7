"""Smoke test of the four Lambda functions under cargo-lambda's Lambda emulator (run by `scripts/lambda.sh smoke`).

One function per trigger type, each invoked with `cargo lambda invoke --data-file events/<file>.json` and its answer
and side effects asserted against the local servers:

  ingest-api        (HTTP API)  produce to tansu -> 200 with an offset per record; PutRecord to moto Kinesis -> the
                                record is in the stream; an unknown topic -> 404 / 40401
  kafka-to-s3       (MSK)       the pin, geo and user batches land as JSON-lines objects under topics/ in moto S3,
                                byte for byte the event's values, at the keys of the first offsets
  stream-processor  (Kinesis)   batchItemFailures [] and one commit of a Parquet file to the Delta table stream/pin/
  batch-transform   (schedule)  a run summary for the event's date that consumed every landed object, cleaned rows
                                for each table, q1...q9 results, and its manifest in the lake; then the stages of a
                                run on Athena over one new raw object (a copy of a landed one): the plan
                                (events/batch-transform-athena-plan.json), its one part decoded, the clean stage
                                (every record a duplicate, the staged files deleted) and one UNLOAD per query

The functions are the debug binaries `cargo test` builds (target/debug/<function>), started by this script under
`cargo lambda watch --only-lambda-apis`, so nothing is compiled here. Needs moto and tansu running and the variables
of `scripts/services.sh env`; uses moto's venv for boto3. Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
HOST = "127.0.0.1"
PREFIX = "pinpipe"  # the prefix the events in events/ are written for
STARTUP_TIMEOUT = float(os.environ.get("SMOKE_STARTUP_TIMEOUT", "60"))
INVOKE_TIMEOUT = float(os.environ.get("SMOKE_INVOKE_TIMEOUT", "120"))


class SmokeError(Exception):
    pass


def say(message: str) -> None:
    print(f"lambda-smoke: {message}", file=sys.stderr, flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeError(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def request_body(event: dict) -> dict:
    """The JSON body of an API Gateway HTTP API event (base64 when API Gateway says so)."""
    body = event["body"]
    return json.loads(base64.b64decode(body) if event.get("isBase64Encoded") else body)


class Smoke:
    def __init__(self, bin_dir: Path, cargo_lambda: list[str]) -> None:
        self.bin_dir = bin_dir
        self.cargo_lambda = cargo_lambda
        self.logs = Path(tempfile.mkdtemp(prefix="pinpipe-lambda-smoke-"))
        self.port = free_port()
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.bucket = f"pinpipe-smoke-{uuid.uuid4().hex[:12]}"
        self.kafka = os.environ.get("PINPIPE_TEST_KAFKA", f"{HOST}:9092")
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        check(bool(endpoint), "AWS_ENDPOINT_URL is not set: eval \"$(scripts/services.sh env)\" first")
        config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30, s3={"addressing_style": "path"})
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)
        self.kinesis = boto3.client("kinesis", endpoint_url=endpoint, region_name=region, config=config)
        self.rss_kb: dict[str, int] = {}

    # --- processes ---------------------------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        # A session of its own, so the whole group (watch's children too) can be ended at once.
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append((name, process))
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            # First the children only (a function under /usr/bin/time), so that time reports before it exits.
            try:
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
            except OSError:
                children = []
            for child in children:
                try:
                    os.kill(int(child), signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                process.wait(timeout=10 if children else 0.01)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def stop_all(self) -> None:
        for _, process in reversed(self.processes):
            self.stop(process)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(f"    {line}" for line in text)

    def start_emulator(self) -> None:
        argv = self.cargo_lambda + ["watch", "--only-lambda-apis", "--invoke-address", HOST, "--invoke-port",
                                    str(self.port)]
        process = self.spawn("cargo-lambda-watch", argv, dict(os.environ))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not port_open(self.port):
            if process.poll() is not None:
                raise SmokeError(f"cargo lambda watch exited ({process.returncode}):\n{self.tail('cargo-lambda-watch')}")
            if time.monotonic() > deadline:
                raise SmokeError(f"cargo lambda watch did not listen on {HOST}:{self.port} in {STARTUP_TIMEOUT:.0f}s")
            time.sleep(0.1)
        say(f"emulator: cargo lambda watch --only-lambda-apis on {HOST}:{self.port} (logs in {self.logs})")

    def start_function(self, function: str, extra_env: dict[str, str]) -> subprocess.Popen:
        binary = self.bin_dir / function
        check(binary.is_file() and os.access(binary, os.X_OK), f"no binary {binary}: run cargo test (or build) first")
        env = dict(os.environ)
        env.update({
            # What `cargo lambda watch` gives a function it starts itself (and what Lambda sets).
            "AWS_LAMBDA_RUNTIME_API": f"http://{HOST}:{self.port}/.rt/{function}",
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "RUST_LOG": env.get("RUST_LOG", "info"),
        })
        env.update(extra_env)
        argv = [binary.as_posix()]
        if Path("/usr/bin/time").exists():  # peak memory of the whole run, reported at the end
            argv = ["/usr/bin/time", "-f", "maxrss_kb=%M", "-o", (self.logs / f"{function}.rss").as_posix()] + argv
        return self.spawn(function, argv, env)

    def invoke(self, function: str, process: subprocess.Popen, event: str, data: dict | None = None) -> dict:
        """The function's answer to events/<event>, or to `data` (then `event` only names it)."""
        payload = ["--data-file", (EVENTS / event).as_posix()] if data is None else ["--data-ascii", json.dumps(data)]
        argv = self.cargo_lambda + ["invoke", "--invoke-address", HOST, "--invoke-port", str(self.port),
                                    "--output-format", "json", *payload, function]
        started = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=INVOKE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise SmokeError(f"{function} < {event}: no answer in {INVOKE_TIMEOUT:.0f}s\n{self.tail(function)}")
        if process.poll() is not None:
            raise SmokeError(f"{function} exited ({process.returncode}) during {event}:\n{self.tail(function)}")
        if done.returncode != 0:
            raise SmokeError(f"{function} < {event}: cargo lambda invoke failed ({done.returncode}):\n"
                             f"{done.stdout}{done.stderr}\n{self.tail(function)}")
        try:
            answer = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise SmokeError(f"{function} < {event}: the answer is not JSON: {done.stdout[:500]!r}")
        source = f"events/{event}" if data is None else f"the {event} stage"
        say(f"  {function} < {source}: answered in {time.monotonic() - started:.2f}s")
        return answer

    def finish_function(self, function: str, process: subprocess.Popen) -> None:
        self.stop(process)
        rss = self.logs / f"{function}.rss"
        if rss.exists():
            for line in rss.read_text().splitlines():
                if line.startswith("maxrss_kb="):
                    self.rss_kb[function] = int(line.split("=", 1)[1])

    # --- local resources ---------------------------------------------------------------------------------------

    def prepare(self) -> None:
        self.s3.create_bucket(Bucket=self.bucket)
        say(f"bucket s3://{self.bucket} in moto")
        stream = f"streaming-{PREFIX}-pin"
        try:
            self.kinesis.create_stream(StreamName=stream, ShardCount=1)
        except self.kinesis.exceptions.ResourceInUseException:
            pass
        self.kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        tansu = shutil.which("tansu")
        check(tansu is not None, "tansu is not on PATH: scripts/services.sh start moto tansu")
        for table in ("pin", "geo", "user"):
            topic = f"{PREFIX}.{table}"
            done = subprocess.run([tansu, "topic", "create", topic, "--broker", f"tcp://{self.kafka}", "--partitions",
                                   "1"], capture_output=True, text=True, timeout=60)
            output = done.stdout + done.stderr
            if done.returncode != 0 and "exist" not in output.lower():
                raise SmokeError(f"tansu topic create {topic} failed ({done.returncode}): {output.strip()}")
        say(f"topics {PREFIX}.pin|geo|user on tansu {self.kafka}, stream {stream} in moto")

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def body(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    # --- the four functions ------------------------------------------------------------------------------------

    def ingest_api(self) -> None:
        function = "ingest-api"
        process = self.start_function(function, {"PINPIPE_PREFIX": PREFIX, "PINPIPE_KAFKA_BOOTSTRAP": self.kafka,
                                                  "PINPIPE_KAFKA_AUTH": "none"})
        # POST /topics/pinpipe.pin -> Kafka (tansu)
        event = load_event("ingest-topic-pin.json")
        posted = 0
        for record in request_body(event)["records"]:
            posted += len(record["value"]) if isinstance(record["value"], list) else 1
        answer = self.invoke(function, process, "ingest-topic-pin.json")
        check(answer.get("statusCode") == 200, f"ingest-topic-pin: status {answer.get('statusCode')}: {answer}")
        body = json.loads(answer["body"])
        offsets = body.get("offsets")
        check(isinstance(offsets, list) and len(offsets) == posted,
              f"ingest-topic-pin: {posted} records posted, offsets {offsets}")
        for offset in offsets:
            check(isinstance(offset.get("offset"), int) and offset["offset"] >= 0 and offset.get("error") is None
                  and offset.get("error_code") is None and offset.get("partition") == 0,
                  f"ingest-topic-pin: bad offset entry {offset}")
        numbers = [offset["offset"] for offset in offsets]
        check(numbers == list(range(numbers[0], numbers[0] + posted)),
              f"ingest-topic-pin: offsets of one request are not consecutive: {numbers}")
        say(f"  ingest-api: 200, {posted} records at offsets {numbers[0]}..{numbers[-1]} of {PREFIX}.pin (tansu)")

        # PUT /streams/streaming-pinpipe-pin/record -> Kinesis (moto)
        event = load_event("ingest-stream-record.json")
        sent = request_body(event)
        answer = self.invoke(function, process, "ingest-stream-record.json")
        check(answer.get("statusCode") == 200, f"ingest-stream-record: status {answer.get('statusCode')}: {answer}")
        body = json.loads(answer["body"])
        check(body.get("SequenceNumber") and body.get("ShardId"), f"ingest-stream-record: answer {body}")
        iterator = self.kinesis.get_shard_iterator(StreamName=sent["StreamName"], ShardId=body["ShardId"],
                                                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                   StartingSequenceNumber=body["SequenceNumber"])["ShardIterator"]
        records = self.kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"]
        check(len(records) == 1 and json.loads(records[0]["Data"]) == sent["Data"],
              f"ingest-stream-record: the stored record differs from the one sent: {records[:1]}")
        say(f"  ingest-api: 200, record stored in {sent['StreamName']} (moto) at {body['SequenceNumber']}")

        # An unknown topic -> the REST proxy's 404 envelope
        answer = self.invoke(function, process, "ingest-topic-unknown.json")
        body = json.loads(answer.get("body") or "{}")
        check(answer.get("statusCode") == 404 and body.get("error_code") == 40401,
              f"ingest-topic-unknown: expected 404 / 40401, got {answer}")
        say("  ingest-api: unknown topic answered 404 / 40401")
        self.finish_function(function, process)

    def kafka_to_s3(self) -> int:
        function = "kafka-to-s3"
        process = self.start_function(function, {"PINPIPE_LAKE_BUCKET": self.bucket})
        landed = 0
        for table in ("pin", "geo", "user"):
            name = f"kafka-to-s3-{table}.json"
            event = load_event(name)
            records = [record for batch in event["records"].values() for record in batch]
            answer = self.invoke(function, process, name)
            check(answer.get("records_landed") == len(records) and answer.get("records_rejected") == 0
                  and answer.get("objects_written", 0) >= 1, f"{name}: summary {answer}")
            # Each contiguous run of offsets of a (topic, partition) is one object at the key of its first offset,
            # holding the run's values in offset order.
            expected = {}
            for records_of_partition in event["records"].values():
                ordered = sorted(records_of_partition, key=lambda record: record["offset"])
                run: list[dict] = []
                for record in ordered + [None]:
                    if run and (record is None or record["offset"] != run[-1]["offset"] + 1):
                        first = run[0]
                        key = (f"topics/{first['topic']}/partition={first['partition']}/"
                               f"{first['topic']}+{first['partition']}+{first['offset']:010d}.json")
                        expected[key] = [base64.b64decode(item["value"]).decode() for item in run]
                        run = []
                    if record is not None:
                        run.append(record)
            check(answer["objects_written"] == len(expected),
                  f"{name}: {answer['objects_written']} objects written, {len(expected)} runs of offsets in the event")
            for key, want in expected.items():
                check(key in self.keys(key), f"{name}: no object {key}")
                lines = self.body(key).decode().splitlines()
                check(lines == want, f"{name}: {key} holds {len(lines)} lines, not the {len(want)} values of its run")
            landed += answer["objects_written"]
            say(f"  kafka-to-s3: {answer['records_landed']} {table} records landed in "
                f"{answer['objects_written']} object(s) under topics/{PREFIX}.{table}/")
        self.finish_function(function, process)
        return landed

    def stream_processor(self) -> None:
        function = "stream-processor"
        process = self.start_function(function, {"PINPIPE_LAKE_BUCKET": self.bucket, "PINPIPE_PREFIX": PREFIX})
        answer = self.invoke(function, process, "stream-processor-pin.json")
        check(answer == {"batchItemFailures": []}, f"stream-processor-pin: answer {answer}")
        keys = self.keys("stream/pin/")
        parts = [key for key in keys if key.endswith(".parquet")]
        check(len(parts) == 1 and "/arrival_date=" in parts[0], f"stream-processor-pin: data files {keys}")
        data = self.body(parts[0])
        check(data[:4] == b"PAR1" and data[-4:] == b"PAR1", f"{parts[0]} is not a Parquet file")
        commits = [key for key in keys if key.startswith("stream/pin/_delta_log/") and key.endswith(".json")]
        check(len(commits) == 2, f"stream-processor-pin: the table's log {commits}: the table's creation and one append")
        append = self.body(commits[-1]).decode()
        check('"txn"' in append and parts[0].split("/", 2)[2] in append, f"the append commits the file and the shard's position: {append}")
        check(not self.keys("rejected/"), f"stream-processor-pin: records rejected: {self.keys('rejected/')}")
        say(f"  stream-processor: batchItemFailures [], {parts[0]} ({len(data)} bytes of Parquet) in commit {commits[-1]}")
        self.finish_function(function, process)

    def batch_transform(self, raw_objects: int) -> None:
        function = "batch-transform"
        process = self.start_function(function, {"PINPIPE_LAKE_BUCKET": self.bucket})
        event = load_event("batch-transform-scheduled.json")
        run_date = event["time"][:10]
        answer = self.invoke(function, process, "batch-transform-scheduled.json")
        check(answer.get("run_date") == run_date, f"batch-transform: run_date {answer.get('run_date')}, not {run_date}")
        check(answer.get("inputs_consumed") == raw_objects,
              f"batch-transform: consumed {answer.get('inputs_consumed')} raw objects, {raw_objects} were landed")
        tables = answer.get("tables", {})
        for table in ("pin", "geo", "user"):
            counts = tables.get(table, {})
            check(counts.get("records_in", 0) > 0 and counts.get("records_cleaned", 0) > 0,
                  f"batch-transform: table {table}: {counts}")
        results = answer.get("results", {})
        queries = ("q1", "q2a", "q2b", "q3a", "q3b", "q4", "q5", "q6", "q7", "q8", "q9")
        check(sorted(results) == sorted(queries), f"batch-transform: results {sorted(results)}")
        for table in [f"results/{query}" for query in queries] + [f"cleaned/{t}" for t in ("pin", "geo", "user")]:
            # Each a Delta table whose latest commit replaced the run date's partition with the run's txn.
            data = [key for key in self.keys(f"{table}/run_date={run_date}/") if key.endswith(".parquet")]
            commits = sorted(key for key in self.keys(f"{table}/_delta_log/") if key.endswith(".json"))
            check(len(data) == 1 and commits, f"batch-transform: {table}: files {data}, commits {commits}")
            actions = [json.loads(line) for line in self.body(commits[-1]).splitlines() if line.strip()]
            check(any(a.get("txn", {}).get("appId") == f"batch-transform/{run_date}#7" for a in actions)
                  and any(a.get("add", {}).get("path", "").startswith(f"run_date={run_date}/") for a in actions),
                  f"batch-transform: {table}: the last commit {commits[-1]} is not the run's")
        manifest_key = answer.get("manifest_key", "")
        check(manifest_key in self.keys(f"runs/{run_date}/"), f"batch-transform: no manifest {manifest_key}")
        manifest = json.loads(self.body(manifest_key))
        check(manifest.get("run_date") == run_date, f"batch-transform: manifest {manifest_key} is for another date")
        rows = {table: tables[table]["records_cleaned"] for table in ("pin", "geo", "user")}
        say(f"  batch-transform: run {run_date}, {raw_objects} raw objects consumed, cleaned rows {rows}, "
            f"{len(results)} query results, {manifest_key}")
        # The stages of a run on Athena (QueryEngine=Athena), the next day, over one new raw object: a copy of a
        # landed one under the next offset, so every record is a duplicate of the day before.
        landed = sorted(key for key in self.keys("topics/") if ".pin/" in key)[0]
        copy = landed[: -len(".json")].rsplit("+", 1)[0] + "+9999999999.json"
        self.s3.put_object(Bucket=self.bucket, Key=copy, Body=self.body(landed))
        stage = load_event("batch-transform-athena-plan.json")
        parts = self.invoke(function, process, "batch-transform-athena-plan.json")
        stage_date = stage["time"][:10]
        check(parts.get("run_date") == stage_date and parts.get("parts") == [0], f"batch-transform: plan {parts}")
        run = {"run_date": stage_date, "run_id": parts.get("run_id")}
        decoded = self.invoke(function, process, "decode_part", {"stage": "decode_part", "part": 0, **run})
        check(decoded.get("objects") == 1 and decoded.get("distinct_records", 0) > 0,
              f"batch-transform: decode_part {decoded}")
        plan = self.invoke(function, process, "clean", {"stage": "clean", **run})
        manifest = json.loads(self.body(f"runs/{stage_date}/manifest.json"))
        pin = manifest["tables"]["pin"]
        check(manifest["inputs"][0]["key"] == copy and pin["records_cleaned"] == 0
              and pin["duplicates_dropped"] == pin["records_in"] > 0, f"batch-transform: clean stage counted {pin}")
        check(not self.keys("staging/"), f"batch-transform: staged files left: {self.keys('staging/')}")
        statements = plan.get("queries", [])
        prefix = plan.get("unload_prefix", "")
        check(plan.get("run_date") == stage_date and prefix.startswith(f"athena-unload/{stage_date}/"),
              f"batch-transform: clean stage answered {plan}")
        check([s.get("id") for s in statements] == list(queries)
              and all(s["statement"].startswith("UNLOAD (\n")
                      and f"TO 's3://{self.bucket}/{prefix}{s['id']}/'" in s["statement"] for s in statements),
              f"batch-transform: clean stage statements {statements}")
        say(f"  batch-transform: Athena stages {stage_date}: 1 part of {decoded['distinct_records']} distinct records, "
            f"{pin['duplicates_dropped']} duplicates dropped, {len(statements)} UNLOAD statements under {prefix}")
        self.finish_function(function, process)

    def run(self) -> None:
        started = time.monotonic()
        self.prepare()
        self.start_emulator()
        say("HTTP API trigger: ingest-api")
        self.ingest_api()
        say("MSK trigger: kafka-to-s3")
        raw_objects = self.kafka_to_s3()
        say("Kinesis trigger: stream-processor")
        self.stream_processor()
        say("schedule trigger: batch-transform")
        self.batch_transform(raw_objects)
        rss = ", ".join(f"{name} {kb / 1024:.0f} MB" for name, kb in self.rss_kb.items())
        if rss:
            say(f"peak RSS of the debug binaries: {rss}")
        say(f"all four functions passed under cargo lambda in {time.monotonic() - started:.1f}s")


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: lambda_smoke.py BIN_DIR CARGO_LAMBDA", file=sys.stderr)
        return 2
    smoke = Smoke(Path(sys.argv[1]), [sys.argv[2], "lambda"])
    # A signal ends the run through the finally below (the emulator and the functions are stopped).
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, lambda number, frame: sys.exit(128 + number))
    passed = False
    try:
        smoke.run()
        passed = True
        return 0
    except SmokeError as error:
        say(f"FAILED: {error}")
        say(f"logs: {smoke.logs}")
        return 1
    except Exception as error:  # noqa: BLE001 - a local server refused or broke: same clear ending
        say(f"FAILED: {type(error).__name__}: {error}")
        say(f"logs: {smoke.logs}")
        return 1
    finally:
        smoke.stop_all()
        if passed:
            shutil.rmtree(smoke.logs, ignore_errors=True)
        try:
            objects = smoke.keys("")
            for start in range(0, len(objects), 1000):
                smoke.s3.delete_objects(Bucket=smoke.bucket,
                                        Delete={"Objects": [{"Key": key} for key in objects[start:start + 1000]]})
            smoke.s3.delete_bucket(Bucket=smoke.bucket)
        except Exception:  # noqa: BLE001 - moto may be gone; the bucket then went with it
            pass


if __name__ == "__main__":
    sys.exit(main())
