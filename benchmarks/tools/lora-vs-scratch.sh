#!/usr/bin/env bash
# "LoRA helps from a base", measured: a base model pretrained on unrelated data (synthetic seed 1: other users, items
# and codebook), then on the target data (seed 7) SFT from scratch and LoRA on that base with the same schedule
# (epochs, batch, steps). Prints each run's final validation loss (answer-token cross-entropy) and wall time.
#   bash benchmarks/tools/lora-vs-scratch.sh [OUT=/tmp/lora-vs-scratch] [extra train options...]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-/tmp/lora-vs-scratch}"; shift || true
batch="${CONREC_BATCH:-src/CoNRec.Batch/bin/Release/net10.0/CoNRec.Batch.dll}" # a published copy keeps a long run safe from rebuilds
[ -f "$batch" ] || { echo "build first: dotnet build CoNRec.Service.sln -c Release" >&2; exit 2; }
common=(--stages sft --no-progress-bar "$@")
mkdir -p "$out"
run() { local name="$1"; shift; local t0; t0=$(date +%s); dotnet "$batch" train --out "$out/$name" "${common[@]}" "$@" >/dev/null 2>"$out/$name.log"; echo $(( $(date +%s) - t0 )); }
t_base=$(run base --seed 1)
t_scratch=$(run scratch --seed 7)
t_lora=$(run lora --seed 7 --base "$out/base/model")
python3 - "$out" "$t_base" "$t_scratch" "$t_lora" <<'PY'
import json, sys
out, tb, ts, tl = sys.argv[1:]
def summary(name):
    r = json.load(open(f"{out}/{name}/training.json"))
    st = r["stages"]
    return r, [s["validation_loss"] for s in st]
for name, t in (("base (seed 1)", tb), ("scratch (seed 7)", ts), ("LoRA on base (seed 7)", tl)):
    r, val = summary(name.split()[0] if name.startswith("base") else ("scratch" if name.startswith("scratch") else "lora"))
    print(f"{name:24s} validation loss by stage {', '.join(f'{v:.3f}' for v in val)}; trainable {r['trainable_parameters']:,} of {r['parameters']:,}; epochs run {r['epochs_run']}; {t} s")
_, s = summary("scratch"); _, l = summary("lora")
print(f"final validation loss: scratch {s[-1]:.3f}, LoRA on base {l[-1]:.3f} -> {'LoRA lower' if l[-1] < s[-1] else 'scratch lower or equal'} by {abs(s[-1]-l[-1]):.3f}")
PY
