#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Peak RSS (VmHWM) of `vigil demo` after DURATION seconds (default 600 = the
# issue's 10 minutes). Target: under 60 MB. Reference printed beside it: the
# RSS of the same binary idle right after start.
#   tests/bench/demo_rss.sh [DURATION_S]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${VIGIL_BIN:-build/vigil}
dur=${1:-600}
dir=$(mktemp -d)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" demo --port "$port" --data-dir "$dir" 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
sleep 2
start_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
# Keep a dashboard-like client polling while it runs.
end=$(( $(date +%s) + dur ))
while (( $(date +%s) < end )); do
  curl -sf "http://127.0.0.1:$port/api/v1/assets" >/dev/null || true
  sleep 2
done
hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
readings=$(curl -sf "http://127.0.0.1:$port/api/v1/health" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ingest"]["accepted"])')
printf 'vigil demo after %ss: peak RSS %.1f MB, current %.1f MB (target: peak < 60 MB)\n' "$dur" "$(echo "$hwm_kb/1024" | bc -l)" "$(echo "$rss_kb/1024" | bc -l)"
printf '  reference: RSS 2 s after start %.1f MB; readings ingested meanwhile: %s\n' "$(echo "$start_kb/1024" | bc -l)" "$readings"
