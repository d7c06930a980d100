"""Reads the demo agency's de-identified stop records back with a second reader (pyarrow)
and checks them against Lantern's own CSV and published tables.

    python records_check.py http://127.0.0.1:PORT/riverton

- the Parquet file (read by pyarrow) and the CSV (read by Python's csv module) hold the same
  rows and columns, value for value;
- the CSV re-aggregates to the published tables exactly: stops, searches and arrests by year
  (stops.csv), searches and stops with a search recorded by year and race (search_rate.csv);
- no combination of the quasi-identifiers as written is shared by fewer stops than the
  agency's small-cell threshold, and nothing identifying (coordinates, minutes) is there.
Exits non-zero on the first difference.
"""
import csv
import io
import json
import sys
import urllib.request
from collections import Counter, defaultdict

import pyarrow.parquet as pq

base = sys.argv[1].rstrip("/")
checks = 0


def get(path):
    with urllib.request.urlopen(base + path, timeout=120) as r:
        return r.read()


def table(path):
    return list(csv.DictReader(io.StringIO(get(path).decode("utf-8"))))


def check(ok, what):
    global checks
    if not ok:
        print(f"FAILED: {what}")
        print(f"{checks} passed, 1 failed")
        sys.exit(1)
    checks += 1


dictionary = json.loads(get("/data/stops/records-dictionary.json"))
columns = [c["key"] for c in dictionary["columns"]]
threshold = dictionary["small_cell_threshold"]
rows = table("/data/stops/records.csv")
check(len(rows) > 1000, f"the demo has stop records ({len(rows)})")
check(list(rows[0].keys()) == columns, "the CSV's columns are the dictionary's")

parquet = pq.read_table(io.BytesIO(get("/data/stops/records.parquet")))
check(parquet.column_names == columns, "the Parquet file's columns are the dictionary's")
check(parquet.num_rows == len(rows), f"{parquet.num_rows} Parquet rows, {len(rows)} CSV rows")


def as_csv(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


for i, p in enumerate(parquet.to_pylist()):
    c = rows[i]
    if any(as_csv(p[k]) != c[k] for k in columns):
        check(False, f"row {i}: Parquet {p} != CSV {c}")
checks += 1

# By year: the published yearly table.
by_year = defaultdict(Counter)
for r in rows:
    y = by_year[r["year"]]
    y["stops"] += 1
    y["searches"] += r["search_conducted"] == "true"
    y["arrests"] += r["arrest_made"] == "true"
for t in table("/data/stops/stops.csv"):
    for k in ("stops", "searches", "arrests"):
        if t[k] != "":
            check(float(t[k]) == by_year[t["year"]][k], f"{k} in {t['year']}: table {t[k]}, file {by_year[t['year']][k]}")

# By year and race: the published search-rate table.
labels = {"white": "White", "black": "Black", "hispanic": "Hispanic",
          "asian/pacific islander": "Asian/Pacific Islander", "other": "Other", "unknown": "Unknown"}
by_race = defaultdict(Counter)
for r in rows:
    g = by_race[(r["year"], labels.get(r["subject_race"], ""))]
    g["count"] += r["search_conducted"] == "true"
    g["of"] += r["search_conducted"] != ""
for year in dictionary["years"]:
    for t in table(f"/data/stops/search_rate.csv?year={year}"):
        for k in ("count", "of"):
            if t[k] != "":
                got = by_race[(year, t["group"])][k]
                check(float(t[k]) == got, f"{k} of {t['group']} in {year}: table {t[k]}, file {got}")

# k-anonymity of what is written.
quasi = ["year", "month", "date", "hour", "district", "subject_race", "subject_sex",
         "subject_age_group", "detail"]
groups = Counter(tuple(r[q] for q in quasi) for r in rows)
check(min(groups.values()) >= threshold, f"smallest group {min(groups.values())} < {threshold}")
check(all(len(r["date"]) in (0, 10) and ":" not in r["hour"] for r in rows), "no minutes")
print(f"records: {len(rows)} rows, {parquet.num_rows} read back by pyarrow, "
      f"{len(groups)} groups of at least {threshold}")
print(f"{checks} passed, 0 failed")
