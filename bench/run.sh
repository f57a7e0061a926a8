#!/usr/bin/env bash
# `npm run bench`: one command, one run. bench/bench.ts does the work and cleans up after itself; this wrapper is
# the last line of defence if it dies hard (kills the server processes it recorded, drops the bench database).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
export BENCH_DB="${BENCH_DB:-rightful_bench}"
export BENCH_ADMIN_URL="${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PIDFILE=bench/results/.pids

cleanup() {
  if [ -f "$PIDFILE" ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill "$pid" 2>/dev/null && echo "run.sh: killed leftover server pid $pid" >&2
    done <"$PIDFILE"
    rm -f "$PIDFILE"
  fi
  if command -v psql >/dev/null 2>&1; then
    psql "$BENCH_ADMIN_URL" -qtAc "DROP DATABASE IF EXISTS \"$BENCH_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node --import tsx bench/bench.ts "$@"
