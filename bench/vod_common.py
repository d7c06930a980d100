"""What the Python side of the stop benchmarks shares: sun times per date (the `suncalc` port of
suncalc.js from PyPI, at 12:00 UTC of each date, local minutes truncated, as SOPP and Lantern
do) and the veil-of-darkness fit on aggregated cells with statsmodels. patsy's cr() given R's
knots (interior knots at the type-7 quantiles 1/6..5/6 of the cells' minutes, boundary knots at
their range) spans, with the intercept, the same natural-spline space as R's ns(x, 6), so the
darkness coefficient is R's. (cr(x, df=6) places its knots differently and moves the
coefficient in the third decimal.)"""
import datetime
import zoneinfo

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from suncalc import get_times

LAT, LNG, TZ = 39.9525839, -75.1652215, "America/New_York"

# The rates by race as Lantern computes them, SOPP's convention: each over the stops that
# recorded its field, with the count that did not (the file has no search_basis, so every
# search is discretionary). The columns every tool prints, in this order.
FIELDS = ["search_conducted", "frisk_performed", "arrest_made", "citation_issued", "warning_issued"]
RATES_SQL = "SELECT subject_race, count(*) AS stops, " + ", ".join(
    f"avg(CAST({f} AS INT)) AS {f}_rate, count(*) - count({f}) AS {f}_missing" for f in FIELDS
) + ", avg(CAST(contraband_found AS INT)) FILTER (WHERE search_conducted) AS hit_rate, " \
    "count(*) FILTER (WHERE search_conducted AND contraband_found IS NULL) AS hit_missing " \
    "FROM stops GROUP BY 1 ORDER BY 1"


def sun_table(dates):
    zone = zoneinfo.ZoneInfo(TZ)
    utc = datetime.timezone.utc
    rows = []
    for d in sorted(set(dates)):
        t = get_times(datetime.datetime.fromisoformat(f"{d}T12:00:00"), LNG, LAT)
        local = [t[k].to_pydatetime().replace(tzinfo=utc).astimezone(zone) for k in ("sunset", "dusk")]
        rows.append((d, local[0].hour * 60 + local[0].minute, local[1].hour * 60 + local[1].minute))
    return pd.DataFrame(rows, columns=["date", "sunset_minute", "dusk_minute"])


def fit(cells, district):
    x = cells.rounded_minute.astype(float)
    inner = np.quantile(x, [k / 6 for k in range(1, 6)])  # numpy's default is R's type 7
    lo, hi = x.min(), x.max()
    formula = ("cbind_black ~ is_dark + cr(rounded_minute, knots=inner, lower_bound=lo, "
               "upper_bound=hi, constraints='center')")
    if district:
        formula += " + C(district)"
    cells = cells.assign(n=cells.n_black + cells.n_white, cbind_black=cells.n_black / (cells.n_black + cells.n_white))
    model = smf.glm(formula, data=cells, family=sm.families.Binomial(), freq_weights=cells.n)
    r = model.fit()
    name = [k for k in r.params.index if k.startswith("is_dark")][0]
    return r.params[name], r.bse[name], len(cells)
