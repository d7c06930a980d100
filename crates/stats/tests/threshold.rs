//! The threshold test: its rates against numerical integration, its
//! gradient against finite differences, its fit against SOPP's published
//! thresholds (tests/data/fig4b_threshold_test.csv, Stanford Open Policing
//! Project, ODC-By) and the coverage of its intervals on data simulated
//! from the model.

use std::collections::HashMap;

use stats::threshold::{
    CellCounts, FitOptions, ThresholdError, ThresholdModel, fit, search_and_hit_rate,
};

const SOPP: &str = include_str!("data/fig4b_threshold_test.csv");

/// A state's cells and SOPP's threshold of each.
fn sopp_state(state: &str) -> Vec<(CellCounts, f64)> {
    let rows: Vec<(CellCounts, f64)> = SOPP
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[8] == state).then(|| {
                (
                    CellCounts {
                        location: f[0].to_string(),
                        race: f[1].trim_end_matches(" drivers").to_string(),
                        stops: f[2].parse().unwrap(),
                        searches: f[3].parse().unwrap(),
                        hits: f[4].parse().unwrap(),
                    },
                    f[7].parse().unwrap(),
                )
            })
        })
        .collect();
    assert!(!rows.is_empty(), "no rows for {state}");
    rows
}

/// Races from lowest to highest stop-weighted average threshold.
fn ordering(cells: &[(CellCounts, f64)]) -> Vec<String> {
    let mut loc_stops: HashMap<&str, f64> = HashMap::new();
    for (c, _) in cells {
        *loc_stops.entry(&c.location).or_default() += c.stops as f64;
    }
    let mut acc: HashMap<&str, (f64, f64)> = HashMap::new();
    for (c, t) in cells {
        let w = loc_stops[c.location.as_str()];
        let e = acc.entry(&c.race).or_default();
        e.0 += t * w;
        e.1 += w;
    }
    let mut v: Vec<(String, f64)> = acc
        .into_iter()
        .map(|(r, (a, b))| (r.to_string(), a / b))
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    v.into_iter().map(|(r, _)| r).collect()
}

/// SplitMix64 with uniform, normal, gamma and beta draws.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang, with the boost
    /// G(a) = G(a + 1) U^(1/a) for a < 1; returned on the log scale so that
    /// tiny shapes do not underflow.
    fn ln_gamma_draw(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.ln_gamma_draw(shape + 1.0) + self.uniform().ln() / shape;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return (d * v).ln();
            }
        }
    }

    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let (ga, gb) = (self.ln_gamma_draw(a), self.ln_gamma_draw(b));
        // ga / (ga + gb) on the log scale.
        1.0 / (1.0 + (gb - ga).exp())
    }
}

fn inv_logit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---------------------------------------------------------------------------
// Rates

/// Search rate P(X > t) and hit rate E[X | X > t] for X ~ Beta(a, b) by
/// composite Simpson's rule on a substitution that removes the endpoint
/// singularities: x = t + (1 − t) w², integrand smooth in w.
fn rates_by_quadrature(t: f64, a: f64, b: f64) -> (f64, f64) {
    // Beta function by the same quadrature over (0, 1) with x = w^(1/a)...
    // simpler: use the log-gamma of the reference in f64 via Lanczos.
    fn ln_gamma(x: f64) -> f64 {
        // Lanczos (g = 7, n = 9), ~1e-15 relative.
        const C: [f64; 9] = [
            0.999_999_999_999_809_9,
            676.520_368_121_885_1,
            -1_259.139_216_722_402_8,
            771.323_428_777_653_1,
            -176.615_029_162_140_6,
            12.507_343_278_686_905,
            -0.138_571_095_265_720_12,
            9.984_369_578_019_572e-6,
            1.505_632_735_149_311_6e-7,
        ];
        if x < 0.5 {
            let pi = std::f64::consts::PI;
            return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
        }
        let x = x - 1.0;
        let mut s = C[0];
        for (i, c) in C.iter().enumerate().skip(1) {
            s += c / (x + i as f64);
        }
        let t = x + 7.5;
        0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
    }
    let ln_b = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    let n = 20_000;
    let h = 1.0 / n as f64;
    let (mut mass, mut first) = (0.0, 0.0);
    for k in 0..=n {
        let w = k as f64 * h;
        let x = t + (1.0 - t) * w * w;
        let jac = 2.0 * (1.0 - t) * w;
        let f = if x >= 1.0 || jac == 0.0 {
            0.0
        } else {
            ((a - 1.0) * x.ln() + (b - 1.0) * (1.0 - x).ln() - ln_b).exp() * jac
        };
        let coef = if k == 0 || k == n {
            1.0
        } else if k % 2 == 1 {
            4.0
        } else {
            2.0
        };
        mass += coef * f;
        first += coef * f * x;
    }
    (mass * h / 3.0, first / mass)
}

