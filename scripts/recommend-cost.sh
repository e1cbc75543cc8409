#!/usr/bin/env bash
# What a refit costs the real server: time and resident memory (issue 14, "Cost").
# Usage: scripts/recommend-cost.sh <lyceum binary> <ratings file> [items file] [refits, default 5]
# Imports the ratings (MovieLens/RecBole format, e.g. data/ml-100k/ml-100k.inter or a file from
# scripts/synthetic-movielens.py) into a fresh SQLite data dir with the import command, starts
# the server on it (which fits the first snapshot), then asks for the given number of admin
# refits one after another. Prints each refit's report with the server's resident size
# (VmRSS) a second later, once the replaced snapshot was freed, and the peak (VmHWM).
# Extra environment is passed to the server. LYCEUM_COST_DATA_DIR keeps the imported data dir
# for the next run (a million ratings take minutes to import): given and already imported, the
# import is skipped.
set -euo pipefail
bin=${1:?path to the lyceum binary}
ratings=${2:?ratings file}
items=${3:-}
refits=${4:-5}
port=${LYCEUM_COST_PORT:-18360}
dir=${LYCEUM_COST_DATA_DIR:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
else
  mkdir -p "$dir"
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
fi
pid=
export LYCEUM_DATA_DIR=$dir LYCEUM_LOG=${LYCEUM_LOG:-warn}
password='correct horse battery staple'

if [ ! -e "$dir/imported" ]; then
  started=$(date +%s.%N)
  "$bin" admin import-movielens --ratings "$ratings" ${items:+--items "$items"}
  echo "import: $(echo "$(date +%s.%N) - $started" | bc) s"
  echo "$password" | "$bin" admin create --email cost@example.org --password-stdin >/dev/null
  touch "$dir/imported"
fi

started=$(date +%s.%N)
LYCEUM_BIND=127.0.0.1:$port "$bin" serve >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 3000); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/log"; exit 1; }
  sleep 0.1
done
echo "ready (first snapshot built): $(echo "$(date +%s.%N) - $started" | bc) s"

status() { awk -v k="$1:" '$1 == k {printf "%.1f MiB", $2 / 1024}' "/proc/$pid/status"; }
sleep 1
echo "at start: rss $(status VmRSS) (heap and other anonymous $(status RssAnon), mapped files $(status RssFile)), peak $(status VmHWM)"

token=$(curl -sf -H 'content-type: application/json' \
  -d "{\"email\":\"cost@example.org\",\"password\":\"$password\"}" \
  "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for i in $(seq "$refits"); do
  report=$(curl -sf -X POST -H "authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/admin/recommendations/rebuild")
  sleep 1
  echo "refit $i: $report; rss $(status VmRSS) (anonymous $(status RssAnon)), peak $(status VmHWM)"
done
