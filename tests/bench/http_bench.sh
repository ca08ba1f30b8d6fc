#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# HTTP benchmark of `vigil serve` (docs/benchmarks.md, section "HTTP"):
#  1. seeds a database with a year of 10-minute data for 100 positions
#     (bench_http_seed; cached in $BENCH_DIR between runs);
#  2. wrk, 50 connections: a 30-day downsampled series (500 buckets) and the
#     fleet overview, with a bearer token — p50/p99 latency and req/s;
#  3. the dashboard's first load: bytes transferred with gzip;
#  4. static files: vigil vs nginx serving the same web/public, same run.
# Usage: tests/bench/http_bench.sh [BUILD_DIR]   (env: DURATION=10s CONNS=50)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${BUILD_DIR:-$ROOT/build}}
BIN=$BUILD/vigil
SEED=$BUILD/tests/bench_http_seed
DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
BENCH_DIR=${BENCH_DIR:-/tmp/vigil-http-bench}
mkdir -p "$BENCH_DIR"
command -v wrk >/dev/null || { echo "wrk is not installed"; exit 1; }
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

DB=$BENCH_DIR/bench.db
# Reseed when the seeder (and so the store's schema) is newer than the cache.
if [ ! -f "$BENCH_DIR/seeded" ] || [ "$SEED" -nt "$BENCH_DIR/seeded" ]; then
  rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.created"  # .created: else the store refuses a missing database
  "$SEED" "$DB" 100 365 | tee "$BENCH_DIR/seed.txt"
  touch "$BENCH_DIR/seeded"
fi
PORT=$(port)
cat >"$BENCH_DIR/vigil.json" <<JSON
// benchmark configuration
{ "storage": { "path": "$DB" },
  "http": { "address": "127.0.0.1", "port": $PORT, "tls": false },
  "analytics": { "enabled": false },
  "gateway": { "log_level": "warn" } }
JSON
TOKEN=$("$BIN" token create --role viewer --name bench --config "$BENCH_DIR/vigil.json")
# A user whose logins make the storm below (each login one 32 MiB scrypt).
printf 'bench-storm-password\n' | "$BIN" user add storm --role viewer --config "$BENCH_DIR/vigil.json" >/dev/null 2>&1 || true
"$BIN" serve --config "$BENCH_DIR/vigil.json" >"$BENCH_DIR/vigil.log" 2>&1 &
VPID=$!
NPID=
cleanup() { kill "$VPID" 2>/dev/null || true; [ -n "$NPID" ] && kill "$NPID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break; sleep 0.1; done

NOW=$(($(date +%s) * 1000))
FROM=$((NOW - 30 * 86400 * 1000))
SERIES="/api/v1/series/1?from=$FROM&to=$NOW&points=500"
AUTH="Authorization: Bearer $TOKEN"
N=$(curl -sf -H "$AUTH" "http://127.0.0.1:$PORT$SERIES" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["ts"]), sum(d["count"]))')
echo "30-day series: $N (buckets, raw points covered)"

report() {  # name, wrk output file
  /usr/bin/python3 - "$1" "$2" <<'PY'
import re, sys
name, path = sys.argv[1], sys.argv[2]
t = open(path).read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
lat = dict((p, ms(v, u)) for p, v, u in re.findall(r"\s(50|75|90|99)%\s+([\d.]+)(us|ms|s)", t))
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
err = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%-34s p50 %7.2f ms  p99 %7.2f ms  %9s req/s%s" % (name, lat.get("50", -1), lat.get("99", -1), rps,
      ("  NON-2xx: " + err.group(1)) if err else ""))
PY
}
run_wrk() {  # name, url, extra header
  wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "$3" "$2" >"$BENCH_DIR/wrk.txt" 2>&1
  report "$1" "$BENCH_DIR/wrk.txt"
}
echo "--- wrk: $CONNS connections, $DURATION, 2 threads ($(nproc) cores shared)"
run_wrk "vigil 30-day series (500 buckets)" "http://127.0.0.1:$PORT$SERIES" "$AUTH"
run_wrk "vigil fleet overview (100 pos.)" "http://127.0.0.1:$PORT/api/v1/fleet" "$AUTH"

