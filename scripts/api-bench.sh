#!/usr/bin/env bash
# The API under load (issue 15), on loopback with wrk: the release server on SQLite and, when
# it answers, on PostgreSQL; one organization with SMALL tables (default 1,000), another
# with BIG (default 100,000); each endpoint driven for DURATION seconds by 64 connections.
# Prints req/s, p50, p99, each endpoint's ratio to /healthz, the server's peak RSS, and the
# issue's targets as pass/fail. Figures only: nothing here is a test.
#
#   scripts/api-bench.sh            # or: make bench
#   SMALL=1000 BIG=20000 DURATION=5 scripts/api-bench.sh
#   PG=0 scripts/api-bench.sh       # SQLite only (seeding 100k tables on PostgreSQL takes minutes)
#   SQLITE=0 SLOW=0 BIG=20000 scripts/api-bench.sh   # PostgreSQL only, smaller
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
SMALL="${SMALL:-1000}"; BIG="${BIG:-100000}"; DURATION="${DURATION:-10}"
# The table GET reads (and the floors read): one the small organization has.
MIDDLE="t-$(printf %07d $((SMALL / 2)))"
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

# One pgbench run of a script file: prints its tps (prepared statements, as a pooled driver
# with a statement cache runs them).
pgbench_tps() { # url clients script
    pgbench -n -M prepared -c "$2" -j 2 -T "$DURATION" -f "$3" "$1" 2>/dev/null \
        | awk '/^tps/ {print int($3); exit}'
}

