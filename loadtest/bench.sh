#!/usr/bin/env bash
# One benchmark run on this machine: a fresh release server (its own data directory, an admin
# made with `lyceum admin create`), the generator beside it, and the server's resident memory,
# open file descriptors and CPU sampled once a second into <data dir>/server.log
# (unix time, VmRSS KiB, open fds, utime+stime ticks, 1 once provisioning is over). Prints the
# server summary at the end.
#
#   cargo build --release -p lyceum -p lyceum-loadtest
#   loadtest/bench.sh loadtest/scenarios/bench/classroom-1x5000.toml [--json r.json --html r.html]
#
# SERVER_WRAPPER runs the server under a profiler (e.g. "heaptrack -o /tmp/ht"); the RSS figures
# then describe the wrapper, not the server.
# Server settings come from the environment (defaults below suit load: a large command budget,
# warn-level logs); e.g. LYCEUM_WORKERS=3 LYCEUM_WS_MAX_CONNECTIONS_PER_USER=25 for idle-50k.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=$1
shift
data=$(mktemp -d /tmp/lyceum-bench.XXXXXX)
port=${PORT:-18080}
admin=bench@loadtest.invalid
password='lyceum bench admin password'

ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export LYCEUM_DATA_DIR=$data LYCEUM_BIND=127.0.0.1:$port
export LYCEUM_LOG=${LYCEUM_LOG:-warn}
export LYCEUM_WS_RATE_PER_SEC=${LYCEUM_WS_RATE_PER_SEC:-1000}
export LYCEUM_WS_BURST=${LYCEUM_WS_BURST:-1000}
# Registration hashes with argon2 (19 MiB a hash). With glibc's dynamic mmap threshold those
# buffers end up in malloc arenas and stay resident (hundreds of MiB after provisioning), which
# would hide what connections cost; a fixed threshold returns them to the system on free.
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072}

echo "$password" | target/release/lyceum admin create --email "$admin" --password-stdin >/dev/null
# Its own process group, so a wrapper's children stop with it.
setsid ${SERVER_WRAPPER:-} target/release/lyceum serve >"$data/server.out" 2>&1 &
server=$!
trap 'kill -- -$server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

sample() {
  local rss fds ticks
  rss=$(awk '/^VmRSS/{print $2}' "/proc/$server/status")
  fds=$(find "/proc/$server/fd" -mindepth 1 -maxdepth 1 | wc -l)
  ticks=$(awk '{print $14 + $15}' "/proc/$server/stat")
  local provisioned=0
  grep -q '^provisioned in' "$data/generator.err" 2>/dev/null && provisioned=1
  echo "$(date +%s) $rss $fds $ticks $provisioned"
}

LYCEUM_LOADTEST_ADMIN_EMAIL=$admin LYCEUM_LOADTEST_ADMIN_PASSWORD=$password \
  target/release/lyceum-loadtest run "$scenario" --target "http://127.0.0.1:$port" "$@" \
  2> >(tee "$data/generator.err" >&2) &
generator=$!
while kill -0 "$generator" 2>/dev/null; do
  sample >>"$data/server.log"
  sleep 1
done
status=0
wait "$generator" || status=$?
# The server's own view of fan-out (room → every member's queue), to set against the
# end-to-end latencies the generator measured.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
grep -E '^(room_fanout_latency_seconds|room_deliveries_total|ws_outbound_drops_total|ws_slow_consumer_closes_total)' <&3 >"$data/fanout.txt" || true
exec 3>&-
cat "$data/fanout.txt"

# Baseline: the first sample after provisioning (idle scenarios open with a quiet phase);
# loaded: the sample with the most descriptors. Per connection: the RSS difference over the
# added connections (the server keeps two descriptors per WebSocket: the socket and a duplicate
# to shut it down from outside).
awk -v hz="$(getconf CLK_TCK)" '
  NR == 1 { t0 = $1; c0 = $4 }
  $5 == 1 && !based { based = 1; base_rss = $2; base_fd = $3; tb = $1; cb = $4 }
  $3 >= max_fd { max_fd = $3; load_rss = $2 }
  $2 > peak_rss { peak_rss = $2 }
  { t1 = $1; c1 = $4 }
  END {
    conns = (max_fd - base_fd) / 2
    printf "server: after provisioning RSS %d KiB (%d fds); at most connections RSS %d KiB (%d fds, ~%d connections)", base_rss, base_fd, load_rss, max_fd, conns
    if (conns > 0) printf ", %.1f KiB per connection", (load_rss - base_rss) / conns
    printf "; peak RSS %d KiB; CPU %.1f s in provisioning, %.1f s in the %d s after\n", peak_rss, (cb - c0) / hz, (c1 - cb) / hz, t1 - tb
  }' "$data/server.log"
echo "server samples: $data/server.log"
exit "$status"
