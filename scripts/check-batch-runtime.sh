#!/usr/bin/env bash
# The batch image is built on mcr.microsoft.com/dotnet/runtime, which has Microsoft.NETCore.App and not ASP.NET Core.
# This check publishes CoNRec.Batch and runs it on a .NET root laid out the same way (the SDK's host and NETCore.App
# only): `--help`, a small `eval --quick` that writes a generator bundle, then `generate` and `publish` against a real
# redis-server. It also shows the layout really lacks ASP.NET Core: the demo (which hosts the filter service) must
# refuse to start there. Exit 0 when all of that holds.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
redis_pid=""
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
netcore=$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)
root="$work/runtime-only"
mkdir -p "$root/shared/Microsoft.NETCore.App"
cp "$dotnet_root/dotnet" "$root/dotnet" # a copy: the muxer finds frameworks next to its own real path
ln -s "$dotnet_root/host" "$root/host"
ln -s "$netcore" "$root/shared/Microsoft.NETCore.App/$(basename "$netcore")"
run() { DOTNET_ROOT="$root" DOTNET_MULTILEVEL_LOOKUP=0 "$root/dotnet" "$@"; }

echo "== publish CoNRec.Batch (framework-dependent, linux-x64, ReadyToRun: as the Dockerfile does)"
dotnet publish src/CoNRec.Batch -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/batch" -p:UseAppHost=false --nologo -v q >/dev/null
grep -q '"Microsoft.NETCore.App"' "$work/batch/CoNRec.Batch.runtimeconfig.json"
if grep -q 'AspNetCore' "$work/batch/CoNRec.Batch.runtimeconfig.json"; then echo "FAIL: the batch app asks for ASP.NET Core"; exit 1; fi

echo "== the layout has no ASP.NET Core: the demo must not start there"
if run src/CoNRec.Demo/bin/Release/net10.0/CoNRec.Demo.dll --help >"$work/demo.log" 2>&1; then
  echo "FAIL: the demo started without ASP.NET Core, so this layout proves nothing"; exit 1
fi
grep -q "Microsoft.AspNetCore.App" "$work/demo.log"

echo "== --help on the runtime-only root"
run "$work/batch/CoNRec.Batch.dll" --help | grep -q "generate"

echo "== eval --quick: a small generator bundle"
run "$work/batch/CoNRec.Batch.dll" eval --quick --users 80 --items 90 --resamples 20 --no-progress-bar --out "$work/eval" >/dev/null 2>"$work/eval.log" \
  || { tail -20 "$work/eval.log"; exit 1; }

echo "== generate + publish against redis-server"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 - "$work/eval/bundle/catalog.jsonl" "$work/histories.jsonl" <<'EOF'
import json, sys
items = [json.loads(l)["item_id"] for l in open(sys.argv[1]) if l.strip()][:12]
with open(sys.argv[2], "w") as f:
    for u in range(3):
        f.write(json.dumps({"user_id": f"u{u}",
                            "negatives": [{"item_id": items[u * 3 + k], "ts": 1700000000 + k} for k in range(3)],
                            "positives": [{"item_id": items[9 + (u % 3)], "ts": 1700000100, "type": "click"}]}) + "\n")
EOF
gen=$(run "$work/batch/CoNRec.Batch.dll" generate --redis "127.0.0.1:$port" --bundle "$work/eval/bundle" --histories "$work/histories.jsonl" --no-progress-bar 2>"$work/gen.log") \
  || { tail -20 "$work/gen.log"; exit 1; }
run "$work/batch/CoNRec.Batch.dll" publish --redis "127.0.0.1:$port" --generation "$gen" >/dev/null 2>"$work/pub.log" || { cat "$work/pub.log"; exit 1; }
[ "$(redis-cli -p "$port" get '{conrec}:active')" = "$gen" ]
echo "batch runtime check: ok (generation $gen served from a runtime without ASP.NET Core)"
