#!/usr/bin/env bash
# `just fuzz-api`: schemathesis (from PyPI) against the running service's own OpenAPI document,
# all endpoints, a valid token, a fixed seed. Fails on any 5xx or any response that breaks the
# documented schema. Budget: FUZZ_MAX_EXAMPLES per operation (default 30), FUZZ_SEED.
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples=${FUZZ_MAX_EXAMPLES:-30}
seed=${FUZZ_SEED:-20261129}
venv=target/fuzz-venv

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4.3,<5'
fi
cargo build --bin outbound

# a private embedded database for the run, with the demo data
rm -rf target/fuzz-data
mkdir -p target/fuzz-data
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA_DIR=target/fuzz-data BIND=127.0.0.1:$port CALL_WINDOWS=00:00-24:00 SIM_CALL_MS=200 RUST_LOG=warn \
  target/debug/outbound serve > target/fuzz-data/stdout.log 2> target/fuzz-data/stderr.log &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
  sleep 0.5
done
password=$(sed -n 's/^demo login: username=admin password=//p' target/fuzz-data/stdout.log)
[ -n "$password" ] || { echo "no demo login printed"; cat target/fuzz-data/stderr.log; exit 1; }
token=$(curl -sf "http://127.0.0.1:$port/api/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["access_token"])')

"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
  --header "access-token: $token" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "$max_examples" \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 30 \
  --no-color \
  "$@"
