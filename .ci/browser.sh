#!/usr/bin/env bash
# Browser tests of the web app (tests/browser): Debian's Chromium driven by playwright-core from
# npm (never a downloaded browser), against the real debug `lyceum` binary. Installs what a fresh
# machine lacks and fails loudly if it cannot. Screenshots: target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[browser] %s\n' "$*"; }
die() { printf '[browser] FATAL: %s\n' "$*" >&2; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    || die "could not install chromium with apt-get"
fi
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing after the install"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"

log "npm ci in tests/browser"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"

TARGET=${CARGO_TARGET_DIR:-target}
case $TARGET in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
log "building lyceum"
cargo build --quiet --bin lyceum
export LYCEUM_BIN=${LYCEUM_BIN:-$TARGET/debug/lyceum}

log "running the browser tests"
(cd tests/browser && npm test)
log "screenshots in target/browser-artifacts/"