# The same two requests while 10 logins/s run (issue 13): a login's scrypt
# runs on the worker pool, never on an io thread. (tests/bench/
# login_storm_bench.sh adds a checkpoint every second on a live gateway.)
echo "--- wrk again during a login storm: ${LOGINS_PER_S:-10} logins/s (right password, one a second from each of 10 client addresses: the per-address limit)"
/usr/bin/python3 - "$PORT" "${LOGINS_PER_S:-10}" "$BENCH_DIR/storm.txt" <<'PY' &
import http.client, json, sys, threading, time
port, rate, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
halt, counts, lock = time.time() + 3600, {}, threading.Lock()
def client(i):
    period, t0, n = 10 / rate, time.monotonic(), 0
    while True:
        due = t0 + n * period
        if due > time.monotonic(): time.sleep(due - time.monotonic())
        n += 1
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.%d" % (3 + i), 0))
            c.request("POST", "/api/v1/auth/login", json.dumps({"name": "storm", "password": "bench-storm-password"}),
                      {"Content-Type": "application/json"})
            st = c.getresponse().status
            c.close()
        except OSError as e:
            st = type(e).__name__
        with lock:
            counts[st] = counts.get(st, 0) + 1
            open(out, "w").write(json.dumps({str(k): v for k, v in counts.items()}))
for i in range(10): threading.Thread(target=client, args=(i,), daemon=True).start()
time.sleep(3600)
PY
SPID=$!
sleep 1
run_wrk "vigil 30-day series, login storm" "http://127.0.0.1:$PORT$SERIES" "$AUTH"
run_wrk "vigil fleet overview, login storm" "http://127.0.0.1:$PORT/api/v1/fleet" "$AUTH"
kill "$SPID" 2>/dev/null || true
echo "  logins answered during the storm (status: count): $(cat "$BENCH_DIR/storm.txt" 2>/dev/null)"

echo "--- dashboard first load (gzip, bytes transferred)"
TOTAL=0
for f in $(cd "$ROOT/web/public" && find . -type f | sed 's|^\./|/|' | sort); do
  B=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT$f")
  H=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT$f" | awk 'BEGIN{IGNORECASE=1} /^content-length/ {gsub("\r",""); print $2}')
  TOTAL=$((TOTAL + B + 250))  # + ~250 bytes of response headers each
  printf '  %-28s %6s bytes\n' "$f" "$B"
done
echo "  total (bodies + ~250 B headers each): $TOTAL bytes (target < 307200)"

echo "--- static files: vigil vs nginx (same files, gzip)"
NGX=$BENCH_DIR/nginx
mkdir -p "$NGX/logs" "$NGX/tmp"
# nginx gets the same files precompressed (gzip_static), as vigil embeds
# them: both then only send bytes; neither compresses per request.
rm -rf "$NGX/root" && cp -r "$ROOT/web/public" "$NGX/root"
find "$NGX/root" -type f ! -name '*.gz' -exec gzip -9 -k -n {} \;
NPORT=$(port)
cat >"$NGX/nginx.conf" <<NG
worker_processes 1;
error_log $NGX/logs/error.log;
pid $NGX/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  include /etc/nginx/mime.types;
  client_body_temp_path $NGX/tmp; proxy_temp_path $NGX/tmp; fastcgi_temp_path $NGX/tmp; uwsgi_temp_path $NGX/tmp; scgi_temp_path $NGX/tmp;
  gzip_static on;
  etag on;
  server { listen 127.0.0.1:$NPORT; root $NGX/root; }
}
NG
nginx -c "$NGX/nginx.conf" -p "$NGX" -g 'daemon off;' >"$NGX/logs/out.log" 2>&1 &
NPID=$!
sleep 0.5
run_wrk "vigil  /chart.js (gzip)" "http://127.0.0.1:$PORT/chart.js" "Accept-Encoding: gzip"
run_wrk "nginx  /chart.js (gzip_static, 1 worker)" "http://127.0.0.1:$NPORT/chart.js" "Accept-Encoding: gzip"
echo "references: wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2), $(nginx -v 2>&1 | sed 's/.*: //'), vigil $("$BIN" version | cut -d' ' -f2), $(nproc) cores, $(uname -r)"
