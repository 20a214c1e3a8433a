#!/usr/bin/env bash
# `just fuzz-api`: schemathesis (from PyPI) against the running service's own OpenAPI document,
# all endpoints, a valid token, a fixed seed. Fails (non-zero exit) on any 5xx, any response that
# breaks the documented schema, an undocumented status code or content type.
#
# Budget: FUZZ_MAX_EXAMPLES per operation and phase (default 30), FUZZ_STATEFUL_SCENARIOS call
# sequences that follow the document's links (default 150, up to FUZZ_STATEFUL_STEPS calls each,
# default 10): about a minute on two cores. FUZZ_SEED. Extra arguments go to `schemathesis run`
# (e.g. `--report har`).
#
# Works from a fresh clone: builds the debug binary, installs schemathesis into target/fuzz-venv
# (or, where `python3 -m venv` is unavailable, into target/fuzz-pylib with `pip --target`), runs
# the service on a private embedded database with the demo data, and stops it on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples=${FUZZ_MAX_EXAMPLES:-30}
stateful_scenarios=${FUZZ_STATEFUL_SCENARIOS:-150}
stateful_steps=${FUZZ_STATEFUL_STEPS:-10}
seed=${FUZZ_SEED:-20261129}
# pinned: with a fixed seed, the same version generates the same cases
spec=${FUZZ_SCHEMATHESIS:-schemathesis==4.32.5}
venv=target/fuzz-venv
pylib=$PWD/target/fuzz-pylib

command -v python3 >/dev/null || { echo "fuzz-api: python3 is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "fuzz-api: curl is required" >&2; exit 1; }

# ---- schemathesis
installed() { [ "$(cat "$1/.fuzz-spec" 2>/dev/null)" = "$spec" ]; }
if [ -x "$venv/bin/schemathesis" ] && installed "$venv"; then
  st=("$venv/bin/schemathesis")
elif [ -d "$pylib/schemathesis" ] && installed "$pylib"; then
  st=(env PYTHONPATH="$pylib" python3 -m schemathesis.cli)
else
  rm -rf "$venv" "$pylib"
  if python3 -m venv "$venv" >/dev/null 2>&1 && [ -x "$venv/bin/pip" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check "$spec"
    echo "$spec" > "$venv/.fuzz-spec"
    st=("$venv/bin/schemathesis")
  else
    # Debian without python3-venv: no ensurepip, so no venv; a private --target directory instead
    rm -rf "$venv"
    echo "fuzz-api: python3 -m venv is unavailable; installing $spec into $pylib" >&2
    python3 -m pip install -q --disable-pip-version-check --target "$pylib" "$spec"
    echo "$spec" > "$pylib/.fuzz-spec"
    st=(env PYTHONPATH="$pylib" python3 -m schemathesis.cli)
  fi
fi

cargo build --bin outbound

# ---- the service, on a private embedded database with the demo data
data=target/fuzz-data
# a cluster left running by an interrupted run would hold the directory
if [ -f "$data/postgres/postmaster.pid" ]; then
  old=$(head -n 1 "$data/postgres/postmaster.pid" 2>/dev/null || true)
  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
    kill -INT "$old" 2>/dev/null || true  # PostgreSQL: fast shutdown
    for _ in $(seq 1 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
  fi
fi
rm -rf "$data"
mkdir -p "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
DATA_DIR=$data BIND=127.0.0.1:$port CALL_WINDOWS=00:00-24:00 SIM_CALL_MS=200 RUST_LOG=warn \
  target/debug/outbound serve > "$data/stdout.log" 2> "$data/stderr.log" &
pid=$!
cleanup() {
  # SIGTERM: the service stops its embedded PostgreSQL before it exits
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "fuzz-api: $1" >&2
  tail -n 40 "$data/stderr.log" >&2 || true
  exit 1
}
up=
for _ in $(seq 1 240); do
  kill -0 "$pid" 2>/dev/null || fail "the service exited during start-up"
  if curl -sf "$base/api/health" >/dev/null 2>&1; then up=1; break; fi
  sleep 0.5
done
[ -n "$up" ] || fail "the service did not become healthy within 2 minutes"
password=$(sed -n 's/^demo login: username=admin password=//p' "$data/stdout.log")
[ -n "$password" ] || fail "no demo login printed"
token=$(curl -sf "$base/api/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" |
  python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["access_token"])') ||
  fail "login with the demo account failed"
# a second token for logout, fuzzed on its own at the end: logging out the main run's token
# would leave every later request of that run a 401
token2=$(curl -sf "$base/api/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" |
  python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["access_token"])') ||
  fail "the second login with the demo account failed"

# ---- the run: exits non-zero on any failed check (or an error); warnings do not fail it
# the budgets per phase (a command-line --max-examples would override the stateful phase's)
cat > "$data/schemathesis.toml" <<EOF
# the run is authenticated with the demo admin's token; no signing up through POST /api/users
[auth]
auto-signup = false

[generation]
max-examples = $max_examples

[phases.stateful]
max-steps = $stateful_steps

[phases.stateful.generation]
max-examples = $stateful_scenarios
EOF
"${st[@]}" --config-file "$data/schemathesis.toml" run "$base/api/openapi.json" \
  --header "access-token: $token" \
  --exclude-operation-id logout \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 30 \
  --no-color \
  "$@"
"${st[@]}" --config-file "$data/schemathesis.toml" run "$base/api/openapi.json" \
  --header "access-token: $token2" \
  --include-operation-id logout \
  --phases examples,coverage,fuzzing \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 30 \
  --no-color