#[test]
fn search_and_hit_rates_match_numerical_integration() {
    // (threshold, phi, lambda), with b = λ(1 − φ) ≥ 1 so that the integrand
    // is bounded at x = 1 and Simpson's rule is accurate.
    let cases = [
        (0.3, 0.03, 40.0),
        (0.1, 0.05, 25.0),
        (0.5, 0.2, 10.0),
        (0.05, 0.03, 60.0),
        (0.25, 0.1, 12.0),
        (0.7, 0.4, 3.0),
        (0.02, 0.3, 8.0),
    ];
    for (t, phi, lambda) in cases {
        let (s, h) = search_and_hit_rate(t, phi, lambda).unwrap();
        let (sq, hq) = rates_by_quadrature(t, lambda * phi, lambda * (1.0 - phi));
        assert!(
            ((s - sq) / sq).abs() < 1e-6,
            "search rate {t} {phi} {lambda}: {s} vs {sq}"
        );
        assert!(
            ((h - hq) / hq).abs() < 1e-6,
            "hit rate {t} {phi} {lambda}: {h} vs {hq}"
        );
    }
}

#[test]
fn rates_in_closed_form_cases() {
    // Beta(1, b): P(X > t) = (1 − t)^b and E[X | X > t] = t + (1 − t)/(b + 1).
    for (t, b) in [(0.2, 3.0), (0.6, 7.5), (0.05, 1.5)] {
        let lambda = 1.0 + b;
        let (s, h) = search_and_hit_rate(t, 1.0 / lambda, lambda).unwrap();
        assert!((s - (1.0 - t).powf(b)).abs() < 1e-13, "{s}");
        assert!((h - (t + (1.0 - t) / (b + 1.0))).abs() < 1e-13, "{h}");
    }
    assert!(search_and_hit_rate(0.0, 0.1, 5.0).is_none());
    assert!(search_and_hit_rate(0.3, 1.0, 5.0).is_none());
    assert!(search_and_hit_rate(0.3, 0.1, -1.0).is_none());
}

// ---------------------------------------------------------------------------
// Gradient

fn check_gradient(model: &ThresholdModel, seed: u64) {
    let mut rng = Rng(seed);
    let dim = model.dim();
    // A point like a posterior draw: hyperparameters near their prior
    // means, the rest jittered.
    let nr = model.races().len();
    let nd = model.locations().len();
    let nc = dim - 4 * nr - 2 * (nd - 1);
    let mut x = vec![0.0; dim];
    for r in 0..nr {
        x[r] = (0.1 + 0.2 * rng.uniform()).ln();
        x[nr + r] = -1.5 + 0.5 * rng.normal();
        x[2 * nr + nc + r] = -3.5 + 0.25 * rng.normal();
        x[3 * nr + nc + nd - 1 + r] = 2.0 + 0.5 * rng.normal();
    }
    for i in 0..nc {
        x[2 * nr + i] = rng.normal();
    }
    for d in 0..nd - 1 {
        x[3 * nr + nc + d] = 0.25 * rng.normal();
        x[4 * nr + nc + nd - 1 + d] = 0.5 * rng.normal();
    }
    let mut grad = vec![0.0; dim];
    let lp = model.log_density(&x, &mut grad).expect("finite density");
    assert!(lp.is_finite());
    let mut scratch = vec![0.0; dim];
    for k in 0..dim {
        let h = 1e-5 * (1.0 + x[k].abs());
        let mut xp = x.clone();
        xp[k] += h;
        let up = model.log_density(&xp, &mut scratch).unwrap();
        xp[k] -= 2.0 * h;
        let down = model.log_density(&xp, &mut scratch).unwrap();
        let fd = (up - down) / (2.0 * h);
        // Central differences of a sum of large terms (log-likelihoods of
        // 10⁵ stops): compare with a tolerance relative to the scale of the
        // density's terms.
        let tol = 1e-6 * (1.0 + grad[k].abs()) + 1e-9 * lp.abs() / h;
        assert!(
            (fd - grad[k]).abs() < tol,
            "component {k}: analytic {} vs finite differences {fd} (tol {tol})",
            grad[k]
        );
    }
}

