#!/usr/bin/env bash
# The recommender's offline evaluation, small: generates a MovieLens-format data set with
# structure to find (scripts/synthetic-movielens.py; ML-100K may not be redistributed), runs
# the real `lyceum recommend eval --tune` on it (each split imported into a throwaway SQLite
# database and served as GET /recommendations serves it) and fails unless, on the temporal
# split, the served lists beat popularity and the served prior alone (recent_popularity) on
# HR@10 and NDCG@10 with paired 95% intervals above zero, every baseline was computed, and a
# limit=10 list is always the first ten of the limit=50 one.
#
# Environment: CARGO_TARGET_DIR (default target), where the debug binary is built.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[eval] %s\n' "$*"; }
command -v python3 >/dev/null || { echo "[eval] FATAL: python3 is needed" >&2; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
python3 scripts/synthetic-movielens.py "$out"
cargo build --quiet --bin lyceum
bin="${CARGO_TARGET_DIR:-target}/debug/lyceum"
log "lyceum recommend eval --tune on $(($(wc -l <"$out/synthetic.inter") - 1)) generated ratings"
LYCEUM_LOG=warn "$bin" recommend eval --ratings "$out/synthetic.inter" \
    --items "$out/synthetic.item" --tune --json "$out/eval.json"
python3 - "$out/eval.json" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
expected = ["served", "popularity", "recent_popularity", "item_knn", "als", "ease"]
failures = []
for split in report["splits"]:
    names = [m["model"] for m in split["models"]]
    if names != expected:
        failures.append(f"{split['split']}: models {names}, expected {expected}")
    if split["prefix_mismatches"] != 0:
        failures.append(f"{split['split']}: limit=10 is not a prefix of limit=50 "
                        f"for {split['prefix_mismatches']} users")
temporal = next(s for s in report["splits"] if s["split"] == "temporal")
for diff in temporal["served_minus"]:
    if diff["baseline"] not in ("popularity", "recent_popularity"):
        continue
    for metric in ("hr10", "ndcg10"):
        low = diff[metric]["low"]
        if low <= 0:
            failures.append(f"temporal: served − {diff['baseline']} {metric} interval "
                            f"starts at {low:.3f}, not above zero")
if report["dataset"]["described_items"] != report["dataset"]["items"]:
    failures.append("the items file did not reach the imported courses")
if failures:
    sys.exit("[eval] FAILED:\n  " + "\n  ".join(failures))
print("[eval] served beats popularity and recent_popularity on the temporal split; "
      "every baseline computed; limit=10 is a prefix of limit=50")
PY
