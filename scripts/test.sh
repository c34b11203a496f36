#!/usr/bin/env bash
# The whole test suite, from a fresh clone. Installs redis-server when missing (integration tests start their own,
# on free loopback ports) and chromium (the console's browser tests), then runs every test project in Release and
# prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found: installing it with apt-get"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # The package starts a system instance on :6379; the tests do not use it.
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium not found: installing it with apt-get (the operator console's browser tests drive it headless)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

log=$(mktemp)
set +e
dotnet test CoNRec.Service.sln -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line summed over every test assembly ("Passed!  - Failed: 0, Passed: 33, Skipped: 0, ...").
awk '/(Passed|Failed)! +- Failed:/ { gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"

# Beyond the test assemblies: the published batch app must run where the batch image runs (no ASP.NET Core).
if [ "$status" -eq 0 ]; then
  bash scripts/check-batch-runtime.sh || status=1
fi
exit "$status"
