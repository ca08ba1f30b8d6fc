#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# BLE ingest benchmark: N sensors (default 1,000) advertising once a second
# through D-Bus into `vigil serve`, for DURATION seconds (default 60).
# A private dbus-daemon; tests/bench/ble_load.py plays bluetoothd (one signal
# per advert, as bluetoothd sends them); every sensor is commissioned.
# Prints adverts emitted, frames accepted, frames lost (target 0), events the
# gateway had to drop, gateway CPU share (of one core) and RSS.
#
#   tests/bench/ble_bench.sh [VIGIL_BIN] [SENSORS] [DURATION]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VIGIL="${1:-${VIGIL_BIN:-$ROOT/build-ble/vigil}}"
SENSORS="${2:-1000}"
DURATION="${3:-60}"
PY=/usr/bin/python3
WORK="$(mktemp -d /tmp/vigil-ble-bench.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n "${BUS_PID:-}" ]] && kill "$BUS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

BUS_OUT=$(dbus-daemon --session --address="unix:path=$WORK/bus.sock" --fork --print-address=1 --print-pid=1)
BUS_ADDR=$(echo "$BUS_OUT" | sed -n 1p)
BUS_PID=$(echo "$BUS_OUT" | sed -n 2p)
export DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR"

PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/vigil.json" <<JSON
{"storage": {"path": "$WORK/vigil.db"},
 "http": {"address": "127.0.0.1", "port": $PORT, "tls": false},
 "ble": {"enabled": true, "discovery_silence_restart_s": 30}}
JSON

# Commission every sensor (plain BTHome, no key): one through the CLI (creates
# the database), the rest straight into the sensors table.
"$VIGIL" sensor add --address B0:00:00:00:00:00 --config "$WORK/vigil.json" >/dev/null
$PY - "$WORK/vigil.db" "$SENSORS" <<'PY'
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
con.executemany("INSERT OR IGNORE INTO sensors(address, name, format, commissioned_at) VALUES (?, ?, 'bthome', ?)",
                [("B0:00:00:00:%02X:%02X" % (i >> 8, i & 0xFF), "bench-%d" % i, now) for i in range(int(sys.argv[2]))])
con.commit()
PY
TOKEN=$("$VIGIL" token create --role viewer --config "$WORK/vigil.json")

$PY "$HERE/ble_load.py" bluez --sensors "$SENSORS" --duration "$DURATION" --out "$WORK/load.json" \
  > "$WORK/load.log" 2>&1 &
LOAD_PID=$!; PIDS+=("$LOAD_PID")
for _ in $(seq 100); do grep -q ready "$WORK/load.log" 2>/dev/null && break; sleep 0.1; done

"$VIGIL" serve --config "$WORK/vigil.json" > "$WORK/vigil.log" 2>&1 &
VIGIL_PID=$!; PIDS+=("$VIGIL_PID")
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
T0=$(date +%s.%N); C0=$(ticks "$VIGIL_PID"); L0=$(ticks "$LOAD_PID")
RSS_MAX=0
while kill -0 "$LOAD_PID" 2>/dev/null; do
  RSS=$(awk '/VmRSS/ {print $2}' "/proc/$VIGIL_PID/status")
  (( RSS > RSS_MAX )) && RSS_MAX=$RSS
  LC=$(ticks "$LOAD_PID" 2>/dev/null || echo "$L0"); LT=$(date +%s.%N)
  sleep 1
done
T1=$(date +%s.%N); C1=$(ticks "$VIGIL_PID")
sleep 3  # drain
curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/ble/health" > "$WORK/health.json"
kill -TERM "$VIGIL_PID"; wait "$VIGIL_PID" || true

$PY - "$WORK/load.json" "$WORK/health.json" "$T0" "$T1" "$C0" "$C1" "$HZ" "$RSS_MAX" "$L0" "$LC" "$LT" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
h = json.load(open(sys.argv[2]))
t0, t1, c0, c1, hz = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
rss = int(sys.argv[8]); l0, lc, lt = int(sys.argv[9]), int(sys.argv[10]), float(sys.argv[11])
emitted = load["emitted"]
accepted = h["frames_accepted"]
rejected = h.get("frames_rejected", {})
cpu = (c1 - c0) / hz / (t1 - t0) * 100
print("BLE benchmark: %d sensors x 1 advert/s for %.0f s" % (load["sensors"], load["duration_s"]))
print("  adverts emitted (D-Bus signals)   %d (%.0f/s; generator late by up to %d ms)" %
      (emitted, emitted / load["duration_s"], load["late_ms_max"]))
print("  adverts received by the gateway   %d" % h["adverts_total"])
print("  frames decoded and ingested       %d" % accepted)
print("  frames lost                       %d" % (emitted - accepted))
print("  frames rejected by the decoder    %s" % (json.dumps(rejected) if rejected else "none"))
print("  events dropped (queue full)       %d" % h.get("events_dropped", 0))
print("  readings rejected by ingest       %d" % sum(x.get("readings_rejected", 0) for x in h.get("sensors", [])))
print("  gateway CPU                       %.1f %% of one core" % cpu)
print("  gateway RSS (max)                 %.1f MiB" % (rss / 1024))
print("  load generator CPU                %.1f %% of one core" % ((lc - l0) / hz / max(lt - t0, 1e-9) * 100))
PY
