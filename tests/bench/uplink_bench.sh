#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Uplink benchmark (docs/benchmarks.md, "Uplink"):
#  1. bytes sent upstream per position per day by `vigil demo` (8 metrics
#     every 10 min + an hourly 8192-sample waveform per position), measured
#     at a subscriber over a real mosquitto with mutual TLS, against the raw
#     readings and waveforms the gateway keeps locally; and the same with
#     send_raw_readings on (what shipping everything would cost);
#  2. outbox drain rate (messages/s) of a 5,000-message backlog to the local
#     broker over TLS, against mosquitto_pub publishing the same number of
#     QoS 1 messages over the same TLS listener.
#
#   BUILD_DIR=build tests/bench/uplink_bench.sh [WALL_SECONDS]
set -euo pipefail
BUILD_DIR=${BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
VIGIL=${VIGIL_BIN:-$BUILD_DIR/vigil}
PUMP=$BUILD_DIR/tests/vigil_test_uplink_pump
WALL=${1:-30}
SPEED=3600   # 1 simulated hour per wall second
N_DRAIN=${N_DRAIN:-5000}
T=$(mktemp -d /tmp/vigil-uplink-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cd "$T"
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ca -keyout ca.key -out ca.crt
for n in server gw sub; do
  q openssl req -newkey rsa:2048 -nodes -subj /CN=$n -keyout $n.key -out $n.csr
  if [ $n = server ]; then echo "subjectAltName=IP:127.0.0.1,DNS:localhost" > $n.ext; else echo "extendedKeyUsage=clientAuth" > $n.ext; fi
  q openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile $n.ext -out $n.crt
done
chmod 644 ./*
PORT=$(free_port)
cat > mosquitto.conf <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root" )
listener $PORT 127.0.0.1
cafile $T/ca.crt
certfile $T/server.crt
keyfile $T/server.key
require_certificate true
use_identity_as_username true
allow_anonymous false
max_queued_messages 1000000
CONF
mosquitto -c mosquitto.conf >broker.log 2>&1 &
PIDS+=($!); sleep 0.5
TLS=(-h 127.0.0.1 -p "$PORT" --cafile ca.crt)

run_demo() {  # $1 = name, $2 = send_raw (true|false)
  local hp; hp=$(free_port)
  cat > $1.json <<CFG
{"uplink": {"enabled": true, "host": "127.0.0.1", "port": $PORT, "ca_file": "$T/ca.crt",
            "cert_file": "$T/gw.crt", "key_file": "$T/gw.key", "send_raw_readings": $2}}
CFG
  mosquitto_sub "${TLS[@]}" --cert sub.crt --key sub.key -q 1 -t 'vigil/#' -v > $1.out &
  local sp=$!; PIDS+=($sp); sleep 0.5
  "$VIGIL" demo --port "$hp" --data-dir "$T/$1" --config $1.json --speed $SPEED >$1.log 2>&1 &
  local vp=$!; PIDS+=($vp)
  sleep "$WALL"; kill -TERM $vp; wait $vp || true; sleep 1; kill $sp || true
}

echo "== 1. bytes upstream per position per day (demo, ${WALL}s wall at ${SPEED}x = $((WALL*SPEED/3600)) simulated hours)"
run_demo summaries false
run_demo raw true
python3 - "$T" <<'PY'
import json, sys, collections
T = sys.argv[1]
def load(name):
    by = collections.Counter(); cnt = collections.Counter(); positions = set(); ts = []
    for line in open(f"{T}/{name}.out"):
        topic, _, payload = line.rstrip("\n").partition(" ")
        try: j = json.loads(payload)
        except ValueError: continue
        wire = len(payload) + len(topic) + 8 + 22   # MQTT PUBLISH header + TLS 1.3 record (5 + 16 tag + 1)
        by[j["type"]] += wire; cnt[j["type"]] += 1; ts.append(j["ts_ms"])
        if j["type"] == "summary": positions.add(j["data"]["position_id"])
    return by, cnt, positions, ts
by, cnt, pos, _ = load("summaries")
hours = cnt["summary"] / max(1, len(pos))   # one summary per position per simulated hour
days = hours / 24
npos = max(1, len(pos))
per = {k: v / npos / days for k, v in by.items() if k != "heartbeat"}
hb = (by["heartbeat"] / max(1, cnt["heartbeat"])) * 288 / npos   # heartbeat runs on wall time: every 5 min
up = sum(per.values()) + hb
raw_local = 8 * 144 * 16 + 24 * 8192 * 2   # (ts int64 + value double) per reading, int16 samples
print(f"positions {npos}, simulated hours {hours:.0f}; messages {dict(cnt)}")
for k, v in sorted(per.items()): print(f"  {k:10s} {v:10.0f} B/position/day (incl. MQTT+TLS framing)")
print(f"  heartbeat  {hb:10.0f} B/position/day (288/day per gateway, shared by {npos} positions)")
print(f"UPLINK default    : {up:10.0f} B/position/day")
print(f"RAW kept locally  : {raw_local:10.0f} B/position/day (8 metrics x 144 x 16 B + 24 x 8192 x int16)")
print(f"saving            : {raw_local/up:10.1f}x  ({100*(1-up/raw_local):.1f} % less)")
byr, cntr, posr, _ = load("raw")
hours_r = cntr["summary"] / max(1, len(posr)) if posr else 0
if hours_r:
    raw_up = sum(v for k, v in byr.items() if k != "heartbeat") / max(1, len(posr)) / (hours_r / 24)
    print(f"UPLINK send_raw   : {raw_up:10.0f} B/position/day (JSON readings + base64 waveforms, for reference)")
PY

echo "== 2. outbox drain rate, $N_DRAIN messages over TLS (MQTT 5, QoS 1, window 32)"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true   # broker down while the backlog builds
"$PUMP" --db drain.db --port "$PORT" --ca ca.crt --cert gw.crt --key gw.key --count "$N_DRAIN" > fill.log 2>&1 &
FP=$!
for _ in $(seq 1 600); do grep -q '^queued' fill.log && break; sleep 0.1; done
kill -9 $FP; wait $FP 2>/dev/null || true
mosquitto -c mosquitto.conf >broker.log 2>&1 &
PIDS+=($!); sleep 0.5
"$PUMP" --db drain.db --port "$PORT" --ca ca.crt --cert gw.crt --key gw.key --count 0 --exit-when-drained \
  --timeout-s 300 > drain.log 2>&1
LINE=$(grep '^drained' drain.log)
SECS=$(echo "$LINE" | awk '{print $4}')
python3 -c "import sys; n=int(sys.argv[1]); s=float(sys.argv[2]); print(f'uplink drain      : {n} messages in {s:.2f} s = {n/s:,.0f} msg/s (incl. connect, outbox delete per PUBACK)')" "$N_DRAIN" "$SECS"
seq 1 "$N_DRAIN" | awk '{printf "{\"n\":%d,\"pad\":\"%0200d\"}\n", $1, 0}' > lines.txt
START=$(date +%s.%N)
mosquitto_pub "${TLS[@]}" --cert sub.crt --key sub.key -q 1 -V mqttv5 -t ref/load -l < lines.txt
END=$(date +%s.%N)
python3 -c "import sys; n=int(sys.argv[1]); s=float(sys.argv[3])-float(sys.argv[2]); print(f'mosquitto_pub ref : {n} messages in {s:.2f} s = {n/s:,.0f} msg/s (QoS 1, same listener, no persistence)')" "$N_DRAIN" "$START" "$END"
