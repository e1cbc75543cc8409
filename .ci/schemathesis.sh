#!/usr/bin/env bash
# Contract check: runs schemathesis (from PyPI, pinned) against the OpenAPI document the real
# `lyceum` binary serves, once on a fresh SQLite data dir and once on a fresh PostgreSQL
# database, with the checks not_a_server_error, status_code_conformance and
# response_schema_conformance. Any finding fails the script (non-zero exit).
#
# Environment:
#   LYCEUM_TEST_DATABASE_URL  PostgreSQL server to create a throwaway database on
#                             (default postgres://postgres@127.0.0.1:5432/postgres)
#   SCHEMATHESIS_MAX_EXAMPLES test cases per operation and phase (default 20)
#   SCHEMATHESIS_MAX_TIME     time budget in seconds of one run (default 150)
#   SCHEMATHESIS_BACKENDS     which databases to run on (default "sqlite postgres")
#   CARGO_TARGET_DIR          where the binary is built and the venv is cached (default target)
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
TARGET=${CARGO_TARGET_DIR:-target}
PG_SERVER=${LYCEUM_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-20}
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-150}
BACKENDS=${SCHEMATHESIS_BACKENDS:-sqlite postgres}
ADMIN_EMAIL=contract-admin@example.org
ADMIN_PASSWORD='contract admin password'

log() { printf '[schemathesis] %s\n' "$*"; }
die() { printf '[schemathesis] FATAL: %s\n' "$*" >&2; exit 1; }

# The interpreter: CPython 3.11's ast.parse can fail inside hypothesis ("AST constructor
# recursion depth mismatch", a SystemError seen once in CI on 3.11.7), so a newer one is used
# when the machine has it (on PATH or under pyenv), else python3.
PYTHON=
for version in 3.13 3.12; do
  for candidate in "python$version" "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$version"*/bin/"python$version"; do
    if "$candidate" -c 'import venv' >/dev/null 2>&1; then PYTHON=$candidate; break 2; fi
  done
done
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || [ -x "$PYTHON" ] || die "no python3 to run schemathesis"
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
  || die "$PYTHON does not run"
log "python $PY_VERSION ($PYTHON)"
VENV=$TARGET/ci-venv-$PY_VERSION

# The pinned schemathesis in a cached venv; reinstalled when the pin changes.
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)" \
    != "$SCHEMATHESIS_VERSION" ]; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv failed (is python3-venv installed?)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" || die "pip could not install schemathesis"
fi

log "building lyceum"
cargo build --quiet --bin lyceum
BIN=$TARGET/debug/lyceum

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lyceum-contract.XXXXXX")
SERVER_PID=
PG_DB=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DB" ]; then dropdb --if-exists --force --maintenance-db="$PG_SERVER" "$PG_DB" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_one LABEL DATABASE_URL: serve a fresh database, seed it, fuzz it; returns schemathesis' status.
run_one() {
  local label=$1 db_url=$2 port data status=0
  port=$(free_port)
  data=$WORK/$label
  mkdir -p "$data"
  export LYCEUM_DATA_DIR=$data DATABASE_URL=$db_url LYCEUM_BIND=127.0.0.1:$port
  export LYCEUM_STATIC_DIR=static RUST_LOG=${RUST_LOG:-warn}

  log "[$label] seeding"
  "$BIN" migrate >"$data/cli.log" 2>&1 || { cat "$data/cli.log"; die "[$label] migrate failed"; }
  "$BIN" seed-demo >>"$data/cli.log" 2>&1 || { cat "$data/cli.log"; die "[$label] seed-demo failed"; }
  printf '%s\n' "$ADMIN_PASSWORD" | "$BIN" admin create --email "$ADMIN_EMAIL" --password-stdin \
    >>"$data/cli.log" 2>&1 || { cat "$data/cli.log"; die "[$label] admin create failed"; }

  log "[$label] starting the server on 127.0.0.1:$port"
  "$BIN" >"$data/server.log" 2>&1 &
  SERVER_PID=$!
  local base=http://127.0.0.1:$port
  for _ in $(seq 1 120); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$data/server.log"; die "[$label] server exited"; }
    sleep 0.5
  done
  curl -fsS "$base/readyz" >/dev/null || { cat "$data/server.log"; die "[$label] server not ready"; }

  # A learner registered through the API is in the data set too; the run itself uses the
  # admin's token, which reaches the most operations.
  curl -fsS -H 'content-type: application/json' "$base/api/v1/auth/register" \
    -d '{"email":"contract-learner@example.org","password":"contract learner password","display_name":"Contract Learner"}' \
    >/dev/null || die "[$label] registering a learner failed"
  local token
  token=$(curl -fsS -H 'content-type: application/json' "$base/api/v1/auth/login" \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') \
    || die "[$label] admin login failed"

  log "[$label] schemathesis (max $MAX_EXAMPLES examples per operation, $MAX_TIME s)"
  # GET /ws upgrades to a WebSocket: the protocol is documented in docs/protocol.md and
  # tested by tests/api/realtime.rs; an HTTP fuzzer can only ever see its 400 "not an upgrade".
  "$VENV/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --header "Authorization: Bearer $token" \
    --exclude-path /ws \
    --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" \
    --request-timeout 10 --workers 2 --seed 1 \
    --suppress-health-check all --no-color \
    --report junit --report-dir "$TARGET/schemathesis-report/$label" || status=$?

  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  if [ "$status" -ne 0 ]; then
    log "[$label] server log tail:"; tail -n 40 "$data/server.log" >&2
  fi
  return "$status"
}

failed=0
case " $BACKENDS " in *" sqlite "*)
  run_one sqlite "sqlite://$WORK/sqlite/lyceum.db" || failed=1 ;;
esac
case " $BACKENDS " in *" postgres "*)
  PG_DB=lyceum_contract_$$
  createdb --maintenance-db="$PG_SERVER" "$PG_DB" || die "cannot create database $PG_DB on $PG_SERVER"
  run_one postgres "${PG_SERVER%/*}/$PG_DB" || failed=1 ;;
esac

if [ "$failed" -ne 0 ]; then
  die "schemathesis found contract violations (reports under $TARGET/schemathesis-report)"
fi
log "no findings on SQLite and PostgreSQL"
