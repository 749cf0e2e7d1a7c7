#!/usr/bin/env bash
# Local services for pinpipe's tests and local runs, all listening on 127.0.0.1 only:
#   moto   S3, Kinesis and EventBridge on http://127.0.0.1:${MOTO_PORT:-5000} (from its own venv, run by
#          moto_server.py, which makes its Kinesis shards safe for concurrent puts)
#   tansu  a Kafka-protocol broker on tcp://127.0.0.1:${TANSU_PORT:-9092} (SQLite storage)
#
# usage: scripts/services.sh install [SERVICE...]   install (idempotent); default: moto
#        scripts/services.sh start [SERVICE...]     install if needed, start in the background, wait until
#                                                   it answers (idempotent); default: moto
#        scripts/services.sh stop [SERVICE...]      stop; default: every service
#        scripts/services.sh status [SERVICE...]    report; exits 3 unless all are running; default: every service
#        eval "$(scripts/services.sh env)"          the variables that point the AWS SDK at moto and the
#                                                   tests at tansu (PINPIPE_TEST_KAFKA)
#
# State (venv, logs, pid files, tansu's database) lives in .services/ at the repository root.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(dirname "$(dirname "$SELF")")
STATE="$ROOT/.services"
HOST=127.0.0.1
SERVICES=(moto tansu)
DEFAULT_SERVICES=(moto)
START_TIMEOUT_SECONDS=${START_TIMEOUT_SECONDS:-60}

MOTO_VERSION=5.2.5
MOTO_PORT=${MOTO_PORT:-5000}
VENV="$STATE/venv"

TANSU_VERSION=0.6.0
TANSU_PORT=${TANSU_PORT:-9092}
TANSU_METRICS_PORT=${TANSU_METRICS_PORT:-9100}

say() { printf 'services: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for port_variable in MOTO_PORT TANSU_PORT TANSU_METRICS_PORT; do
    port=${!port_variable}
    if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65535)); then
        die "$port_variable must be a TCP port number (1-65535), not '$port'"
    fi
done

# --- moto -----------------------------------------------------------------------------------------

moto_installed() {
    [[ -x "$VENV/bin/moto_server" ]] && "$VENV/bin/python" - "$MOTO_VERSION" <<'EOF' 2>/dev/null
import importlib.metadata as metadata, sys
import flask, flask_cors  # noqa: F401  (the moto dashboard and CORS need them)
sys.exit(metadata.version("moto") != sys.argv[1])
EOF
}

install_moto() {
    if moto_installed; then
        say "moto $MOTO_VERSION already installed in $VENV"
        return
    fi
    say "installing moto $MOTO_VERSION into $VENV"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet "moto[s3,kinesis,events]==$MOTO_VERSION" flask flask-cors
    moto_installed || die "moto $MOTO_VERSION is still not importable from $VENV"
}

moto_port() { echo "$MOTO_PORT"; }

run_moto() {
    # moto_server with a lock around each Kinesis shard: its own numbering races (see the launcher).
    exec "$VENV/bin/python" "$(dirname "$SELF")/moto_server.py" -H "$HOST" -p "$MOTO_PORT"
}

# --- tansu ----------------------------------------------------------------------------------------

install_tansu() {
    if command -v tansu >/dev/null; then
        say "tansu already installed at $(command -v tansu)"
        return
    fi
    say "building tansu $TANSU_VERSION with cargo (takes several minutes)"
    cargo install --locked --debug tansu --version "$TANSU_VERSION" --no-default-features --features libsql
}

tansu_port() { echo "$TANSU_PORT"; }

run_tansu() {
    mkdir -p "$STATE/tansu"
    cd "$STATE/tansu"
    # Nothing may leave loopback: no OpenTelemetry export, and the metrics listener that some tansu
    # releases open on every interface stays on 127.0.0.1 too.
    exec env -u OTEL_EXPORTER_OTLP_ENDPOINT PROMETHEUS_LISTENER_URL="tcp://$HOST:$TANSU_METRICS_PORT" \
        tansu \
        --storage-engine sqlite://tansu.db \
        --listener-url "tcp://$HOST:$TANSU_PORT" \
        --advertised-listener-url "tcp://$HOST:$TANSU_PORT"
}

