#!/usr/bin/env bash
# Init time ("process start -> ready") and size of each function's release binary, on this machine.
#
#   scripts/cold-start.sh [RUNS]      (default 20 runs per function; prints median, min, p90 and RSS at ready)
#
# Builds the x86_64 release binaries with `cargo build --release --workspace --bins --examples --locked` (a no-op when
# they are current; CARGO_TARGET_DIR is honoured), or takes them from PINPIPE_BIN_DIR. Each binary is started against
# a fake Lambda Runtime API on 127.0.0.1 with the environment template.yaml gives it (moto's endpoint from
# scripts/services.sh env, a local bucket name, tansu as the Kafka broker); the time to its first
# `GET /2018-06-01/runtime/invocation/next` is its init time (scripts/cold_start.py). Nothing needs to be running:
# no function talks to S3 or Kinesis before its first event; ingest-api creates its Kafka producer, which connects
# in the background.
#
# The deployed functions are arm64 builds (cargo lambda build --arm64), which cannot run on an x86_64 machine without
# emulation; these x86_64 binaries come from the same code and profile.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${1:-20}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/cold-start.sh [RUNS]" >&2; exit 2; }

if [[ -n "${PINPIPE_BIN_DIR:-}" ]]; then
    bin_dir=$PINPIPE_BIN_DIR
else
    cargo build --release --workspace --bins --examples --locked
    target=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}
    bin_dir=$target/release
fi
[[ -n "${AWS_ENDPOINT_URL:-}" ]] || eval "$(scripts/services.sh env)"

echo "init time of $bin_dir/<function>, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 scripts/cold_start.py "$bin_dir" "$runs" ingest-api kafka-to-s3 stream-processor batch-transform
