#!/usr/bin/env bash
# A freshly started replica under load: starts the filter service against a seeded Redis, waits for /readyz, and at that
# moment starts an open-loop load (default 1,000 req/s, 500 candidates, 20 s, no client warm-up), then prints the
# share of fail-open (STORE_UNAVAILABLE) decisions. Target: <= 1% in the first 20 s after ready.
#   bash benchmarks/tools/fresh-replica.sh REDIS_PORT [RPS=1000] [SECONDS=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
port="$1"; rps="${2:-1000}"; secs="${3:-20}"
svc=${SVC_DLL:-src/CoNRec.FilterService/bin/Release/net10.0/CoNRec.FilterService.dll}  # SVC_DLL: e.g. a ReadyToRun publish
lc=benchmarks/CoNRec.LoadClient/bin/Release/net10.0/CoNRec.LoadClient.dll
[ -f "$svc" ] && [ -f "$lc" ] || { echo "build first: dotnet build CoNRec.Service.sln -c Release" >&2; exit 2; }
log=$(mktemp)
start=$(date +%s.%N)
dotnet "$svc" --grpc-port 50161 --grpc-bind 127.0.0.1 --admin-port 8161 --redis "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
until curl -sf http://127.0.0.1:8161/readyz >/dev/null; do sleep 0.05; kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }; done
printf 'ready %.2f s after start; %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$(grep -o 'Transport warm-up:.*' "$log" | head -1)"
dotnet "$lc" --target http://127.0.0.1:50161 --candidates 500 --rps "$rps" --duration "$secs" --warmup 0 --users 100000 --items 50000 | tee /dev/stderr |
  awk '/^requests/ { gsub(/[(),]/, " "); total = $2; ok = $3 }
       /^decisions/ { for (i = 1; i <= NF; i++) if ($i == "StoreUnavailable") su = $(i+1) }
       END { gsub("%", "", su); if (su == "") su = 0;
             printf "turned away (RESOURCE_EXHAUSTED or other errors, the caller keeps everything): %d of %d requests = %.3f%%\n", total - ok, total, 100 * (total - ok) / total;
             printf "fail-open decisions in answered requests (STORE_UNAVAILABLE): %s%%\n", su }'
