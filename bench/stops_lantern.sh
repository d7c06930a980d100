#!/usr/bin/env bash
# Lantern's side of the stop benchmarks: import a SOPP file into a fresh SQLite database (and
# PostgreSQL when BENCH_POSTGRES_URL names a server to create databases on), import it again
# (every row already present), then run the analyses.
#   bench/stops_lantern.sh bench/data/sopp_1000000.csv
# Needs a release build (cargo build --release). Prints wall time and peak memory per step.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"
bin=target/release/lantern
t() { /usr/bin/time -f "  %e s wall, %M KB peak RSS" "$@"; }
run() {
  local url="$1"
  "$bin" agency add --database-url "$url" --slug bench --name Bench --timezone America/New_York \
    --latitude 39.9525839 --longitude -75.1652215 >/dev/null
  echo "import:"; t "$bin" stops import --database-url "$url" --agency bench "$file"
  echo "re-import (all rows present):"; t "$bin" stops import --database-url "$url" --agency bench "$file"
  echo "analyses:"; t "$bin" stops analyze --database-url "$url" --agency bench > /tmp/lantern-analyze.json
  python3 -c "import json; d=json.load(open('/tmp/lantern-analyze.json'))['darkness']['fits']; print('  vod', [(f['form'], round(f['coefficient'], 6), round(f['std_error'], 6), f['cells']) for f in d])"
  # The rates as the DuckDB and pandas scripts print them (rate, and stops without the field).
  python3 - <<'PY'
import json
a = json.load(open('/tmp/lantern-analyze.json'))['analysis']['rates']
for t in a:
    print(f"  {t['key']:9}", " ".join(f"{r['group']}={r['rate']:.10f}/{r['not_recorded']}" for r in t['rows'] if r['rate'] is not None))
PY
}
db=$(mktemp -d)/bench.db
echo "== SQLite"
run "sqlite://$db"
ls -la "$db" | awk '{print "  database file " $5 " bytes"}'
rm -f "$db"*
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  name="lantern_bench_$$"
  psql -q "$BENCH_POSTGRES_URL" -c "CREATE DATABASE $name"
  echo "== PostgreSQL"
  run "${BENCH_POSTGRES_URL%/*}/$name"
  psql -q "$BENCH_POSTGRES_URL" -c "DROP DATABASE $name WITH (FORCE)"
fi
