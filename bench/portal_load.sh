#!/usr/bin/env bash
# Load on the public portal's pages, side by side with a plain axum page that touches no
# database (the ceiling). Release build, the demo agency, SQLite by default or PostgreSQL with
# DATABASE_URL=postgres://… . Reports, per page: the most requests per second wrk gets with 32
# connections, and the latency percentiles at a fixed 500 requests per second (hey, 10
# workers × 50/s). The load generator shares the machine's cores with the server.
#   bash bench/portal_load.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null && command -v hey >/dev/null || {
  apt-get install -y -qq wrk hey >/dev/null
}
cargo build --release -q -p lantern --bin lantern --example ceiling
bin=$(pwd)/target/release/lantern
work=$(mktemp -d)
db_args=()
if [ -n "${DATABASE_URL:-}" ]; then db_args=(--database-url "$DATABASE_URL"); fi
(cd "$work" && LANTERN_LOG=warn exec "$bin" demo --bind 127.0.0.1:8098 "${db_args[@]}" >"$work/server.log" 2>&1) &
server=$!
./target/release/examples/ceiling 127.0.0.1:8099 &
ceiling=$!
trap 'kill $server $ceiling 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do curl -fsS http://127.0.0.1:8098/healthz >/dev/null 2>&1 && break; sleep 0.5; done

pages=(
  "ceiling|http://127.0.0.1:8099/"
  "home|http://127.0.0.1:8098/riverton"
  "stops|http://127.0.0.1:8098/riverton/data/stops"
  "stops, filtered (es)|http://127.0.0.1:8098/riverton/es/data/stops?year=2024&district=D2&stop_type=vehicular"
  "search rates CSV|http://127.0.0.1:8098/riverton/data/stops/search_rate.csv"
  "methodology|http://127.0.0.1:8098/riverton/methodology"
  "open data|http://127.0.0.1:8098/riverton/open-data"
  "data.json|http://127.0.0.1:8098/riverton/data.json"
)
printf '| page | req/s (wrk, 32 conn.) | p50 ms at 500/s | p99 ms at 500/s | ×ceiling |\n|---|---|---|---|---|\n'
ceiling_rps=""
for entry in "${pages[@]}"; do
  name=${entry%%|*}; url=${entry#*|}
  curl -fsS -o /dev/null "$url"   # first render, outside the measurement
  rps=$(wrk -t2 -c32 -d"${secs}s" "$url" | awk '/Requests\/sec/ {print $2}')
  lat=$(hey -z "${secs}s" -c 10 -q 50 "$url")
  p50=$(echo "$lat" | awk '/ 50% in/ {printf "%.2f", $3*1000}')
  p99=$(echo "$lat" | awk '/ 99% in/ {printf "%.2f", $3*1000}')
  [ -z "$ceiling_rps" ] && ceiling_rps=$rps
  ratio=$(awk -v a="$rps" -v b="$ceiling_rps" 'BEGIN {printf "%.2f", a/b}')
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "$ratio"
done
