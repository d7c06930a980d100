# Reference values for tests/diagnostics.rs: ArviZ's rank-normalised split
# R-hat (az.rhat(method="rank")) and bulk ESS (az.ess(method="bulk")) of the
# chains in tests/data/diagnostics_chains.csv, which this script writes.
#
# Run from the repository root with numpy and arviz installed:
#   python3 crates/stats/tests/reference/diagnostics_arviz.py
import arviz as az
import numpy as np

rng = np.random.default_rng(20261208)
chains, draws = 4, 101  # odd: the middle draw of each chain is dropped when split


def ar1(rho, shift=None, scale=None):
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho**2) * rng.normal(size=chains)
    if shift is not None:
        x += np.asarray(shift)[:, None]
    if scale is not None:
        x *= np.asarray(scale)[:, None]
    return x


variables = {
    "iid": ar1(0.0),
    "ar09": ar1(0.9),
    "shifted": ar1(0.3, shift=[0, 0, 0, 0.8]),
    "wide": ar1(0.0, scale=[1, 1, 1, 3]),
    # Heavy tails and ties: rank normalisation matters.
    "ties": np.round(np.exp(2 * ar1(0.5)), 1),
}

with open("crates/stats/tests/data/diagnostics_chains.csv", "w") as f:
    f.write("variable,chain,draw,value\n")
    for name, x in variables.items():
        for c in range(chains):
            for t in range(draws):
                f.write(f"{name},{c},{t},{float(x[c, t])!r}\n")

print(f"arviz {az.__version__}, numpy {np.__version__}")
for name, x in variables.items():
    r = float(az.rhat(x, method="rank"))
    e = float(az.ess(x, method="bulk"))
    print(f'("{name}", {r!r}, {e!r}),')
