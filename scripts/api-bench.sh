#!/usr/bin/env bash
# The API under load (issue 15), on loopback with wrk: the release server on SQLite and, when
# it answers, on PostgreSQL; one organization with SMALL tables (default 1,000), another
# with BIG (default 100,000); each endpoint driven for DURATION seconds by 64 connections.
# Prints req/s, p50, p99, each endpoint's ratio to /healthz, the server's peak RSS, and the
# issue's targets as pass/fail. Figures only: nothing here is a test.
#
#   scripts/api-bench.sh            # or: make bench
#   SMALL=1000 BIG=20000 DURATION=5 scripts/api-bench.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
SMALL="${SMALL:-1000}"; BIG="${BIG:-100000}"; DURATION="${DURATION:-10}"
command -v wrk >/dev/null || { echo "api-bench: wrk is missing (Debian: apt-get install wrk)" >&2; exit 1; }
cargo build -q --release -p gateway
bin="$root/target/release/gateway"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cat >"$work/patch.lua" <<'LUA'
-- PATCH of a new table each request, all under one connection.
local n = 0
local id = tostring(math.random(1, 1e9))
request = function()
  n = n + 1
  return wrk.format("PATCH", "/connections/S3/tables/bench-" .. id .. "-" .. n .. "/", nil,
    '{"resource": "item"}')
end
LUA

# One wrk run: prints "req/s p50_ms p99_ms".
drive() { # url [lua]
    local out
    if [ -n "${2:-}" ]; then
        out=$(wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -s "$2" "$1")
    else
        out=$(wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$1")
    fi
    if echo "$out" | grep -q "Non-2xx"; then
        echo "api-bench: $1 answered non-2xx: $(echo "$out" | grep Non-2xx)" >&2
    fi
    python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"{rps:.0f} {ms('50'):.2f} {ms('99'):.2f}")
PY
}

seed() { # base org count
    python3 - "$1" "$2" "$3" "$TOKEN_SEED" <<'PY'
import http.client, json, sys, threading
base, org, count, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host, port = base.split("//")[1].split(":")
def conn():
    return http.client.HTTPConnection(host, int(port), timeout=30)
h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
c = conn()
c.request("PUT", "/connections/S3/", json.dumps({"credentials": {"aws_access_key_id": "AKIABENCHBENCHBENCH1", "aws_secret_access_key": "bench/secret/bench/secret/bench/secret00"}}), h)
r = c.getresponse(); r.read(); assert r.status == 200, r.status
def work(start, step):
    c = conn()
    for i in range(start, count, step):
        c.request("PATCH", f"/connections/S3/tables/t-{i:07d}/", '{"resource": "item"}', h)
        r = c.getresponse(); r.read()
        assert r.status == 200, (r.status, i)
threads = [threading.Thread(target=work, args=(k, 8)) for k in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
PY
}

run_backend() { # name database_url
    local name="$1" url="$2" port data
    port=$(free_port); data="$work/$name"; mkdir -p "$data"
    GATEWAY_DATA_DIR="$data" GATEWAY_DATABASE_URL="$url" GATEWAY_BIND="127.0.0.1:$port" GATEWAY_LOG=error \
        GATEWAY_JWT_SECRET=bench-secret-bench-secret-bench-secret "$bin" serve >"$data/serve.log" 2>&1 &
    pid=$!
    local base="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do curl -s -o /dev/null "$base/healthz" && break; sleep 0.1; done
    tok() { GATEWAY_DATA_DIR="$data" GATEWAY_JWT_SECRET=bench-secret-bench-secret-bench-secret "$bin" token --org "$1" --role manager --ttl 86400 2>/dev/null; }
    local t0=$SECONDS
    TOKEN_SEED=$(tok small) seed "$base" small "$SMALL"
    TOKEN_SEED=$(tok big) seed "$base" big "$BIG"
    echo "## $name: seeded $SMALL + $BIG tables in $((SECONDS - t0)) s"
    local small_last=$(( (SMALL + 63) / 64 )) big_last=$(( (BIG + 63) / 64 ))
    TOKEN=$(tok small)
    local health get conn f1 flast patch bigfirst biglast
    health=$(drive "$base/healthz")
    get=$(drive "$base/connections/S3/tables/t-0000500/")
    conn=$(drive "$base/connections/S3/")
    f1=$(drive "$base/tables/?amt=64&page=1")
    flast=$(drive "$base/tables/?amt=64&page=$small_last")
    TOKEN=$(tok big)
    bigfirst=$(drive "$base/tables/?amt=64&page=1")
    biglast=$(drive "$base/tables/?amt=64&page=$big_last")
    TOKEN=$(tok patcher)
    TOKEN_SEED=$TOKEN seed "$base" patcher 1
    patch=$(drive "$base" "$work/patch.lua")
    local rss; rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    python3 - "$name" "$health" "$get" "$conn" "$f1" "$flast" "$bigfirst" "$biglast" "$patch" "$rss" "$SMALL" "$BIG" <<'PY'
import sys
name, *rows, rss, small, big = sys.argv[1:]
labels = ["/healthz", "GET table", "GET connection", f"filter amt=64, page 1, {small} tables",
          f"filter amt=64, last page, {small} tables", f"filter amt=64, page 1, {big} tables",
          f"filter amt=64, last page, {big} tables", "PATCH, new tables, one connection"]
vals = [tuple(float(x) for x in r.split()) for r in rows]
floor = vals[0][0]
print(f"| {name} | req/s | p50 ms | p99 ms | of /healthz |")
print("|---|---|---|---|---|")
for l, (rps, p50, p99) in zip(labels, vals):
    print(f"| {l} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {rps / floor:.3f} |")
print(f"\npeak RSS: {rss} MiB\n")
pg = name == "postgresql"
targets = [
    ("GET table >= %.2f of /healthz" % (0.35 if pg else 0.5), vals[1][0] / floor >= (0.35 if pg else 0.5)),
    ("PATCH >= %.2f of /healthz" % (0.1 if pg else 0.2), vals[7][0] / floor >= (0.1 if pg else 0.2)),
    (f"filter last-page p99 at {big} <= 1.5x at {small}", vals[6][2] <= 1.5 * vals[4][2]),
    ("peak RSS <= 64 MiB", int(rss) <= 64),
]
for t, ok in targets:
    print(f"- {'PASS' if ok else 'MISS'}: {t}")
print()
PY
}

echo "# API under load: wrk -t2 -c64 -d${DURATION}s on loopback, $(nproc) cores, $(date -u +%F)"
run_backend sqlite "sqlite://$work/sqlite/gateway.sqlite"
pg="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gateway_bench}"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v psql >/dev/null; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS gateway_bench" -c "CREATE DATABASE gateway_bench" >/dev/null
    run_backend postgresql "$pg"
else
    echo "## postgresql: not answering on 127.0.0.1:5432; skipped"
fi
echo "Not measured here yet: /healthz p99 under 200 credential tests waiting 2 s on their provider."
