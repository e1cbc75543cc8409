#!/usr/bin/env bash
# Resident memory of the real server after N sign-ups (issue 12 item 19).
# Usage: scripts/signup_rss.sh <path to lyceum binary> [sign-ups, default 300] [port, default 18350]
# Starts the binary on a fresh SQLite data dir with the default allocator settings (no
# MALLOC_* tuning), registers N accounts 8 at a time, and prints VmRSS before and after.
set -euo pipefail
bin=${1:?path to the lyceum binary}
n=${2:-300}
port=${3:-18350}
dir=$(mktemp -d)
LYCEUM_BIND=127.0.0.1:$port LYCEUM_DATA_DIR=$dir LYCEUM_LOG=warn "$bin" serve >"$dir/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ {print $2/1024 " MiB"}' "/proc/$pid/status"; }
echo "rss at start: $(rss)"
seq "$n" | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
  -H 'content-type: application/json' \
  -d '{"email":"u{}@example.org","password":"correct horse battery staple","display_name":"U"}' \
  "http://127.0.0.1:$port/api/v1/auth/register" | sort | uniq -c
echo "rss after $n sign-ups: $(rss)"