#[test]
fn gradient_matches_finite_differences() {
    for (state, seed) in [("RI", 1), ("CT", 2), ("IL", 3)] {
        let cells: Vec<CellCounts> = sopp_state(state).into_iter().map(|(c, _)| c).collect();
        let model = ThresholdModel::new(&cells).unwrap();
        check_gradient(&model, seed);
        check_gradient(&model.clone().with_centred_thresholds(true), seed + 10);
    }
}

// ---------------------------------------------------------------------------
// Input checks

fn small_input() -> Vec<CellCounts> {
    let mut v = Vec::new();
    for d in 0..5 {
        for r in ["White", "Black"] {
            v.push(CellCounts {
                location: format!("L{d}"),
                race: r.to_string(),
                stops: 1000,
                searches: 30,
                hits: 10,
            });
        }
    }
    v
}

#[test]
fn bad_input_is_refused() {
    let mut v = small_input();
    v[3].hits = 31;
    assert!(matches!(
        ThresholdModel::new(&v),
        Err(ThresholdError::InvalidCounts { .. })
    ));
    let mut v = small_input();
    v.push(v[0].clone());
    assert!(matches!(
        ThresholdModel::new(&v),
        Err(ThresholdError::DuplicateCell { .. })
    ));
    let v: Vec<CellCounts> = small_input().into_iter().take(8).collect();
    assert_eq!(
        ThresholdModel::new(&v).unwrap_err(),
        ThresholdError::TooFewGroups {
            races: 2,
            locations: 4
        }
    );
    let options = FitOptions {
        reference_race: Some("Purple".into()),
        ..FitOptions::default()
    };
    assert_eq!(
        fit(&small_input(), &options).unwrap_err(),
        ThresholdError::UnknownReferenceRace("Purple".into())
    );
}

#[test]
fn unconverged_fit_withholds_its_estimates() {
    // Ten draws per chain cannot reach a bulk ESS of 400.
    let cells: Vec<CellCounts> = sopp_state("RI").into_iter().map(|(c, _)| c).collect();
    let options = FitOptions {
        warmup: 20,
        draws: 10,
        ..FitOptions::default()
    };
    let result = fit(&cells, &options).unwrap();
    assert!(!result.converged);
    let err = result.estimates().unwrap_err();
    assert!(err.to_string().contains("bulk ESS"), "{err}");
    assert_eq!(result.estimates_unchecked().cells.len(), cells.len());
}

// ---------------------------------------------------------------------------
// SOPP's published thresholds

fn check_against_sopp(state: &str) {
    let rows = sopp_state(state);
    let cells: Vec<CellCounts> = rows.iter().map(|(c, _)| c.clone()).collect();
    let options = FitOptions {
        reference_race: Some("White".into()),
        ..FitOptions::default()
    };
    let result = fit(&cells, &options).unwrap();
    let d = &result.diagnostics;
    let est = result
        .estimates()
        .unwrap_or_else(|e| panic!("{state}: {e} ({d:?})"));
    let mut worst: f64 = 0.0;
    for (cell, (input, sopp)) in est.cells.iter().zip(&rows) {
        assert_eq!(cell.location, input.location);
        assert_eq!(cell.race, input.race);
        let diff = (cell.threshold.mean - sopp).abs();
        worst = worst.max(diff);
        assert!(
            diff <= 0.02,
            "{state} {} / {}: threshold {:.4} vs SOPP {sopp:.4}",
            cell.location,
            cell.race,
            cell.threshold.mean
        );
        assert!(cell.threshold.lower <= cell.threshold.mean);
        assert!(cell.threshold.mean <= cell.threshold.upper);
    }
    let ours: Vec<(CellCounts, f64)> = est
        .cells
        .iter()
        .zip(&rows)
        .map(|(c, (input, _))| (input.clone(), c.threshold.mean))
        .collect();
    assert_eq!(ordering(&ours), ordering(&rows), "{state}: race ordering");
    // The race averages are the stop-weighted averages of the cells'
    // draws, so their means agree with the weighted cell means.
    let order_from_races = {
        let mut v: Vec<(String, f64)> = est
            .races
            .iter()
            .map(|r| (r.race.clone(), r.threshold.mean))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v.into_iter().map(|(r, _)| r).collect::<Vec<_>>()
    };
    assert_eq!(order_from_races, ordering(&rows));
    let white = est.races.iter().find(|r| r.race == "White").unwrap();
    assert!(white.difference_from_reference.is_none());
    for r in est.races.iter().filter(|r| r.race != "White") {
        let diff = r.difference_from_reference.unwrap();
        assert!((diff.mean - (r.threshold.mean - white.threshold.mean)).abs() < 1e-12);
        assert!(diff.lower < diff.mean && diff.mean < diff.upper);
    }
    // Posterior predictive check: the model reproduces the observed rates
    // (SOPP report RMS errors of a fraction of a percentage point).
    assert!(
        est.search_rate_rms_error < 0.005,
        "{}",
        est.search_rate_rms_error
    );
    assert!(est.hit_rate_rms_error < 0.05, "{}", est.hit_rate_rms_error);
    eprintln!(
        "{state}: max |threshold − SOPP| = {worst:.4}, R-hat {:.3}, bulk ESS {:.0}, {} divergences",
        d.max_rhat, d.min_ess_bulk, d.divergences
    );
}

