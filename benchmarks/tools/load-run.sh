#!/usr/bin/env bash
# One load run with the server-side split: scrapes the filter service's /metrics before and after, and reports the
# CPU seconds the service, redis-server and the load client each burned during the run (2 cores are shared).
# usage: benchmarks/tools/load-run.sh ADMIN_URL REDIS_PORT -- <CoNRec.LoadClient load options>
# e.g.   benchmarks/tools/load-run.sh http://127.0.0.1:8151 6399 -- --target http://127.0.0.1:50151 --concurrency 16
set -euo pipefail
admin="$1"; redis_port="$2"; shift 2; [ "${1:-}" = "--" ] && shift
here="$(cd "$(dirname "$0")" && pwd)"
client="$here/../CoNRec.LoadClient/bin/Release/net10.0/CoNRec.LoadClient.dll"
[ -f "$client" ] || { echo "build first: dotnet build benchmarks/CoNRec.LoadClient -c Release" >&2; exit 2; }
# SVC_PID picks the service when several run (profile-cost.sh); else the one started from the build output.
svc_pid="${SVC_PID:-$(pgrep -f 'CoNRec.FilterService/bin/Release/net10.0/CoNRec.FilterService' | head -1 || true)}"
redis_pid="$(pgrep -f "redis-server 127.0.0.1:${redis_port}" | head -1 || true)"
cpu() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }  # utime + stime, clock ticks
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
curl -sf "$admin/metrics" > "$tmp/before"
s0=$(cpu "$svc_pid"); r0=$(cpu "$redis_pid"); t0=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$tmp/client_time" dotnet "$client" "$@"
t1=$(date +%s.%N); s1=$(cpu "$svc_pid"); r1=$(cpu "$redis_pid")
curl -sf "$admin/metrics" > "$tmp/after"
python3 "$here/metrics_delta.py" "$tmp/before" "$tmp/after"
hz=$(getconf CLK_TCK)
read -r cu cs < "$tmp/client_time"
awk -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v hz="$hz" -v cu="$cu" -v cs="$cs" -v t0="$t0" -v t1="$t1" 'BEGIN {
  wall = t1 - t0;
  printf "cpu over %.1f s wall (incl. warmup and client start): service %.1f s (%.0f%% of a core), redis %.1f s (%.0f%%), client %.1f s (%.0f%%)\n",
    wall, s / hz, 100 * s / hz / wall, r / hz, 100 * r / hz / wall, cu + cs, 100 * (cu + cs) / wall }'
