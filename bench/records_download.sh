#!/usr/bin/env bash
# Throughput and memory of the de-identified stop records download: generates N stops
# (gen_sopp.py, in a virtual environment made for the run), imports them into a fresh SQLite
# database, publishes the records for every year, serves them, downloads records.csv and
# records.parquet with curl and reads the server's resident memory (VmRSS, and its peak
# VmHWM, reset before each download) from /proc.
#   bench/records_download.sh 1000000
# Needs a release build (cargo build --release -p lantern) and runs as root (clear_refs).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
bin=${LANTERN_BIN:-$(pwd)/target/release/lantern}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q numpy pandas
"$work/venv/bin/python" bench/gen_sopp.py "$rows" "$work/stops.csv"
url="sqlite://$work/bench.db"
"$bin" agency add --database-url "$url" --slug bench --name Bench --timezone America/New_York \
  --latitude 39.9525839 --longitude -75.1652215 >/dev/null
"$bin" stops import --database-url "$url" --agency bench "$work/stops.csv" >/dev/null
# Published directly in the database (no analyst account in a benchmark): the tables and the
# records of every year the file has.
years=$(sqlite3 "$work/bench.db" "SELECT group_concat(y, char(10)) FROM (SELECT DISTINCT substr(month, 1, 4) AS y FROM stop_month_cells ORDER BY y)")
sqlite3 "$work/bench.db" "INSERT INTO publications (agency_id, id, published_at, published_by, measures, years, note) \
  SELECT id, 1, CAST(strftime('%s', 'now') AS INTEGER), NULL, 'stops.stops' || char(10) || 'stops.records', '$years', 'bench' FROM agencies WHERE slug = 'bench'"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LANTERN_LOG=warn "$bin" serve --database-url "$url" --bind "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
mem() { awk '/VmRSS|VmHWM/ {printf "%s %d MB  ", $1, $2 / 1024}' "/proc/$pid/status"; }
echo "stops: $rows; server before: $(mem)"
for f in records.csv records.parquet records.csv records.parquet; do
  echo 5 >"/proc/$pid/clear_refs"   # the peak (VmHWM) starts again from the current RSS
  out=$(curl -fs -o "$work/$f" -w "%{time_total} %{size_download}" "http://127.0.0.1:$port/bench/data/stops/$f")
  read -r secs bytes <<<"$out"
  n=$( [ "$f" = records.csv ] && echo $(( $(wc -l <"$work/$f") - 1 )) || echo "$rows" )
  awk -v f="$f" -v s="$secs" -v b="$bytes" -v n="$n" -v m="$(mem)" \
    'BEGIN {printf "%-16s %8.2f s  %9.0f rows/s  %7.1f MB  rows %d  %s\n", f, s, n / s, b / 1048576, n, m}'
done
