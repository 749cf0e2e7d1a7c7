#!/usr/bin/env bash
# cargo-lambda for pinpipe: install it, build the four functions for AWS Lambda, and smoke-test them under its
# Lambda emulator with the events in events/.
#
# usage: scripts/lambda.sh install          install cargo-lambda (it brings zig) into .services/lambda-venv (idempotent)
#        eval "$(scripts/lambda.sh path)"   put `cargo lambda` on PATH in this shell
#        eval "$(scripts/lambda.sh env)"    the environment an arm64 build needs (then `cd infra && sam build`)
#        scripts/lambda.sh build [ARGS...]  cargo lambda build --release --arm64 ARGS... of the four functions, in
#                                           that environment, timed, then each bootstrap's size and zipped size
#        scripts/lambda.sh sizes            just those sizes, of the last build
#        scripts/lambda.sh smoke            one function per trigger type (ingest-api: HTTP API, kafka-to-s3: MSK,
#                                           stream-processor: Kinesis, batch-transform: schedule) under
#                                           `cargo lambda watch`, invoked with `cargo lambda invoke --data-file
#                                           events/...`, answers and lake contents asserted. Needs moto and tansu
#                                           (scripts/services.sh start moto tansu); uses the debug binaries that
#                                           `cargo test --workspace --all-features` built (builds them if missing),
#                                           or those in PINPIPE_BIN_DIR. CI runs it from scripts/test.sh.
#
# Builds go to CARGO_TARGET_DIR (default: target/), the functions to <target dir>/lambda/<function>/bootstrap.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(dirname "$(dirname "$SELF")")
STATE="$ROOT/.services"
VENV="$STATE/lambda-venv"
CARGO_LAMBDA_VERSION=1.9.2
FUNCTIONS=(ingest-api kafka-to-s3 stream-processor batch-transform)

say() { printf 'lambda: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

installed() {
    [[ -x "$VENV/bin/cargo-lambda" ]] && "$VENV/bin/cargo-lambda" lambda --version 2>/dev/null |
        grep -q "^cargo-lambda $CARGO_LAMBDA_VERSION "
}

install() {
    if installed; then
        say "cargo-lambda $CARGO_LAMBDA_VERSION already installed in $VENV"
        return
    fi
    say "installing cargo-lambda $CARGO_LAMBDA_VERSION (with zig) into $VENV"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
    installed || die "cargo-lambda $CARGO_LAMBDA_VERSION is still not runnable from $VENV"
}

# The environment of a build for Lambda (arm64): librdkafka's OpenSSL vendored and cross-compiled (.cargo/config.toml
# picks the system's for local builds), and C compilers for the one C build that ignores cargo's target: librdkafka's
# own ./configure + make (rdkafka-sys without cmake) reads plain CC/CXX/AR and would otherwise build x86_64 objects
# that the arm64 link refuses ("rdkafka.o is incompatible with aarch64linux"). cc-rs builds (ring, aws-lc, OpenSSL,
# zlib, zstd) take the CC_aarch64_unknown_linux_gnu cargo-lambda sets, host builds HOST_CC. The wrappers call the zig
# that came with cargo-lambda.
cross_env() {
    local dir="$VENV/cross" tool
    mkdir -p "$dir"
    # make libs also links librdkafka.so, whose version script names a symbol the build leaves out: GNU ld lets that
    # pass, zig's lld only with --undefined-version. (The .so is not used; the static library is.)
    for tool in cc c++ ar ranlib; do
        case $tool in
            cc | c++) printf '#!/bin/sh\ncase " $* " in\n  *" -c "*) exec "%s" %s -target aarch64-linux-gnu "$@" ;;\n  *) exec "%s" %s -target aarch64-linux-gnu -Wl,--undefined-version "$@" ;;\nesac\n' \
                "$VENV/bin/python-zig" "$tool" "$VENV/bin/python-zig" "$tool" ;;
            *) printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$VENV/bin/python-zig" "$tool" ;;
        esac >"$dir/aarch64-linux-gnu-$tool"
        chmod +x "$dir/aarch64-linux-gnu-$tool"
    done
    echo "export OPENSSL_NO_VENDOR=0 HOST_CC=cc HOST_CXX=c++ CC=$dir/aarch64-linux-gnu-cc" \
        "CXX=$dir/aarch64-linux-gnu-c++ AR=$dir/aarch64-linux-gnu-ar RANLIB=$dir/aarch64-linux-gnu-ranlib"
    # zig itself on PATH too: cargo-lambda otherwise looks for it through `python3 -m ziglang`, which fails when another
    # venv's python3 comes first on PATH (sam's, for one).
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$VENV/bin/python-zig" >"$dir/zig"
    chmod +x "$dir/zig"
    echo "export PATH=\"$dir:$VENV/bin:\$PATH\""
}

