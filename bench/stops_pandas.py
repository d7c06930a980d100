"""pandas + statsmodels: load a SOPP file (read_csv, then to_sql into a SQLite file, as the
issue's reference load), search and hit rates by race, veil of darkness.
    python stops_pandas.py FILE SQLITE_FILE"""
import os
import sqlite3
import sys
import time

import pandas as pd

from vod_common import FIELDS, fit, sun_table

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1], na_values=["NA"], keep_default_na=False,
                 dtype={"district": str, "subject_race": str})
t_read = time.perf_counter()
if os.path.exists(sys.argv[2]):
    os.remove(sys.argv[2])
with sqlite3.connect(sys.argv[2]) as con:
    df.to_sql("stops", con, index=False, chunksize=100_000)
t1 = time.perf_counter()
if os.environ.get("LOAD_ONLY"):  # bench/stops_import_rounds.sh times the load alone
    sys.exit(print(f"load {t1 - t0:.2f} s"))
# SOPP's convention: each rate over the stops that recorded its field (mean skips NaN, as R's
# mean(x, na.rm = TRUE)); the hit rate over searches that recorded contraband_found.
by = df.subject_race
cols = {"stops": df.date.groupby(by).size()}
for f in FIELDS:
    x = df[f].astype(float)
    cols[f"{f}_rate"] = x.groupby(by).mean()
    cols[f"{f}_missing"] = x.isna().groupby(by).sum()
searched = df.search_conducted == True
hit = df.contraband_found.astype(float).where(searched)
cols["hit_rate"] = hit.groupby(by).mean()
cols["hit_missing"] = (searched & df.contraband_found.isna()).groupby(by).sum()
rates = pd.DataFrame(cols)
t2 = time.perf_counter()
v = df[df.subject_race.isin(["black", "white"]) & df.time.notna()][["date", "time", "subject_race", "district"]]
v = v.merge(sun_table(v.date.unique()), on="date")
hm = v.time.str.split(":", expand=True).astype(int)
v["minute"] = hm[0] * 60 + hm[1]
v = v[(v.minute >= v.dusk_minute.min()) & (v.minute <= v.dusk_minute.max())]
v = v[~((v.minute >= v.sunset_minute) & (v.minute <= v.dusk_minute))]
v["is_dark"] = (v.minute >= v.dusk_minute).astype(int)
v["rounded_minute"] = ((v.minute + 2) // 5) * 5
v["black"] = (v.subject_race == "black").astype(int)
v["white"] = 1 - v.black
plain = v.groupby(["is_dark", "rounded_minute"], as_index=False).agg(n_black=("black", "sum"), n_white=("white", "sum"))
by_d = v.groupby(["is_dark", "rounded_minute", "district"], as_index=False).agg(n_black=("black", "sum"), n_white=("white", "sum"))
f1 = fit(plain, False)
f2 = fit(by_d, True)
t3 = time.perf_counter()
print(rates.to_string(float_format="{:.10f}".format))
print(f"vod plain coef {f1[0]:.6f} se {f1[1]:.6f} cells {f1[2]}; district coef {f2[0]:.6f} se {f2[1]:.6f} cells {f2[2]}")
print(f"load {t1 - t0:.2f} s (read_csv {t_read - t0:.2f} s, to_sql {t1 - t_read:.2f} s), rates {t2 - t1:.2f} s, veil of darkness {t3 - t2:.2f} s")
