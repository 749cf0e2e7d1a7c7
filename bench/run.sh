#!/usr/bin/env bash
# The batch benchmark (see BENCHMARKS.md): makes bench/.venv with the pinned peers
# (bench/requirements.txt), then runs bench/batch.py with the arguments given.
#
#   bench/run.sh            # the full run: N = 30k, 300k, 1M; updates bench/results/ and BENCHMARKS.md
#   bench/run.sh --smoke    # N = 2,000, one run, ours + Polars + DuckDB, byte comparison (for CI)
#   bench/run.sh --workload distinct   # only the mostly distinct records (10 x N source rows);
#                                      # both workloads (seed-like, distinct) by default
#
# PINPIPE_BIN picks the pinpipe binary (default target/release/pinpipe, relative to the repo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
requirements="$here/requirements.txt"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if [[ " $* " == *" --smoke "* ]]; then
  grep -viE '^(pyspark|py4j)==' "$requirements" > "$venv/smoke-requirements.txt"
  requirements="$venv/smoke-requirements.txt"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="$venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$venv/bin/python"
exec "$venv/bin/python" "$here/batch.py" "$@"
