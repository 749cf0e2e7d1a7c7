#!/usr/bin/env bash
# The "other measures" of BENCHMARKS.md: ingestion, stream processor and landing throughput.
#
# usage: bench/measures.sh [--smoke] [ingest|handler|stream|landing|all]...   (default: all)
#
#   ingest   records/s and request p50/p99 through the HTTP API (the `serve` example: axum over the
#            handler, librdkafka producer) into a Kafka-protocol broker (tansu, SQLite) of its own on
#            127.0.0.1, posted by `pinpipe emulate --mode batch` at batch size 1 and 500, concurrency
#            1..16, with the CPU each process used (100% = one core); then the same broker fed straight
#            by the API's Kafka adapter, no HTTP (crates/pinpipe-ingest/benches/produce.rs)
#   handler  the API without the broker: criterion benchmark of `Ingest::handle` with a Kafka that
#            acknowledges at once (crates/pinpipe-ingest/benches/handler.rs), and the same over HTTP on
#            loopback with the same poster (benches/loopback.rs)
#   stream   the stream processor on a 10,000-record Kinesis event into a folder lake, criterion
#            (functions/stream-processor/benches/stream.rs), on all cores and pinned to one core
#   landing  kafka-to-s3 on a 6 MiB MSK event into a folder lake, criterion
#            (functions/kafka-to-s3/benches/landing.rs), on all cores and pinned to one core
#
# --smoke    a check that the harness still works, in seconds once the debug build exists: debug
#            binaries, a few records, the criterion benchmarks run once each in test mode (`cargo test
#            --bench`). Its numbers mean nothing.
#
# Builds with `cargo build [--release] --workspace --bins --examples --locked`; benchmarks run as
# `cargo bench --workspace --bench NAME` (not `-p PACKAGE`: with `--workspace` the features unify as in
# that release build, so its compiled dependencies are reused instead of Polars being built again).
# CARGO_TARGET_DIR is honoured. Everything listens on and talks to 127.0.0.1 only, and everything it
# starts is stopped when it ends. Raw logs go to $BENCH_LOG_DIR (default: a new folder under /tmp);
# the Markdown tables are printed and kept in $BENCH_LOG_DIR/summary.md.
#
# Environment (defaults in brackets):
#   BENCH_TANSU_PORT [19092], BENCH_TANSU_METRICS_PORT [19100], BENCH_API_PORT [18080]
#   BENCH_PARTITIONS [3]            partitions per topic
#   BENCH_BATCHES ["1 500"]         batch sizes (records per request)
#   BENCH_CONCURRENCY ["1 2 4 8 16"] requests in flight
#   BENCH_ROWS_1 [1000]             posts per run at batch size 1 (3 records each, one request per record)
#   BENCH_ROWS_BATCH [20000]        posts per run at larger batch sizes
#   BENCH_SERVE_LOG [warn]          RUST_LOG of the API server (`info` logs one JSON line per request)
#   BENCH_PIN_CPU [0]               the CPU the pinned runs use
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

HOST=127.0.0.1
SMOKE=0
say() { printf 'measures: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

WHAT=()
for arg in "$@"; do
    case "$arg" in
        --smoke) SMOKE=1 ;;
        -h | --help) usage ;;
        ingest | handler | stream | landing) WHAT+=("$arg") ;;
        all) WHAT+=(ingest handler stream landing) ;;
        *) say "unknown argument '$arg'"; usage ;;
    esac
