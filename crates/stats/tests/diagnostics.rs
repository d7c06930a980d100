//! MCMC diagnostics on chains whose behaviour is known: independent draws,
//! autoregressive chains of known autocorrelation, chains that disagree in
//! location or in scale; and on fixed chains against ArviZ.

use stats::diagnostics::{ess_basic, ess_bulk, rhat_basic, split_rhat};

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `m` chains of `n` draws of a stationary AR(1) with coefficient `rho`
/// and unit marginal variance.
fn ar1(rng: &mut Rng, m: usize, n: usize, rho: f64) -> Vec<Vec<f64>> {
    let innov = (1.0 - rho * rho).sqrt();
    (0..m)
        .map(|_| {
            let mut x = rng.normal();
            (0..n)
                .map(|_| {
                    let out = x;
                    x = rho * x + innov * rng.normal();
                    out
                })
                .collect()
        })
        .collect()
}

fn slices(c: &[Vec<f64>]) -> Vec<&[f64]> {
    c.iter().map(|v| v.as_slice()).collect()
}

#[test]
fn independent_draws_have_rhat_one_and_full_ess() {
    let mut rng = Rng(7);
    let (mut rhats, mut ess) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let c = ar1(&mut rng, 4, 1000, 0.0);
        rhats.push(split_rhat(&slices(&c)).unwrap());
        ess.push(ess_bulk(&slices(&c)).unwrap());
    }
    let max_rhat = rhats.iter().cloned().fold(0.0, f64::max);
    let mean_ess = ess.iter().sum::<f64>() / ess.len() as f64;
    assert!(max_rhat < 1.01, "{max_rhat}");
    // ESS of 4000 independent draws: 4000 on average (a few percent of
    // noise per replicate; the mean of 20 within 5%).
    assert!((mean_ess / 4000.0 - 1.0).abs() < 0.05, "{mean_ess}");
}

#[test]
fn autocorrelated_draws_have_the_theoretical_ess() {
    // ESS of an AR(1) with coefficient ρ: S (1 − ρ)/(1 + ρ).
    let mut rng = Rng(11);
    for rho in [0.5, 0.9] {
        let expected = 4.0 * 2000.0 * (1.0 - rho) / (1.0 + rho);
        let mut total = 0.0;
        for _ in 0..10 {
            let c = ar1(&mut rng, 4, 2000, rho);
            total += ess_bulk(&slices(&c)).unwrap();
        }
        let mean = total / 10.0;
        assert!(
            (mean / expected - 1.0).abs() < 0.1,
            "rho {rho}: ESS {mean} vs {expected}"
        );
        // The same without rank normalisation (Gaussian draws: no change).
        let c = ar1(&mut rng, 4, 2000, rho);
        let basic = ess_basic(&c).unwrap();
        assert!(
            (basic / expected - 1.0).abs() < 0.25,
            "{basic} vs {expected}"
        );
    }
}

#[test]
fn chains_in_different_places_are_flagged() {
    let mut rng = Rng(3);
    let mut c = ar1(&mut rng, 4, 500, 0.3);
    for x in &mut c[3] {
        *x += 1.0;
    }
    let rhat = split_rhat(&slices(&c)).unwrap();
    assert!(rhat > 1.1, "{rhat}");
    assert!(rhat_basic(&c).unwrap() > 1.1);
}

#[test]
fn chains_with_different_spreads_are_flagged_by_folding() {
    // Same centre, one chain three times as wide: the bulk R-hat barely
    // notices, the folded one does.
    let mut rng = Rng(5);
    let mut c = ar1(&mut rng, 4, 1000, 0.0);
    for x in &mut c[0] {
        *x *= 3.0;
    }
    assert!(rhat_basic(&c).unwrap() < 1.05);
    let rhat = split_rhat(&slices(&c)).unwrap();
    assert!(rhat > 1.05, "{rhat}");
}

#[test]
fn a_trend_within_chains_is_flagged_by_splitting() {
    // Each chain drifts from −1 to 1: the chains agree with each other, but
    // their halves do not.
    let mut rng = Rng(9);
    let c: Vec<Vec<f64>> = (0..4)
        .map(|_| {
            (0..1000)
                .map(|i| -1.0 + 2.0 * i as f64 / 999.0 + 0.3 * rng.normal())
                .collect()
        })
        .collect();
    assert!(rhat_basic(&c).unwrap() < 1.01);
    let rhat = split_rhat(&slices(&c)).unwrap();
    assert!(rhat > 1.3, "{rhat}");
}

#[test]
fn diagnostics_are_invariant_to_monotone_transformations() {
    let mut rng = Rng(13);
    let c = ar1(&mut rng, 4, 300, 0.6);
    let e: Vec<Vec<f64>> = c
        .iter()
        .map(|v| v.iter().map(|x| (3.0 * x).exp()).collect())
        .collect();
    let (r1, r2) = (
        split_rhat(&slices(&c)).unwrap(),
        split_rhat(&slices(&e)).unwrap(),
    );
    assert!((r1 - r2).abs() < 1e-12, "{r1} {r2}");
    let (e1, e2) = (
        ess_bulk(&slices(&c)).unwrap(),
        ess_bulk(&slices(&e)).unwrap(),
    );
    assert!((e1 - e2).abs() < 1e-9, "{e1} {e2}");
}

/// ArviZ 0.23.4 (numpy 2.4.6) on tests/data/diagnostics_chains.csv:
/// `az.rhat(x, method="rank")` and `az.ess(x, method="bulk")`, printed by
/// tests/reference/diagnostics_arviz.py.
const ARVIZ: [(&str, f64, f64); 5] = [
    ("iid", 1.0121812437166073, 485.37810436937394),
    ("ar09", 1.1794797298154398, 16.568991731556668),
    ("shifted", 1.0792349201885376, 42.84805113738634),
    ("wide", 1.1507243064623793, 412.3445456832376),
    ("ties", 1.0129023433895732, 110.98737535354664),
];

#[test]
fn rhat_and_ess_match_arviz() {
    let data = include_str!("data/diagnostics_chains.csv");
    for (name, rhat, ess) in ARVIZ {
        let mut chains: Vec<Vec<f64>> = vec![Vec::new(); 4];
        for line in data.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f[0] == name {
                let c: usize = f[1].parse().unwrap();
                chains[c].push(f[3].parse().unwrap());
            }
        }
        assert!(chains.iter().all(|c| c.len() == 101), "{name}");
        let s = slices(&chains);
        let (r, e) = (split_rhat(&s).unwrap(), ess_bulk(&s).unwrap());
        assert!(
            (r - rhat).abs() < 1e-10,
            "{name}: R-hat {r} vs ArviZ {rhat}"
        );
        assert!(
            (e - ess).abs() < 1e-8 * ess,
            "{name}: ESS {e} vs ArviZ {ess}"
        );
    }
}
