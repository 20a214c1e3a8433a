#!/usr/bin/env bash
# Runs every test of the workspace. Needs no database set up by hand: without TEST_DATABASE_URL the
# tests start a private PostgreSQL cluster under target/test-pg from the machine's PostgreSQL
# binaries (as root, as the `postgres` user), and this script stops it at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

# the console's browser tests drive Debian's chromium through chromedriver: install both when
# they are missing and we may (root); without them those tests fail, they are never skipped
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium and chromium-driver for the console's browser tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "could not install chromium: the browser tests will fail" >&2
  else
    echo "chromium and chromium-driver are missing: the console's browser tests will fail" >&2
  fi
fi

# the load-balancer test runs Debian's haproxy and wrk in front of three instances
if ! command -v haproxy >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing haproxy and wrk for the load-balancer test" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy wrk >/dev/null) \
      || echo "could not install haproxy and wrk: the load-balancer test will fail" >&2
  else
    echo "haproxy or wrk is missing: the load-balancer test will fail" >&2
  fi
fi

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
