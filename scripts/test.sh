#!/usr/bin/env bash
# Runs every test of the workspace. Needs no database set up by hand: without TEST_DATABASE_URL the
# tests start a private PostgreSQL cluster under target/test-pg from the machine's PostgreSQL
# binaries (as root, as the `postgres` user), and this script stops it at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

# end-to-end tests drive the real binary too
cargo build --bin outbound || exit 1

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
  status=$?
else
  cargo test --workspace --no-fail-fast "$@"
  status=$?
fi

# stop the private test cluster, if the tests started one
data=target/test-pg/data
if [ -z "${TEST_DATABASE_URL:-}" ] && [ -f "$data/postmaster.pid" ]; then
  pg_ctl=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)
  [ -n "$(command -v initdb)" ] && pg_ctl="$(dirname "$(readlink -f "$(command -v initdb)")")/pg_ctl"
  if [ -n "$pg_ctl" ]; then
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- "$pg_ctl" -D "$(readlink -f "$data")" stop -m fast >/dev/null 2>&1 || true
    else
      "$pg_ctl" -D "$data" stop -m fast >/dev/null 2>&1 || true
    fi
  fi
fi
exit $status
