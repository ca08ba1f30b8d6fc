#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Dashboard tests: the pure logic of web/public under node --test, then
# browser tests: installs playwright-core (npm; no browser download), starts
# `vigil demo` on a free port with a temp data directory, drives the
# dashboard with the system Chromium. Screenshots of failures are kept in
# tests/e2e/artifacts/.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${VIGIL_BIN:-${BUILD_DIR:-$ROOT/build}/vigil}
E2E=$ROOT/tests/e2e
if [ ! -x /usr/bin/chromium ]; then echo "50-e2e: /usr/bin/chromium missing (apt-get install chromium)"; exit 1; fi
cd "$E2E"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi
fi
echo "50-e2e: dashboard logic (node --test)"
node --test "$E2E/web_logic.test.mjs" "$E2E/notify_logic.test.mjs" "$E2E/fleet_lifecycle_logic.test.mjs" "$E2E/fleet_admin_logic.test.mjs" "$E2E/export_logic.test.mjs" "$E2E/plant_logic.test.mjs" \
  "$E2E/sensor_config_logic.test.mjs" "$E2E/firmware_logic.test.mjs"
DATA=$(mktemp -d)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The demo's clock runs 600x (10 simulated minutes a second, one measurement
# per sensor a second, a waveform per simulated hour). Baselines learn from 2
# simulated hours (12 s; the vibration model, from 12 hourly waveforms, in
# about 70 s) instead of 48, so the charts' baseline band shows within the
# test. The cooling-water pump's bearing fault starts at 3 simulated hours
# (18 s), after its temperature baseline has learned, and grows to severe
# damage in 2 more (12 s): the gateway raises a real alert for it about 30 s
# after start, which the alert step acknowledges and closes.
cat >"$DATA/e2e.json" <<'JSON'
// e2e: short learning period, a bearing fault that develops within a minute
{ "analytics": { "learning_hours": 2 },
  "demo": { "time_factor": 600, "measurement_interval_s": 600, "fault_onset_hours": 3, "fault_growth_hours": 2 } }
JSON
"$BIN" demo --port "$PORT" --data-dir "$DATA" --config "$DATA/e2e.json" >"$DATA/vigil.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT INT TERM
for i in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
echo "50-e2e: vigil demo on port $PORT"
VIGIL_URL="http://127.0.0.1:$PORT" VIGIL_LOG="$DATA/vigil.log" node "$E2E/dashboard.test.mjs" || { echo "--- vigil log"; tail -30 "$DATA/vigil.log"; exit 1; }
