"""Writes a synthetic stop file in the Stanford Open Policing Project's standardised schema.

    python gen_sopp.py ROWS OUT.csv [SEED]

Columns as SOPP publishes them (plus district): dates 2015-2019, times busiest in the evening,
six districts, SOPP race categories, searches and hits at rates that differ by group, about 2%
of sexes missing, and a few missing values in every yes/no field (search_conducted,
contraband_found of a search, frisk_performed, arrest_made, citation_issued, warning_issued),
so that the tools' rates agree only if each leaves them out of its denominator (SOPP's
mean(x, na.rm = TRUE)); a missing arrest_made keeps its outcome, which must not count. The
fields keep SOPP's relations (contraband_found only on a search; outcome the strictest action).
No raw_row_number, so Lantern keys rows by hashing them (its slower path).
Deterministic for a seed. Used by the side-by-side benchmarks in bench/.
"""
import sys

import numpy as np
import pandas as pd

rows = int(sys.argv[1])
out = sys.argv[2]
rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 1)

RACES = np.array(["white", "black", "hispanic", "asian/pacific islander", "other", "unknown"])
RACE_P = np.array([0.48, 0.24, 0.18, 0.05, 0.03, 0.02])
HOURS = np.array([2, 1.5, 1, .8, .6, .8, 1.5, 3, 4, 4, 4, 4, 4, 4, 4.5, 5, 5.5, 6, 6.5, 6.5, 6, 5.5, 4.5, 3])
HOURS = HOURS / HOURS.sum()
SEARCH_P = np.array([0.02, 0.035, 0.037, 0.015, 0.02, 0.01])
HIT_P = np.array([0.28, 0.27, 0.22, 0.3, 0.28, 0.2])
start = np.datetime64("2015-01-01")
days = (np.datetime64("2020-01-01") - start).astype(int)

chunk = 1_000_000
first = True
for offset in range(0, rows, chunk):
    n = min(chunk, rows - offset)
    date = (start + rng.integers(0, days, n)).astype(str)
    hour = rng.choice(24, n, p=HOURS)
    minute = rng.integers(0, 60, n)
    second = rng.integers(0, 60, n)
    time = pd.Series(hour).map("{:02d}".format) + ":" + pd.Series(minute).map("{:02d}".format) + ":" + pd.Series(second).map("{:02d}".format)
    race_i = rng.choice(len(RACES), n, p=RACE_P)
    # A darkness effect on the Black share in the evening, so the veil-of-darkness fit has
    # something to find.
    evening_dark = (hour * 60 + minute) >= 19 * 60 + 30
    flip = (race_i == 1) & evening_dark & (rng.random(n) < 0.2)
    race_i[flip] = 0
    searched = rng.random(n) < SEARCH_P[race_i]
    hit = searched & (rng.random(n) < HIT_P[race_i])
    arrest = rng.random(n) < np.where(hit, 0.5, 0.03)
    cite = ~arrest & (rng.random(n) < 0.5)
    frisk = rng.random(n) < 0.03

    def gaps(p):
        return rng.random(n) < p

    def yes_no(v, missing):
        return np.where(missing, "NA", np.where(v, "TRUE", "FALSE"))

    search_na = gaps(0.0005)
    lat = 39.95 + rng.normal(0, 0.05, n)
    lng = -75.16 + rng.normal(0, 0.05, n)
    df = pd.DataFrame({
        "date": date,
        "time": time,
        "location": pd.Series(rng.integers(1, 9999, n)).map("{} MARKET ST".format),
        "lat": lat.round(6),
        "lng": lng.round(6),
        "district": pd.Series(rng.integers(1, 7, n)).map("D{}".format),
        "subject_race": RACES[race_i],
        "subject_sex": np.where(rng.random(n) < 0.35, "female", "male"),
        "subject_age": rng.integers(16, 85, n),
        "type": np.where(rng.random(n) < 0.1, "pedestrian", "vehicular"),
        "arrest_made": yes_no(arrest, gaps(0.001)),
        "citation_issued": yes_no(cite, gaps(0.001)),
        "warning_issued": yes_no(~arrest & ~cite, gaps(0.001)),
        "outcome": np.where(arrest, "arrest", np.where(cite, "citation", "warning")),
        "contraband_found": yes_no(hit, ~searched | search_na | gaps(0.01)),
        "frisk_performed": yes_no(frisk, gaps(0.001)),
        "search_conducted": yes_no(searched, search_na),
        "reason_for_stop": "Vehicle Code Violation",
    })
    missing = rng.random(n) < 0.02
    df.loc[missing, "subject_sex"] = "NA"
    df.to_csv(out, mode="w" if first else "a", header=first, index=False)
    first = False
    print(f"{offset + n} rows", file=sys.stderr)
