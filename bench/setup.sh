#!/usr/bin/env bash
# Prepares the side-by-side benchmarks: a Python environment with DuckDB, pandas and
# statsmodels (bench/.venv, git-ignored) and the synthetic SOPP files (bench/data, git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
fi
# suncalc: the sun times SOPP uses, for the reference scripts' veil-of-darkness windows.
.venv/bin/pip install --quiet duckdb pandas statsmodels suncalc
mkdir -p data
for n in 1000000 10000000; do
  [ -f "data/sopp_${n}.csv" ] || .venv/bin/python gen_sopp.py "$n" "data/sopp_${n}.csv"
done
ls -la data
