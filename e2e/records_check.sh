#!/usr/bin/env bash
# The demo's de-identified stop records read back by a second reader: starts `lantern demo`
# on a free port in a temporary folder, installs pyarrow into a virtual environment made for
# the run, and runs records_check.py against it. Needs a debug build (cargo build -p lantern)
# or LANTERN_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${LANTERN_BIN:-$root/target/debug/lantern}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q pyarrow
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work" && LANTERN_LOG=warn exec "$bin" demo --bind "127.0.0.1:$port") >"$work/demo.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/demo.log"; exit 1; }
  sleep 0.2
done
"$work/venv/bin/python" e2e/records_check.py "http://127.0.0.1:$port/riverton"
