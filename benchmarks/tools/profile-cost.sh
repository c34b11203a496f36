#!/usr/bin/env bash
# Issue 9's CPU target in one run: FilterCandidates with today's 20-SID profile against the full negative profile of
# 20 predicted + 10 recent negatives + 10 recent positives, 500 catalog candidates, closed loop c = 16. Two redis-servers
# and two services run side by side, seeded with the same users and items; the loads alternate (plain, profile, plain,
# profile, ...) so machine noise hits both. Prints service CPU per request for each run and the profile/plain ratio.
#   bash benchmarks/tools/profile-cost.sh [OUT=/tmp/profile-cost]      (ROUNDS=2, DURATION=15 in the environment)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-/tmp/profile-cost}"; rounds="${ROUNDS:-2}"; duration="${DURATION:-15}"
lc=benchmarks/CoNRec.LoadClient/bin/Release/net10.0/CoNRec.LoadClient.dll
svc=src/CoNRec.FilterService/bin/Release/net10.0/CoNRec.FilterService.dll
for f in "$lc" "$svc"; do [ -f "$f" ] || { echo "build first: dotnet build CoNRec.Service.sln -c Release ($f missing)" >&2; exit 2; }; done
command -v redis-server >/dev/null || { echo "redis-server is required" >&2; exit 2; }
mkdir -p "$out"
declare -A redis_port=([plain]=6397 [profile]=6398) grpc_port=([plain]=50161 [profile]=50162) admin_port=([plain]=8161 [profile]=8162) pid=()
cleanup() {
  for m in plain profile; do
    [ -n "${pid[$m]:-}" ] && kill "${pid[$m]}" 2>/dev/null || true
    redis-cli -p "${redis_port[$m]}" shutdown nosave >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
for m in plain profile; do
  redis-server --port "${redis_port[$m]}" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
  extra=(); [ "$m" = profile ] && extra=(--recent-negatives 10 --recent-positives 10)
  until redis-cli -p "${redis_port[$m]}" ping >/dev/null 2>&1; do sleep 0.1; done
  rm -rf "$out/seed-$m"
  dotnet "$lc" seed --redis "127.0.0.1:${redis_port[$m]}" --users 100000 --items 50000 --codes 8192 --dim 256 --out "$out/seed-$m" "${extra[@]}" > "$out/seed-$m.out"
  dotnet "$svc" --grpc-port "${grpc_port[$m]}" --grpc-bind 127.0.0.1 --admin-port "${admin_port[$m]}" --redis "127.0.0.1:${redis_port[$m]}" > "$out/service-$m.log" 2>&1 &
  pid[$m]=$!
done
for m in plain profile; do until curl -sf "http://127.0.0.1:${admin_port[$m]}/readyz" >/dev/null; do sleep 0.2; done; done
for r in $(seq 1 "$rounds"); do
  for m in plain profile; do
    SVC_PID="${pid[$m]}" bash benchmarks/tools/load-run.sh "http://127.0.0.1:${admin_port[$m]}" "${redis_port[$m]}" -- \
      --target "http://127.0.0.1:${grpc_port[$m]}" --concurrency 16 --candidates 500 --duration "$duration" --warmup 5 \
      --users 100000 --items 50000 > "$out/$m-$r.out" 2>&1
  done
done
python3 - "$out" "$rounds" <<'PY'
import re, sys
out, rounds = sys.argv[1], int(sys.argv[2])
per = {"plain": [], "profile": []}
for r in range(1, rounds + 1):
    for m in per:
        text = open(f"{out}/{m}-{r}.out").read()
        n = int(re.search(r"conrec_filter_request_duration_seconds\{'outcome': 'ok'\}: n=(\d+)", text).group(1))
        cpu = float(re.search(r"service ([\d.]+) s", text).group(1))
        rps = re.search(r"throughput (\d+) req/s", text).group(1)
        p99 = re.search(r"p99 ([\d.]+)", text).group(1)
        per[m].append(cpu / n * 1e6)
        print(f"round {r} {m:8s} {cpu / n * 1e6:6.0f} us CPU/request ({n} requests, {rps} req/s, p99 {p99} ms)")
for r, (a, b) in enumerate(zip(per["plain"], per["profile"]), 1):
    print(f"round {r}: profile / plain = {b / a:.2f}x")
a, b = sum(per["plain"]) / rounds, sum(per["profile"]) / rounds
print(f"mean: plain {a:.0f} us, profile {b:.0f} us, ratio {b / a:.2f}x (target <= 1.3x: {'met' if b / a <= 1.3 else 'MISSED'})")
PY
