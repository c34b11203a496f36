#!/usr/bin/env bash
# The fault contract under CPU pressure, looped: FaultTests (Redis killed under traffic, then restarted) and the
# hung-Redis deadline test, next to one busy-looping process per core, RUNS times in a row. Any failure stops the loop
# and prints the test output. Not part of CI: it proves the deadline holds where CI once flaked.
#   bash benchmarks/tools/fault-loop.sh [RUNS=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
dotnet build tests/CoNRec.FilterService.Tests -c Release --nologo -v q >/dev/null

burners=()
for _ in $(seq "$(nproc)"); do (while :; do :; done) & burners+=($!); done
trap 'kill "${burners[@]}" 2>/dev/null || true' EXIT
echo "$(date -u +%FT%TZ) $(nproc) CPU burners running (pids ${burners[*]}); $runs runs"

filter="FullyQualifiedName~FaultTests|FullyQualifiedName~While_redis_hangs"
for i in $(seq "$runs"); do
  out=$(mktemp)
  start=$(date +%s.%N)
  if dotnet test tests/CoNRec.FilterService.Tests -c Release --no-build --nologo --filter "$filter" >"$out" 2>&1; then
    printf 'run %2d: ok in %.1fs (%s)\n' "$i" "$(echo "$(date +%s.%N) - $start" | bc)" "$(grep -oE 'Passed: +[0-9]+' "$out" | head -1)"
  else
    echo "run $i: FAILED"; cat "$out"; exit 1
  fi
  rm -f "$out"
done
echo "all $runs runs passed under CPU load"
