#!/usr/bin/env bash
# The API against its own OpenAPI document: schemathesis generates requests from the document
# (examples, boundary values, fuzzing, unsupported methods, missing auth) and checks every
# answer against it. Runs against the demo agency with an admin token; must find nothing.
# Installs schemathesis into a virtual environment of its own (.venv-api under e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${LANTERN_BIN:-$root/target/debug/lantern}
venv=$root/e2e/.venv-api
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work" && LANTERN_LOG=warn exec "$bin" demo --bind "127.0.0.1:$port" >"$work/server.log" 2>&1) &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null

token=$("$bin" token create --agency riverton --name "API contract check" --role admin \
  --database-url "sqlite://$work/lantern-demo.db")

# Every check; a fixed seed and budget so a run is repeatable and bounded.
"$venv/bin/st" --config-file e2e/schemathesis.toml run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $token" \
  --seed 20261207 \
  --max-examples 40 \
  --workers 2 \
  --generation-database none \
  --warnings off

if grep -E " ERROR " "$work/server.log"; then
  echo "the server logged errors during the run (above)" >&2
  exit 1
fi
