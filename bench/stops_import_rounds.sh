#!/usr/bin/env bash
# Import speed in turn: Lantern (the whole `lantern stops import` process on a fresh SQLite
# database), DuckDB (`CREATE TABLE … AS SELECT * FROM read_csv(…)` alone) and pandas
# (`read_csv` + `to_sql` into SQLite), one after another, ROUNDS times; then each one's median
# and the median of each round's ratios. Timings on a shared virtual machine drift by ±15%
# from minute to minute: running the tools in turn keeps the ratios honest.
#   bench/stops_import_rounds.sh bench/data/sopp_1000000.csv [ROUNDS]
# Needs a release build (cargo build --release) and bench/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"
rounds="${2:-5}"
bin=target/release/lantern
py=bench/.venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
printf "%-6s %10s %10s %10s %14s %14s\n" round lantern duckdb pandas "vs duckdb" "vs pandas"
for r in $(seq 1 "$rounds"); do
  rm -f "$work"/lantern.db*
  "$bin" agency add --database-url "sqlite://$work/lantern.db" --slug bench --name Bench \
    --timezone America/New_York --latitude 39.9525839 --longitude -75.1652215 >/dev/null
  start=$(now)
  "$bin" stops import --database-url "sqlite://$work/lantern.db" --agency bench "$file" >/dev/null
  lantern=$(calc "$(now) - $start")
  duckdb=$(LOAD_ONLY=1 "$py" bench/stops_duckdb.py "$file" "$work/duck.db" | awk '{print $2}')
  pandas=$(LOAD_ONLY=1 "$py" bench/stops_pandas.py "$file" "$work/pandas.db" | awk '{print $2}')
  printf "%-6s %10.2f %10.2f %10.2f %13.2fx %13.1fx\n" "$r" "$lantern" "$duckdb" "$pandas" \
    "$(calc "$duckdb / $lantern")" "$(calc "$pandas / $lantern")"
done | tee "$work/rounds"
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
col() { awk -v c="$1" '{gsub("x", "", $c); print $c}' "$work/rounds" | median; }
printf "%-6s %10.2f %10.2f %10.2f %13.2fx %13.1fx\n" median "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)"