# The database floors: pgbench on PostgreSQL (with the pool's connections and with 64), a
# raw read and write loop on SQLite with the gateway's own settings; printed and kept in
# $work/floors-<name> for the table below.
floors() { # name url data
    local out="$work/floors-$1"
    if [ "$1" = postgresql ]; then
        if ! command -v pgbench >/dev/null; then echo "floors: pgbench missing (postgresql-client): skipped"; : >"$out"; return; fi
        cat >"$work/read.sql" <<'SQL'
SELECT * FROM connection_tables WHERE organization = 'small' AND connection = 'S3' AND name = 'MIDDLE';
SQL
        sed -i "s/MIDDLE/$MIDDLE/" "$work/read.sql"
        cat >"$work/insert.sql" <<'SQL'
INSERT INTO bench_floor (organization, name, body) VALUES ('floor', md5(random()::text || clock_timestamp()::text), '{"resource": "item"}');
SQL
        psql -q "$2" -c "CREATE TABLE IF NOT EXISTS bench_floor (organization text, name text, body text, PRIMARY KEY (organization, name))" >/dev/null
        local pool="${GATEWAY_DB_POOL_SIZE:-8}"
        echo "read_pool $(pgbench_tps "$2" "$pool" "$work/read.sql")" >"$out"
        echo "read_64 $(pgbench_tps "$2" 64 "$work/read.sql")" >>"$out"
        echo "insert_pool $(pgbench_tps "$2" "$pool" "$work/insert.sql")" >>"$out"
        echo "insert_64 $(pgbench_tps "$2" 64 "$work/insert.sql")" >>"$out"
        psql -q "$2" -c "DROP TABLE bench_floor" >/dev/null
    else
        python3 - "$3/gateway.sqlite" "$DURATION" "$MIDDLE" >"$out" <<'PY'
import sqlite3, sys, time, os
path, seconds, middle = sys.argv[1], float(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(path, isolation_level=None)
c.executescript("PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA journal_mode = WAL;")
q = "SELECT * FROM connection_tables WHERE organization = ? AND connection = ? AND name = ?"
n, end = 0, time.time() + seconds
while time.time() < end:
    for _ in range(100):
        assert c.execute(q, ("small", "S3", middle)).fetchall(), "the table read exists"
    n += 100
print("read_pool", int(n / seconds))
c.execute("CREATE TABLE IF NOT EXISTS bench_floor (organization TEXT, name TEXT, body TEXT, PRIMARY KEY (organization, name))")
n, end = 0, time.time() + seconds
while time.time() < end:
    c.execute("BEGIN"); c.execute("INSERT INTO bench_floor VALUES ('floor', ?, '{}')", (os.urandom(8).hex(),)); c.execute("COMMIT")
    n += 1
print("insert_pool", int(n / seconds))
c.execute("DROP TABLE bench_floor")
PY
    fi
    sed 's/^/floor: /' "$out"
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
    local health get conn f1 flast patch bigfirst biglast bigcursor cursor
    health=$(drive "$base/healthz")
    get=$(drive "$base/connections/S3/tables/$MIDDLE/")
    conn=$(drive "$base/connections/S3/")
    f1=$(drive "$base/tables/?amt=64&page=1")
    flast=$(drive "$base/tables/?amt=64&page=$small_last")
    TOKEN=$(tok big)
    bigfirst=$(drive "$base/tables/?amt=64&page=1")
    biglast=$(drive "$base/tables/?amt=64&page=$big_last")
    # The same last page reached by the cursor the page before answered (a seek, no offset).
    cursor=$(curl -s -H "Authorization: Bearer $TOKEN" "$base/tables/?amt=64&page=$((big_last - 1))" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"])')
    bigcursor=$(drive "$base/tables/?amt=64&cursor=$cursor")
    TOKEN=$(tok patcher)
    TOKEN_SEED=$TOKEN seed "$base" patcher 1
    patch=$(drive "$base" "$work/patch.lua")
    local rss; rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    # The database's own floor, measured now on the same rows with the gateway stopped
    # (issue 28): the same primary-key read and a one-row insert per transaction.
    floors "$name" "$url" "$data"
    python3 - "$name" "$health" "$get" "$conn" "$f1" "$flast" "$bigfirst" "$biglast" "$patch" "$bigcursor" "$rss" "$SMALL" "$BIG" "$work/floors-$name" <<'PY'
import sys
name, *rows, rss, small, big, floors_file = sys.argv[1:]
floors = {}
for line in open(floors_file):
    k, _, v = line.partition(" ")
    if v.strip():
        floors[k] = float(v)
labels = ["/healthz", "GET table", "GET connection", f"filter amt=64, page 1, {small} tables",
          f"filter amt=64, last page, {small} tables", f"filter amt=64, page 1, {big} tables",
          f"filter amt=64, last page, {big} tables", "PATCH, new tables, one connection",
          f"filter amt=64, last page by next_cursor, {big} tables"]
vals = [tuple(float(x) for x in r.split()) for r in rows]
floor = vals[0][0]
print(f"| {name} | req/s | p50 ms | p99 ms | of /healthz |")
print("|---|---|---|---|---|")
for l, (rps, p50, p99) in zip(labels, vals):
    print(f"| {l} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {rps / floor:.3f} |")
print(f"\npeak RSS: {rss} MiB\n")
# Each API line against its database's own floor, measured in this run.
if floors:
    print(f"| {name}: the database's floor | floor/s | API req/s | API of floor |")
    print("|---|---|---|---|")
    for label, api, key in [("GET table vs the same primary-key read", vals[1][0], "read_pool"),
                            ("GET table vs the read with 64 connections", vals[1][0], "read_64"),
                            ("PATCH vs a one-row insert per transaction", vals[7][0], "insert_pool"),
                            ("PATCH vs the insert with 64 connections", vals[7][0], "insert_64")]:
        if key in floors:
            print(f"| {label} ({key}) | {floors[key]:.0f} | {api:.0f} | {api / floors[key]:.3f} |")
    print()
pg = name == "postgresql"
targets = [
    ("GET table >= %.2f of /healthz" % (0.35 if pg else 0.5), vals[1][0] / floor >= (0.35 if pg else 0.5)),
    ("PATCH >= %.2f of /healthz" % (0.1 if pg else 0.2), vals[7][0] / floor >= (0.1 if pg else 0.2)),
    (f"filter last-page p99 at {big} <= 1.5x at {small} (page numbers)", vals[6][2] <= 1.5 * vals[4][2]),
    (f"filter last-page p99 at {big} <= 1.5x at {small} (next_cursor)", vals[8][2] <= 1.5 * vals[4][2]),
    ("peak RSS <= 64 MiB", int(rss) <= 64),
]
if pg and "read_pool" in floors:
    targets.append(("GET table >= 0.5 of pgbench's read floor (issue 28)", vals[1][0] / floors["read_pool"] >= 0.5))
if pg and "insert_pool" in floors:
    targets.append(("PATCH >= 0.5 of pgbench's insert floor (issue 28)", vals[7][0] / floors["insert_pool"] >= 0.5))
for t, ok in targets:
    print(f"- {'PASS' if ok else 'MISS'}: {t}")
print()
PY
}

echo "# API under load: wrk -t2 -c64 -d${DURATION}s on loopback, $(nproc) cores, $(date -u +%F)"
if [ "${SQLITE:-1}" = 0 ]; then echo "## sqlite: skipped (SQLITE=0)"; else
    run_backend sqlite "sqlite://$work/sqlite/gateway.sqlite"
fi
pg="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gateway_bench}"
if [ "${PG:-1}" = 0 ]; then
    echo "## postgresql: skipped (PG=0)"
elif pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v psql >/dev/null; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS gateway_bench" -c "CREATE DATABASE gateway_bench" >/dev/null
    run_backend postgresql "$pg"
else
    echo "## postgresql: not answering on 127.0.0.1:5432; skipped"
fi
# /healthz while 200 credential tests wait 2 s each on their provider (a local Braze that
# answers late), beside /healthz idle: a provider that hangs must not slow anyone else.
slow_provider() {
    local port pport data base
    port=$(free_port); pport=$(free_port); data="$work/slow"; mkdir -p "$data"
    python3 - "$pport" >"$data/provider.log" 2>&1 <<'PY' &
import http.server, json, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(2)
        body = json.dumps({"catalogs": [], "message": "success"}).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
PY
    local provider=$!
    GATEWAY_DATA_DIR="$data" GATEWAY_BIND="127.0.0.1:$port" GATEWAY_LOG=error \
        GATEWAY_JWT_SECRET=bench-secret-bench-secret-bench-secret GATEWAY_OUTBOUND_ALLOW_PRIVATE=true \
        GATEWAY_PROVIDER_BRAZE_URL="http://127.0.0.1:$pport" GATEWAY_CONNECTOR_CONCURRENCY=256 \
        GATEWAY_ORG_CONNECTOR_CONCURRENCY=256 GATEWAY_ORG_TESTS_PER_MINUTE=1000000 "$bin" serve >"$data/serve.log" 2>&1 &
    pid=$!
    base="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do curl -s -o /dev/null "$base/healthz" && break; sleep 0.1; done
    TOKEN=$(GATEWAY_DATA_DIR="$data" GATEWAY_JWT_SECRET=bench-secret-bench-secret-bench-secret "$bin" token --org slow --role manager 2>/dev/null)
    local idle busy
    idle=$(drive "$base/healthz")
    python3 - "$base" "$TOKEN" "$((DURATION + 4))" >"$data/tests.log" 2>&1 <<'PY' &
import http.client, json, sys, threading, time
base, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
host, port = base.split("//")[1].split(":")
body = json.dumps({"credentials": {"api_key": "bench-key-0123456789abcdef", "instance": "US-01"}})
h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
end = time.time() + seconds
done = []
def loop():
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    while time.time() < end:
        c.request("POST", "/connections/BRAZE/test/", body, h)
        r = c.getresponse(); r.read(); done.append(r.status)
threads = [threading.Thread(target=loop) for _ in range(200)]
[t.start() for t in threads]; [t.join() for t in threads]
print(len(done), "tests,", sorted(set(done)))
PY
    local tests=$!
    sleep 3
    busy=$(drive "$base/healthz")
    wait "$tests" || true
    kill "$pid" "$provider" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""
    python3 - "$idle" "$busy" "$(cat "$data/tests.log")" <<'PY'
import sys
idle, busy = (tuple(float(x) for x in a.split()) for a in sys.argv[1:3])
print("## /healthz while 200 credential tests wait 2 s on their provider (" + sys.argv[3].strip() + ")")
print("| | req/s | p50 ms | p99 ms |\n|---|---|---|---|")
print(f"| idle | {idle[0]:.0f} | {idle[1]:.2f} | {idle[2]:.2f} |")
print(f"| 200 slow tests | {busy[0]:.0f} | {busy[1]:.2f} | {busy[2]:.2f} |")
ratio = busy[2] / idle[2]
print(f"\n- {'PASS' if ratio <= 3 else 'MISS'}: /healthz p99 under the slow tests <= 3x idle ({ratio:.1f}x)")
PY
}
if [ "${SLOW:-1}" != 0 ]; then slow_provider; fi