target_dir() {
    if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
        echo "$CARGO_TARGET_DIR"
    else
        cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
    fi
}

sizes() {
    local dir bootstrap bytes zipped
    dir="$(target_dir)/lambda"
    printf '%-18s %12s %12s\n' function bootstrap zipped
    for function in "${FUNCTIONS[@]}"; do
        bootstrap="$dir/$function/bootstrap"
        [[ -f "$bootstrap" ]] || { printf '%-18s %12s\n' "$function" "not built"; continue; }
        bytes=$(stat -c %s "$bootstrap")
        # Deflated as `sam build` / `sam deploy` zip it (Python's zipfile).
        zipped=$(python3 - "$bootstrap" <<'PY'
import io, sys, zipfile
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.write(sys.argv[1], "bootstrap")
print(len(buffer.getvalue()))
PY
        )
        awk -v f="$function" -v b="$bytes" -v z="$zipped" -v a="$(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' ')" \
            'BEGIN { printf "%-18s %9.1f MB %9.1f MB   %s\n", f, b / 1048576, z / 1048576,
                     (a == "b700" ? "aarch64" : a == "3e00" ? "x86_64" : "machine " a) }'
    done
}

build() {
    install
    local args=("$@") started
    # Default: every function for Graviton (what template.yaml deploys).
    ((${#args[@]})) || args=(--arm64)
    if [[ " ${args[*]} " == *" --x86-64 "* || " ${args[*]} " == *x86_64* ]]; then
        export OPENSSL_NO_VENDOR=0 PATH="$VENV/bin:$PATH"   # the host's compilers build for x86_64 themselves
    else
        eval "$(cross_env)"
    fi
    started=$(date +%s)
    # The functions only, not the `pinpipe` CLI: `--bin` per function, from the workspace root, as `sam build` does.
    (cd "$ROOT" && cargo lambda build --release "${args[@]}" $(printf -- '--bin %s ' "${FUNCTIONS[@]}"))
    say "cargo lambda build --release ${args[*]}: $(($(date +%s) - started)) s"
    sizes
}

smoke() {
    install
    local started bin_dir python="$STATE/venv/bin/python"
    started=$(date +%s)
    [[ -x "$python" ]] || die "moto's venv ($STATE/venv) is missing: scripts/services.sh start moto tansu"
    "$ROOT/scripts/services.sh" status moto tansu >/dev/null ||
        die "moto and tansu must be running: scripts/services.sh start moto tansu"
    if [[ -z "${AWS_ENDPOINT_URL:-}" ]]; then
        eval "$("$ROOT/scripts/services.sh" env)"
    fi
    if [[ -n "${PINPIPE_BIN_DIR:-}" ]]; then
        bin_dir=$PINPIPE_BIN_DIR   # e.g. release binaries, to see their memory
    else
        # The binaries `cargo test` builds for the functions' tests; after scripts/test.sh's test step a no-op.
        (cd "$ROOT" && cargo test --workspace --all-features --locked --no-run --quiet)
        bin_dir="$(target_dir)/debug"
    fi
    for function in "${FUNCTIONS[@]}"; do
        [[ -x "$bin_dir/$function" ]] || die "no $bin_dir/$function after cargo test --no-run"
    done
    "$python" "$ROOT/scripts/lambda_smoke.py" "$bin_dir" "$VENV/bin/cargo-lambda"
    say "smoke test passed in $(($(date +%s) - started)) s"
}

usage() {
    sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
    install) install ;;
    path) echo "export PATH=\"$VENV/bin:\$PATH\"" ;;
    env) install >&2; cross_env ;;
    build) shift; build "$@" ;;
    sizes) sizes ;;
    smoke) smoke ;;
    *) usage ;;
esac
