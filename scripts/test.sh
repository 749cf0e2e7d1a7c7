#!/usr/bin/env bash
# Runs every check and test of pinpipe, installing and starting the local services they need (moto for
# S3 and Kinesis, tansu for Kafka).
# This is the README's test command and what CI runs (.ci/run).
#
#   scripts/test.sh            everything: format, lints, tests against local services, infra checks
#   SKIP_INFRA=1 scripts/test.sh    leave out the SAM template checks (cfn-lint, sam validate, checkov)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Rust toolchain (rust-toolchain.toml: 1.95.0)"
# rustup installs the pinned release where it can download it. A machine with no route to the Rust
# release servers may hold that release only as its "stable" toolchain: give it the pinned name too.
toolchains="${RUSTUP_HOME:-$HOME/.rustup}/toolchains"
host=$(cd / && rustc +stable -vV | sed -n 's/^host: //p')
if [[ ! -e "$toolchains/1.95.0-$host" ]] && (cd / && rustc +stable --version) | grep -q '^rustc 1\.95\.0 '; then
    ln -s "stable-$host" "$toolchains/1.95.0-$host"
fi
cargo --version

step "local services (moto and tansu on 127.0.0.1)"
# tansu is built with cargo the first time (several minutes); later runs find it with `command -v tansu`.
scripts/services.sh start moto tansu
trap 'scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/services.sh env)"

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "no unused dependencies (cargo-machete, installed into .services/ the first time)"
machete=.services/cargo-machete/bin/cargo-machete
[[ -x $machete ]] || cargo install --quiet --locked --root .services/cargo-machete cargo-machete --version 0.9.2
"$machete"

step "a headless browser for the report's browser test (Debian's chromium; without it that one test is skipped)"
command -v chromium >/dev/null \
    || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium (apt-get, as root): the report's browser test will say it skipped" >&2

step "independent readers of the Delta tables (Python deltalake and Polars, into .services/readers-venv)"
readers=.services/readers-venv
[[ -x $readers/bin/python ]] || python3 -m venv "$readers"
"$readers/bin/pip" install --quiet --disable-pip-version-check -r scripts/readers-requirements.txt
export PINPIPE_PYTHON="$PWD/$readers/bin/python"

step "DuckDB for the test that runs sql/q*.sql unchanged on a second engine (into the benchmark venv, bench/.venv)"
[[ -x bench/.venv/bin/python ]] || python3 -m venv bench/.venv
bench/.venv/bin/pip install --quiet --disable-pip-version-check "$(grep -i '^duckdb==' bench/requirements.txt)"
export PINPIPE_BENCH_PYTHON="$PWD/bench/.venv/bin/python"

step "tests (unit, integration, end to end; --all-features turns on the tests against the local servers and the browser)"
cargo test --workspace --all-features --locked

step "the four Lambda functions under cargo-lambda (watch + invoke, one per trigger type)"
scripts/lambda.sh smoke

step "benchmark harnesses, smoke run (tiny inputs: proves they still work; the measurements are in BENCHMARKS.md)"
PINPIPE_BENCH_SMOKE=1 cargo test --workspace --all-features --locked \
    --bench stream --bench landing --bench handler --bench loopback --bench produce --bench days

step "batch benchmark harness, smoke run (ours, Python Polars and DuckDB on 2,000 records, edge cases, the real sample: byte-identical CSVs)"
cargo build --workspace --all-features --locked --bin pinpipe
PINPIPE_BIN=target/debug/pinpipe bench/run.sh --smoke

if [[ -z "${SKIP_INFRA:-}" ]]; then
    step "infrastructure checks (cfn-lint and checkov for both QueryEngine values, sam validate --lint, the state machine)"
    bash infra/check.sh
fi