#[test]
fn rhode_island_matches_sopp() {
    check_against_sopp("RI");
}

#[test]
fn connecticut_matches_sopp() {
    check_against_sopp("CT");
}

// ---------------------------------------------------------------------------
// Coverage on data simulated from the model

/// A data set drawn from the model with parameters drawn from its priors:
/// each stopped driver's risk is drawn from the cell's beta distribution,
/// the driver is searched when it exceeds the cell's threshold and the
/// search finds contraband with probability equal to the risk.
fn simulate(rng: &mut Rng, locations: usize, stops: u64) -> (Vec<CellCounts>, Vec<f64>) {
    let races = ["White", "Black", "Hispanic"];
    let sigma: Vec<f64> = races.iter().map(|_| (0.25 * rng.normal()).abs()).collect();
    let t_r: Vec<f64> = races.iter().map(|_| -2.0 + rng.normal()).collect();
    let phi_r: Vec<f64> = races.iter().map(|_| -3.5 + 0.25 * rng.normal()).collect();
    let lambda_r: Vec<f64> = races.iter().map(|_| 2.0 + 0.5 * rng.normal()).collect();
    let mut cells = Vec::new();
    let mut truth = Vec::new();
    for d in 0..locations {
        let (phi_d, lambda_d) = if d == 0 {
            (0.0, 0.0)
        } else {
            (0.25 * rng.normal(), 0.5 * rng.normal())
        };
        for (r, race) in races.iter().enumerate() {
            let t = inv_logit(t_r[r] + sigma[r] * rng.normal());
            let phi = inv_logit(phi_r[r] + phi_d);
            let lambda = (lambda_r[r] + lambda_d).exp();
            // Location 0 is pinned in the model: it must be the largest.
            let n = if d == 0 { 2 * stops } else { stops };
            let (mut s, mut h) = (0, 0);
            for _ in 0..n {
                let risk = rng.beta(lambda * phi, lambda * (1.0 - phi));
                if risk > t {
                    s += 1;
                    if rng.uniform() < risk {
                        h += 1;
                    }
                }
            }
            cells.push(CellCounts {
                location: format!("L{d}"),
                race: race.to_string(),
                stops: n,
                searches: s,
                hits: h,
            });
            truth.push(t);
        }
    }
    (cells, truth)
}

#[test]
fn intervals_cover_simulated_thresholds_at_their_nominal_rate() {
    let seeds = 20;
    let options = FitOptions {
        interval: 0.9,
        warmup: 300,
        draws: 300,
        ..FitOptions::default()
    };
    let (mut covered, mut total) = (0, 0);
    let mut unconverged = 0;
    for seed in 0..seeds {
        let mut rng = Rng(1000 + seed);
        let (cells, truth) = simulate(&mut rng, 5, 4000);
        let options = FitOptions {
            seed: seed + 1,
            ..options.clone()
        };
        let result = fit(&cells, &options).unwrap();
        if result.diagnostics.max_rhat > 1.05 {
            unconverged += 1;
        }
        for (cell, t) in result.estimates_unchecked().cells.iter().zip(&truth) {
            total += 1;
            if cell.threshold.lower <= *t && *t <= cell.threshold.upper {
                covered += 1;
            }
        }
    }
    let rate = covered as f64 / total as f64;
    eprintln!(
        "90% intervals cover {covered} of {total} simulated thresholds ({rate:.3}); {unconverged} fits with R-hat > 1.05"
    );
    // 300 intervals: at 90% the binomial sd is 1.7 points; the thresholds of
    // one data set share hyperparameters, so allow about three sd each way.
    assert!((0.84..=0.96).contains(&rate), "coverage {rate}");
    assert!(unconverged <= 1, "{unconverged} fits with R-hat > 1.05");
}