# --- any service ----------------------------------------------------------------------------------

pid_file() { echo "$STATE/$1.pid"; }
log_file() { echo "$STATE/$1.log"; }

# The pid of a running service started by this script; fails when it is not running.
running_pid() {
    local pid
    pid=$(cat "$(pid_file "$1")" 2>/dev/null) || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

start_one() {
    local name=$1 port pid log
    port=$("${name}_port")
    if pid=$(running_pid "$name"); then
        say "$name already running (pid $pid) on $HOST:$port"
        return
    fi
    port_open "$port" && die "$HOST:$port is taken by another process: stop it or choose another port for $name"
    "install_$name"
    mkdir -p "$STATE"
    log=$(log_file "$name")
    # A session of its own, so the service outlives this shell and its terminal. (A background job of a
    # script is no process-group leader, so setsid needs no fork and $! is the service itself.)
    setsid "$BASH" "$SELF" __run "$name" >"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$(pid_file "$name")"
    local deadline=$((SECONDS + START_TIMEOUT_SECONDS))
    until port_open "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$(pid_file "$name")"
            tail -n 20 "$log" >&2
            die "$name exited while starting; log: $log"
        fi
        ((SECONDS < deadline)) || { stop_one "$name"; die "$name did not answer on $HOST:$port within ${START_TIMEOUT_SECONDS}s; log: $log"; }
        sleep 0.2
    done
    say "$name running (pid $pid) on $HOST:$port; log: $log"
}

stop_one() {
    local name=$1 pid
    if ! pid=$(running_pid "$name"); then
        rm -f "$(pid_file "$name")"
        say "$name not running"
        return
    fi
    # The service leads its own process group (see start_one): end the group, helpers included.
    kill -- "-$pid" 2>/dev/null || kill "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid"
    fi
    rm -f "$(pid_file "$name")"
    say "$name stopped (pid $pid)"
}

# Prints one line per service, counting those not running in STOPPED.
STOPPED=0
status_one() {
    local name=$1 pid
    if pid=$(running_pid "$name"); then
        echo "$name: running (pid $pid) on $HOST:$("${name}_port"), log $(log_file "$name")"
    else
        echo "$name: stopped"
        STOPPED=$((STOPPED + 1))
    fi
}

print_env() {
    echo "export AWS_ENDPOINT_URL=http://$HOST:$MOTO_PORT AWS_REGION=us-east-1" \
        "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true"
    echo "export PINPIPE_TEST_KAFKA=$HOST:$TANSU_PORT"
}

usage() {
    sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# Runs `<action>_one` for each service named (all checked first), or for the defaults when none is.
for_each() {
    local action=$1 defaults=$2 name
    shift 2
    local -a names=("$@")
    ((${#names[@]})) || read -r -a names <<<"$defaults"
    for name in "${names[@]}"; do
        [[ " ${SERVICES[*]} " == *" $name "* ]] || die "unknown service '$name' (known: ${SERVICES[*]})"
    done
    for name in "${names[@]}"; do
        "${action}_one" "$name"
    done
}

install_one() { "install_$1"; }

main() {
    local command=${1:-}
    shift || true
    case "$command" in
        install | start) for_each "$command" "${DEFAULT_SERVICES[*]}" "$@" ;;
        stop) for_each stop "${SERVICES[*]}" "$@" ;;
        status)
            for_each status "${SERVICES[*]}" "$@"
            ((STOPPED == 0)) || exit 3
            ;;
        env) print_env ;;
        __run) "run_$1" ;; # internal: the detached process `start` launches
        *) usage ;;
    esac
}

main "$@"