done
((${#WHAT[@]})) || WHAT=(ingest handler stream landing)

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if ((SMOKE)); then PROFILE=debug; else PROFILE=release; fi
BIN=$TARGET/$PROFILE
LOG_DIR=${BENCH_LOG_DIR:-$(mktemp -d /tmp/pinpipe-measures.XXXXXX)}
mkdir -p "$LOG_DIR"
SUMMARY=$LOG_DIR/summary.md
: >"$SUMMARY"
PIN_CPU=${BENCH_PIN_CPU:-0}
CLK_TCK=$(getconf CLK_TCK)

out() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

for port_variable in BENCH_TANSU_PORT BENCH_TANSU_METRICS_PORT BENCH_API_PORT; do
    port=${!port_variable:-}
    [[ -z "$port" ]] || { [[ $port =~ ^[0-9]{1,5}$ ]] && ((port >= 1 && port <= 65535)); } ||
        die "$port_variable must be a TCP port number (1-65535), not '$port'"
done
TANSU_PORT=${BENCH_TANSU_PORT:-19092}
TANSU_METRICS_PORT=${BENCH_TANSU_METRICS_PORT:-19100}
API_PORT=${BENCH_API_PORT:-18080}

# --- processes this script starts (stopped on exit, by pid) ------------------------------------------

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# wait_port NAME PID PORT LOG
wait_port() {
    local deadline=$((SECONDS + 60))
    until port_open "$3"; do
        kill -0 "$2" 2>/dev/null || { tail -n 20 "$4" >&2; die "$1 exited while starting; log: $4"; }
        ((SECONDS < deadline)) || die "$1 did not answer on $HOST:$3 within 60 s; log: $4"
        sleep 0.2
    done
}

# CPU seconds (user + system, all threads) a process has used so far.
cpu_seconds() {
    awk -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / tck }' "/proc/$1/stat"
}

# --- builds -----------------------------------------------------------------------------------------

BUILT=0
build() {
    ((BUILT)) && return
    if ((SMOKE)); then
        say "building (debug): cargo build --workspace --bins --examples --locked"
        cargo build --workspace --bins --examples --locked
    else
        say "building (release): cargo build --release --workspace --bins --examples --locked"
        cargo build --release --workspace --bins --examples --locked
    fi
    BUILT=1
}

# Prints "| name | median time | median throughput |" rows from criterion's output on stdin.
criterion_rows() {
    awk '
        /^[^ \t]/ && !/^(Benchmarking|Gnuplot|Warning|Found|WARNING|Running|Testing)/ { name = $1 }
        /time:/ { t = $0; sub(/.*\[/, "", t); split(t, f, " "); time = f[3] " " f[4] }
        /thrpt:/ {
            r = $0; sub(/.*\[/, "", r); split(r, f, " "); rate = f[3] " " f[4]
            printf "| %s | %s | %s |\n", name, time, rate
        }'
}

# criterion PACKAGE BENCH LABEL [pinned]
criterion() {
    local package=$1 bench=$2 label=$3 pinned=${4:-} log
    log="$LOG_DIR/$bench${pinned:+-pinned}.log"
    if ((SMOKE)); then
        say "$label: PINPIPE_BENCH_SMOKE=1 cargo test --workspace --all-features --locked --bench $bench (each benchmark once)"
        PINPIPE_BENCH_SMOKE=1 cargo test --workspace --all-features --locked --bench "$bench" >"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; die "$label failed; log: $log"; }
        grep -E '^(Testing|Success)|Success$' "$log" | tee -a "$SUMMARY" >&2 || true
        return
    fi
    cargo bench --workspace --locked --bench "$bench" --no-run >>"$LOG_DIR/builds.log" 2>&1 ||
        { tail -n 30 "$LOG_DIR/builds.log" >&2; die "building the $bench benchmark failed"; }
    if [[ -n "$pinned" ]]; then
        say "$label on CPU $PIN_CPU only: taskset -c $PIN_CPU cargo bench --workspace --bench $bench ($package)"
        taskset -c "$PIN_CPU" env POLARS_MAX_THREADS=1 RAYON_NUM_THREADS=1 \
            cargo bench --workspace --locked --bench "$bench" >"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; die "$label failed; log: $log"; }
    else
        say "$label on every core: cargo bench --workspace --bench $bench ($package)"
        cargo bench --workspace --locked --bench "$bench" >"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; die "$label failed; log: $log"; }
    fi
    out ""
    out "$label, $(if [[ -n "$pinned" ]]; then echo "one core (taskset -c $PIN_CPU, POLARS_MAX_THREADS=1, RAYON_NUM_THREADS=1)"; else echo "all $(nproc) cores"; fi):"
    out ""
    out "| benchmark | median time | median throughput (elem = record) |"
    out "|---|---:|---:|"
    criterion_rows <"$log" | tee -a "$SUMMARY"
}

# --- ingest: HTTP API → broker ----------------------------------------------------------------------

start_broker() {
    command -v tansu >/dev/null || scripts/services.sh install tansu
    port_open "$TANSU_PORT" && die "$HOST:$TANSU_PORT is taken: set BENCH_TANSU_PORT"
    local dir=$LOG_DIR/tansu
    mkdir -p "$dir"
    (cd "$dir" && exec env -u OTEL_EXPORTER_OTLP_ENDPOINT PROMETHEUS_LISTENER_URL="tcp://$HOST:$TANSU_METRICS_PORT" \
        tansu --storage-engine sqlite://tansu.db \
        --listener-url "tcp://$HOST:$TANSU_PORT" --advertised-listener-url "tcp://$HOST:$TANSU_PORT") \
        >"$LOG_DIR/tansu.log" 2>&1 </dev/null &
    TANSU_PID=$!
    PIDS+=("$TANSU_PID")
    wait_port tansu "$TANSU_PID" "$TANSU_PORT" "$LOG_DIR/tansu.log"
    local partitions=${BENCH_PARTITIONS:-3}
    ((SMOKE)) && partitions=1
    for table in pin geo user; do
        tansu topic create "pinpipe.$table" --broker "tcp://$HOST:$TANSU_PORT" --partitions "$partitions" \
            >>"$LOG_DIR/tansu.log" 2>&1 || die "creating topic pinpipe.$table failed; log: $LOG_DIR/tansu.log"
    done
    say "tansu $(tansu --version 2>/dev/null | head -n 1) (pid $TANSU_PID) on $HOST:$TANSU_PORT, $partitions partitions per topic, state in $dir"
}

start_api() {
    port_open "$API_PORT" && die "$HOST:$API_PORT is taken: set BENCH_API_PORT"
    # AWS variables point at a closed loopback port: nothing here may reach AWS (only Kafka is used).
    env PINPIPE_PREFIX=pinpipe PINPIPE_KAFKA_BOOTSTRAP="$HOST:$TANSU_PORT" PINPIPE_KAFKA_AUTH=none \
        RUST_LOG="${BENCH_SERVE_LOG:-warn}" AWS_ENDPOINT_URL="http://$HOST:9" AWS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true \
        "$BIN/examples/serve" "$HOST:$API_PORT" >"$LOG_DIR/serve.log" 2>&1 </dev/null &
    API_PID=$!
    PIDS+=("$API_PID")
    wait_port "the API" "$API_PID" "$API_PORT" "$LOG_DIR/serve.log"
    say "API ($BIN/examples/serve, RUST_LOG=${BENCH_SERVE_LOG:-warn}) (pid $API_PID) on $HOST:$API_PORT"
}

# post BATCH CONCURRENCY ROWS: one run of the poster; prints a table row.
post() {
    local batch=$1 concurrency=$2 rows=$3 log=$LOG_DIR/post-b$1-c$2.log
    local tansu0 api0 tansu1 api1
    tansu0=$(cpu_seconds "$TANSU_PID")
    api0=$(cpu_seconds "$API_PID")
    if ! /usr/bin/time -f '%e %U %S' -o "$log.time" "$BIN/pinpipe" emulate --api "http://$HOST:$API_PORT" \
        --mode batch --rows "$rows" --batch-size "$batch" --concurrency "$concurrency" --seed 7 >"$log" 2>&1; then
        cat "$log" >&2
        die "posting (batch $batch, concurrency $concurrency) failed; log: $log"
    fi
    tansu1=$(cpu_seconds "$TANSU_PID")
    api1=$(cpu_seconds "$API_PID")
    local rate p50 p99 max acknowledged wall user sys
    acknowledged=$(sed -n 's/^sent [0-9]* records .*: \([0-9]*\) acknowledged.*/\1/p' "$log")
    rate=$(sed -n 's/^rate: \([0-9.]*\) records\/s acknowledged over \([0-9.]*\) s.*/\1/p' "$log")
    read -r p50 p99 max < <(sed -n 's/^latency per request: p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms, max \([0-9.]*\) ms.*/\1 \2 \3/p' "$log")
    read -r wall user sys <"$log.time"
    [[ -n "$rate" && -n "$p99" ]] || { cat "$log" >&2; die "cannot read the poster's summary; log: $log"; }
    awk -v b="$batch" -v c="$concurrency" -v n="$acknowledged" -v r="$rate" -v p50="$p50" -v p99="$p99" -v max="$max" \
        -v w="$wall" -v t0="$tansu0" -v t1="$tansu1" -v a0="$api0" -v a1="$api1" -v u="$user" -v s="$sys" \
        'BEGIN { printf "| %d | %d | %d | %.0f | %.2f | %.2f | %.2f | %.0f%% | %.0f%% | %.0f%% |\n",
                 b, c, n, r, p50, p99, max, 100 * (t1 - t0) / w, 100 * (a1 - a0) / w, 100 * (u + s) / w }' |
        tee -a "$SUMMARY"
}

ingest() {
    build
    start_broker
    start_api
    local batches=${BENCH_BATCHES:-1 500} concurrencies=${BENCH_CONCURRENCY:-1 2 4 8 16}
    local rows_1=${BENCH_ROWS_1:-1000} rows_batch=${BENCH_ROWS_BATCH:-20000}
    if ((SMOKE)); then
        batches="1 500" concurrencies="1 4" rows_1=10 rows_batch=500
    fi
    # Warm-up: the producer's connections and the topics' metadata.
    "$BIN/pinpipe" emulate --api "http://$HOST:$API_PORT" --mode batch --rows 20 --batch-size 1 --concurrency 4 \
        --seed 1 >"$LOG_DIR/warm-up.log" 2>&1 || { cat "$LOG_DIR/warm-up.log" >&2; die "warm-up posting failed"; }
    out ""
    out "Ingestion: pinpipe emulate → HTTP API ($PROFILE serve, RUST_LOG=${BENCH_SERVE_LOG:-warn}) → tansu on $HOST ($(nproc) cores shared by all three; CPU: 100% = one core):"
    out ""
    out "| batch size | concurrency | records | records/s | p50 ms | p99 ms | max ms | tansu CPU | API CPU | poster CPU |"
    out "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local batch concurrency
    for batch in $batches; do
        for concurrency in $concurrencies; do
            if ((batch == 1)); then post "$batch" "$concurrency" "$rows_1"; else post "$batch" "$concurrency" "$rows_batch"; fi
        done
    done
    # The broker alone: the API's Kafka adapter (and a linger.ms=0 producer) straight to the same tansu.
    local log=$LOG_DIR/produce.log
    if ((SMOKE)); then
        say "Kafka produce without HTTP: PINPIPE_BENCH_SMOKE=1 cargo test --workspace --all-features --locked --bench produce"
        PINPIPE_BENCH_SMOKE=1 PINPIPE_BENCH_KAFKA="$HOST:$TANSU_PORT" \
            cargo test --workspace --all-features --locked --bench produce >"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; die "the produce benchmark failed; log: $log"; }
    else
        say "Kafka produce without HTTP: cargo bench --workspace --bench produce"
        PINPIPE_BENCH_KAFKA="$HOST:$TANSU_PORT" cargo bench --workspace --locked --bench produce >"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; die "the produce benchmark failed; log: $log"; }
    fi
    out ""
    out "Kafka produce straight to the same tansu (no HTTP, no handler):"
    out ""
    grep '^|' "$log" | tee -a "$SUMMARY"
    cleanup
}

handler() {
    build
    criterion pinpipe-ingest handler "Ingest::handle with an immediately acknowledging Kafka (criterion)"
    local log=$LOG_DIR/loopback.log
    if ((SMOKE)); then
        say "HTTP API on loopback without a broker: PINPIPE_BENCH_SMOKE=1 cargo test --workspace --all-features --locked --bench loopback"
        PINPIPE_BENCH_SMOKE=1 cargo test --workspace --all-features --locked --bench loopback >"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; die "the loopback benchmark failed; log: $log"; }
    else
        say "HTTP API on loopback without a broker: cargo bench --workspace --bench loopback"
        cargo bench --workspace --locked --bench loopback >"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; die "the loopback benchmark failed; log: $log"; }
    fi
    out ""
    out "HTTP API on loopback without a broker (the same poster and axum server; Kafka acknowledges at once):"
    out ""
    grep '^|' "$log" | tee -a "$SUMMARY"
}

stream() {
    build
    criterion stream-processor stream "Stream processor, 10,000-record Kinesis event → folder lake (criterion)"
    ((SMOKE)) || criterion stream-processor stream "Stream processor, 10,000-record Kinesis event → folder lake (criterion)" pinned
}

landing() {
    build
    criterion kafka-to-s3 landing "Landing (kafka-to-s3), 6 MiB MSK event → folder lake (criterion)"
    ((SMOKE)) || criterion kafka-to-s3 landing "Landing (kafka-to-s3), 6 MiB MSK event → folder lake (criterion)" pinned
}

say "logs in $LOG_DIR"
for what in "${WHAT[@]}"; do
    "$what"
done
say "done; the tables are in $SUMMARY"
if ((SMOKE)); then
    echo "measures: ${#WHAT[@]} passed, 0 failed"
fi
