"""DuckDB (+ statsmodels for the fit): load a SOPP file into a DuckDB database, search and hit
rates by race, veil-of-darkness cells in SQL.  python stops_duckdb.py FILE DBFILE"""
import os
import sys
import time

import duckdb

from vod_common import RATES_SQL, fit, sun_table

if os.path.exists(sys.argv[2]):
    os.remove(sys.argv[2])
con = duckdb.connect(sys.argv[2])
t0 = time.perf_counter()
con.execute(f"CREATE TABLE stops AS SELECT * FROM read_csv('{sys.argv[1]}', nullstr='NA', "
            "types={'district': 'VARCHAR', 'time': 'VARCHAR'})")
t1 = time.perf_counter()
if os.environ.get("LOAD_ONLY"):  # bench/stops_import_rounds.sh times the load alone
    sys.exit(print(f"load {t1 - t0:.2f} s"))
# SOPP's convention: each rate over the stops that recorded its field (avg skips NULL, as R's
# mean(x, na.rm = TRUE)); the hit rate over searches that recorded contraband_found.
rates = con.execute(RATES_SQL).fetchdf()
t2 = time.perf_counter()
dates = [r[0] for r in con.execute("SELECT DISTINCT CAST(date AS VARCHAR) FROM stops").fetchall()]
con.register("sun", sun_table(dates))
base = """
    WITH v AS (
      SELECT s.subject_race, s.district,
             CAST(split_part(s.time, ':', 1) AS INT) * 60 + CAST(split_part(s.time, ':', 2) AS INT) AS minute,
             sun.sunset_minute, sun.dusk_minute
      FROM stops s JOIN sun ON CAST(s.date AS VARCHAR) = sun.date
      WHERE s.subject_race IN ('black', 'white') AND s.time IS NOT NULL),
    w AS (SELECT * FROM v WHERE minute BETWEEN (SELECT min(dusk_minute) FROM v) AND (SELECT max(dusk_minute) FROM v)
            AND NOT (minute >= sunset_minute AND minute <= dusk_minute))
    SELECT CAST(minute >= dusk_minute AS INT) AS is_dark, ((minute + 2) // 5) * 5 AS rounded_minute {d},
           sum(CAST(subject_race = 'black' AS INT)) AS n_black, sum(CAST(subject_race = 'white' AS INT)) AS n_white
    FROM w GROUP BY ALL"""
plain = con.execute(base.format(d="")).fetchdf()
by_d = con.execute(base.format(d=", district")).fetchdf()
f1 = fit(plain, False)
f2 = fit(by_d, True)
t3 = time.perf_counter()
print(rates.to_string(float_format="{:.10f}".format))
print(f"vod plain coef {f1[0]:.6f} se {f1[1]:.6f} cells {f1[2]}; district coef {f2[0]:.6f} se {f2[1]:.6f} cells {f2[2]}")
print(f"load {t1 - t0:.2f} s, rates {t2 - t1:.2f} s, veil of darkness {t3 - t2:.2f} s")
