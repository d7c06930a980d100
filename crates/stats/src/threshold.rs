//! The threshold test for discrimination in search decisions (Simoiu,
//! Corbett-Davies & Goel 2017, "The problem of infra-marginality in outcome
//! tests for discrimination"; Pierson et al. 2020, "A large-scale analysis
//! of racial disparities in police stops across the United States").
//!
//! The hit-rate (outcome) test compares how often searches of each group
//! find contraband; it misleads when the groups' risk distributions differ
//! (infra-marginality). The threshold test instead infers the *threshold*
//! of suspicion above which officers search, per group and location, from
//! the search and hit rates together.
//!
//! # Model
//!
//! This is the Stanford Open Policing Project's hierarchical model (their
//! `model_flat.stan`, the one behind the 2020 paper and its Figure 4b), in
//! the same parameterisation and with the same priors. For each row i
//! (a location d and a race r, with n stops, s searches and h hits):
//!
//! - risk of carrying contraband among stopped drivers:
//!   X ~ Beta(λφ, λ(1 − φ)), with mean φ = logit⁻¹(φ_r + φ_d) and
//!   precision λ = exp(λ_r + λ_d); φ_d = λ_d = 0 for one location (the one
//!   with the most stops) so that race and location effects are identified;
//! - threshold: t = logit⁻¹(t_r + σ_r z_i), z_i ~ N(0, 1) (non-centred,
//!   so t is logit-normal around t_r with spread σ_r);
//! - search rate S = P(X > t), hit rate H = E[X | X > t];
//! - likelihood: s ~ Binomial(n, S), h ~ Binomial(s, H);
//! - priors: σ_r ~ N⁺(0, 0.25), t_r ~ N(−2, 1), φ_r ~ N(−3.5, 0.25),
//!   λ_r ~ N(2, 0.5), φ_d ~ N(0, 0.25), λ_d ~ N(0, 0.5).
//!
//! The 2017 paper's Stan code has the same likelihood and structure but
//! vague N(0, 2) priors and location effects drawn from fitted
//! hyperpriors (φ_d ~ N(μ_φ, σ_φ), λ_d ~ N(μ_λ, σ_λ)); the fixed priors above
//! are those of the code that produced SOPP's published per-county
//! thresholds (`fig4b_threshold_test.csv`), which this module is tested
//! against. Note that the risk distribution is a beta distribution, in
//! SOPP's mean–precision form; it is the thresholds that are logit-normal
//! across locations.
//!
//! S and H need the regularised incomplete beta function I_t(a, b) and its
//! derivatives in a and b, which have no closed form. With
//! E = tᵃ(1 − t)ᵇ / B(a, b) the recurrence I_t(a + 1, b) = I_t(a, b) − E/a
//! gives H = φ + E/(λS), so one incomplete beta per row suffices. It is
//! evaluated by its continued fraction (on whichever side of the mean
//! converges fast, so the smaller tail is computed directly) in forward-mode
//! dual numbers carrying derivatives with respect to the three linear
//! predictors of the row, logit t, logit φ and log λ; the chain rule to the
//! parameters is then a sum over rows. The gradient is checked against
//! finite differences in the tests.
//!
//! # Sampling and reporting
//!
//! The posterior is sampled by NUTS (the `nuts-rs` crate, the sampler of
//! nutpie, with its diagonal mass-matrix adaptation) in several chains run
//! in parallel, started like SOPP's from uniform draws over plausible
//! ranges. The sampler moves location *levels* (φ_d + mean_r φ_r, and the
//! same for λ) rather than location effects, a linear change of variables
//! that leaves the posterior unchanged; the thresholds are non-centred as
//! in SOPP's code by default ([`FitOptions::centring`]).
//!
//! Every result carries
//! rank-normalised split R-hat and bulk ESS ([`crate::diagnostics`]) of each
//! reported threshold, race average and difference and of every model
//! parameter, and the number of divergent transitions; a result whose
//! diagnostics fail does not hand out its estimates
//! ([`ThresholdResult::estimates`]). The limits ([`FitOptions`]): R-hat at
//! most 1.01 and bulk ESS at least 400 for every reported quantity, R-hat at
//! most 1.05 and bulk ESS at least 100 for every model parameter, and at
//! most 0.1% of draws divergent.
//!
//! Cost: each gradient evaluates one incomplete beta function per cell
//! (about half a microsecond), and the posterior needs long trajectories
//! (tree depth 6 to 8) because each cell's threshold, risk mean and risk
//! spread are only weakly identified from its two rates; a state of 20 to
//! 150 cells takes seconds to about a minute on two cores, Texas's 300
//! cells several minutes (see `bench/RESULTS.md`).
//!
//! Race averages weight each location by its stops of all races, as SOPP
//! does; differences are taken draw by draw against a reference race.

use std::collections::HashMap;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::diagnostics;
use crate::special::ln_gamma;

// ---------------------------------------------------------------------------
// Priors (SOPP's model_flat.stan)

/// Half-normal scale of the threshold spread σ_r.
const SIGMA_T_SCALE: f64 = 0.25;
/// Mean and sd of the race threshold t_r (logit scale).
const T_R_MEAN: f64 = -2.0;
const T_R_SD: f64 = 1.0;
/// Mean and sd of the race risk mean φ_r (logit scale).
const PHI_R_MEAN: f64 = -3.5;
const PHI_R_SD: f64 = 0.25;
/// Mean and sd of the race risk precision λ_r (log scale).
const LAMBDA_R_MEAN: f64 = 2.0;
const LAMBDA_R_SD: f64 = 0.5;
/// Sd of the location effects φ_d and λ_d.
const PHI_D_SD: f64 = 0.25;
const LAMBDA_D_SD: f64 = 0.5;

// ---------------------------------------------------------------------------
// Forward-mode dual numbers with three partial derivatives.

#[derive(Clone, Copy, Debug)]
struct Dual {
    v: f64,
    d: [f64; 3],
}

impl Dual {
    const fn cst(v: f64) -> Dual {
        Dual { v, d: [0.0; 3] }
    }

    fn map(self, v: f64, dv: f64) -> Dual {
        Dual {
            v,
            d: [self.d[0] * dv, self.d[1] * dv, self.d[2] * dv],
        }
    }

    fn exp(self) -> Dual {
        let e = self.v.exp();
        self.map(e, e)
    }

    fn ln(self) -> Dual {
        self.map(self.v.ln(), 1.0 / self.v)
    }

    fn ln_gamma(self) -> Dual {
        self.map(ln_gamma(self.v), digamma(self.v))
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            d: [self.d[0] + o.d[0], self.d[1] + o.d[1], self.d[2] + o.d[2]],
        }
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual {
            v: self.v - o.v,
            d: [self.d[0] - o.d[0], self.d[1] - o.d[1], self.d[2] - o.d[2]],
        }
    }
}

impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            d: [
                self.d[0] * o.v + self.v * o.d[0],
                self.d[1] * o.v + self.v * o.d[1],
                self.d[2] * o.v + self.v * o.d[2],
            ],
        }
    }
}

impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        let q = self.v / o.v;
        let r = 1.0 / o.v;
        Dual {
            v: q,
            d: [
                (self.d[0] - q * o.d[0]) * r,
                (self.d[1] - q * o.d[1]) * r,
                (self.d[2] - q * o.d[2]) * r,
            ],
        }
    }
}

impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual {
            v: -self.v,
            d: [-self.d[0], -self.d[1], -self.d[2]],
        }
    }
}

impl Add<f64> for Dual {
    type Output = Dual;
    fn add(self, c: f64) -> Dual {
        Dual {
            v: self.v + c,
            d: self.d,
        }
    }
}

impl Sub<f64> for Dual {
    type Output = Dual;
    fn sub(self, c: f64) -> Dual {
        Dual {
            v: self.v - c,
            d: self.d,
        }
    }
}

impl Mul<f64> for Dual {
    type Output = Dual;
    fn mul(self, c: f64) -> Dual {
        self.map(self.v * c, c)
    }
}

impl Add<Dual> for f64 {
    type Output = Dual;
    fn add(self, x: Dual) -> Dual {
        x + self
    }
}

impl Sub<Dual> for f64 {
    type Output = Dual;
    fn sub(self, x: Dual) -> Dual {
        -x + self
    }
}

impl Mul<Dual> for f64 {
    type Output = Dual;
    fn mul(self, x: Dual) -> Dual {
        x * self
    }
}

/// Digamma ψ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to
/// x ≥ 10, then the asymptotic series to x⁻¹² (the next term is below
/// 1e-15 there).
fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // Σ B_2k / (2k x^2k) for k = 1..6.
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32760.0)))));
    acc + x.ln() - 0.5 * inv - series
}

/// ln(1 + e^x) without overflow or loss of precision.
fn softplus(x: f64) -> f64 {
    if x > 35.0 {
        x
    } else if x < -35.0 {
        x.exp()
    } else {
        x.exp().ln_1p()
    }
}

fn inv_logit(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// A dual number with two partial derivatives (with respect to logit φ and
/// log λ), for the continued fraction, whose argument x = t does not depend
/// on them.
#[derive(Clone, Copy, Debug)]
struct Dual2 {
    v: f64,
    d: [f64; 2],
}

impl Dual2 {
    const fn cst(v: f64) -> Dual2 {
        Dual2 { v, d: [0.0; 2] }
    }

    fn of(x: Dual) -> Dual2 {
        Dual2 {
            v: x.v,
            d: [x.d[1], x.d[2]],
        }
    }

    fn add(self, o: Dual2) -> Dual2 {
        Dual2 {
            v: self.v + o.v,
            d: [self.d[0] + o.d[0], self.d[1] + o.d[1]],
        }
    }

    fn add_c(self, c: f64) -> Dual2 {
        Dual2 {
            v: self.v + c,
            d: self.d,
        }
    }

    fn mul(self, o: Dual2) -> Dual2 {
        Dual2 {
            v: self.v * o.v,
            d: [
                self.d[0] * o.v + self.v * o.d[0],
                self.d[1] * o.v + self.v * o.d[1],
            ],
        }
    }

    fn scale(self, c: f64) -> Dual2 {
        Dual2 {
            v: self.v * c,
            d: [self.d[0] * c, self.d[1] * c],
        }
    }

    fn div(self, o: Dual2) -> Dual2 {
        let q = self.v / o.v;
        let r = 1.0 / o.v;
        Dual2 {
            v: q,
            d: [(self.d[0] - q * o.d[0]) * r, (self.d[1] - q * o.d[1]) * r],
        }
    }
}

/// The continued fraction of the incomplete beta function,
/// I_x(a, b) = xᵃ(1 − x)ᵇ / (a B(a, b)) · 1/(1 + d₁/(1 + d₂/(1 + …))) with
/// d₂ₘ₊₁ = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)) and
/// d₂ₘ = m(b − m)x / ((a + 2m − 1)(a + 2m)). Converges fast for
/// x < (a + 1)/(a + b + 2).
///
/// Evaluated by the forward (Wallis) recurrence on an equivalent fraction
/// whose partial numerators and denominators are the polynomial numerators
/// and denominators of the d's, so the loop has no division of dual numbers
/// (they dominate the cost otherwise); the convergents are rescaled to stay
/// in range. The derivatives are with respect to a and b only (x is a
/// plain number; the caller supplies the x derivative of the incomplete
/// beta, the density). Iterates until the value and its derivatives have
/// settled; `None` if they do not.
fn beta_cf(a: Dual2, b: Dual2, x: f64) -> Option<Dual2> {
    const EPS: f64 = 1e-12;
    const MAX_ITER: usize = 1000;
    let qab = a.add(b);
    // With dₖ = pₖ/qₖ, multiplying the k-th level of the fraction by qₖ (an
    // equivalence transformation) gives partial numerators qₖ₋₁pₖ and
    // partial denominators qₖ (q₀ = 1). Convergents Aₖ/Bₖ, with
    // Aₖ₊₁ = qₖAₖ + qₖ₋₁pₖAₖ₋₁; level 1 (numerator 1, denominator 1)
    // gives A₁ = B₁ = 1 from A₀ = 0, B₀ = 1.
    let mut a_prev = Dual2::cst(0.0);
    let mut b_prev = Dual2::cst(1.0);
    let mut a_cur = Dual2::cst(1.0);
    let mut b_cur = Dual2::cst(1.0);
    let mut q_prev = Dual2::cst(1.0);
    let mut last = Dual2::cst(1.0);
    for k in 1..=2 * MAX_ITER {
        let (p, q) = if k % 2 == 1 {
            let m = ((k - 1) / 2) as f64;
            (
                a.add_c(m).mul(qab.add_c(m)).scale(-x),
                a.add_c(2.0 * m).mul(a.add_c(2.0 * m + 1.0)),
            )
        } else {
            let m = (k / 2) as f64;
            (
                b.add_c(-m).scale(m * x),
                a.add_c(2.0 * m - 1.0).mul(a.add_c(2.0 * m)),
            )
        };
        let alpha = q_prev.mul(p);
        let a_next = q.mul(a_cur).add(alpha.mul(a_prev));
        let b_next = q.mul(b_cur).add(alpha.mul(b_prev));
        a_prev = a_cur;
        b_prev = b_cur;
        a_cur = a_next;
        b_cur = b_next;
        q_prev = q;
        // Rescale by a plain number: the ratios, derivatives included, are
        // unchanged.
        let scale = b_cur.v.abs();
        if !(scale > 0.0 && scale.is_finite()) {
            return None;
        }
        let inv = 1.0 / scale;
        a_prev = a_prev.scale(inv);
        b_prev = b_prev.scale(inv);
        a_cur = a_cur.scale(inv);
        b_cur = b_cur.scale(inv);
        if k % 2 == 0 {
            let f = a_cur.div(b_cur);
            let settled = (f.v - last.v).abs() <= EPS * f.v.abs()
                && (0..2).all(|j| (f.d[j] - last.d[j]).abs() <= EPS * (f.v.abs() + f.d[j].abs()));
            if settled {
                return Some(f);
            }
            last = f;
        }
    }
    None
}

/// Search rate, its complement and hit rate of one row as dual numbers in
/// (logit t, logit φ, log λ).
struct RowRates {
    search: Dual,
    no_search: Dual,
    hit: Dual,
    miss: Dual,
}

fn row_rates(logit_t: f64, logit_phi: f64, log_lambda: f64) -> Option<RowRates> {
    let t = inv_logit(logit_t);
    let tc = inv_logit(-logit_t);
    let phi = inv_logit(logit_phi);
    let phic = inv_logit(-logit_phi);
    let lam = log_lambda.exp();
    let dphi = phi * phic;
    // d/du ln σ(u) = 1 − σ(u); d/du ln(1 − σ(u)) = −σ(u).
    let ln_t = Dual {
        v: -softplus(-logit_t),
        d: [tc, 0.0, 0.0],
    };
    let ln_tc = Dual {
        v: -softplus(logit_t),
        d: [-t, 0.0, 0.0],
    };
    let phi_d = Dual {
        v: phi,
        d: [0.0, dphi, 0.0],
    };
    let phic_d = Dual {
        v: phic,
        d: [0.0, -dphi, 0.0],
    };
    let lam_d = Dual {
        v: lam,
        d: [0.0, 0.0, lam],
    };
    let a = lam_d * phi_d;
    let b = lam_d * phic_d;
    if !(a.v > 0.0 && b.v > 0.0 && a.v.is_finite() && b.v.is_finite()) {
        return None;
    }
    let ln_beta = a.ln_gamma() + b.ln_gamma() - lam_d.ln_gamma();
    let e = (a * ln_t + b * ln_tc - ln_beta).exp();
    // The fraction's derivatives in (logit φ, log λ), embedded with a zero
    // logit-t derivative; that one is the density: d/du P(X > t) = −E.
    let embed = |c: Dual2| Dual {
        v: c.v,
        d: [0.0, c.d[0], c.d[1]],
    };
    let (search, no_search) = if t < (a.v + 1.0) / (lam + 2.0) {
        let mut cdf = e * embed(beta_cf(Dual2::of(a), Dual2::of(b), t)?) / a;
        cdf.d[0] = e.v;
        (1.0 - cdf, cdf)
    } else {
        let mut sf = e * embed(beta_cf(Dual2::of(b), Dual2::of(a), tc)?) / b;
        sf.d[0] = -e.v;
        (sf, 1.0 - sf)
    };
    let extra = e / (lam_d * search);
    let hit = phi_d + extra;
    let miss = phic_d - extra;
    let ok = |x: &Dual| x.v > 0.0 && x.v <= 1.0 && x.d.iter().all(|g| g.is_finite());
    if !(ok(&search) && ok(&no_search) && ok(&hit) && ok(&miss)) {
        return None;
    }
    Some(RowRates {
        search,
        no_search,
        hit,
        miss,
    })
}

/// Search rate P(X > t) and hit rate E[X | X > t] for risk
/// X ~ Beta(λφ, λ(1 − φ)) and threshold t. `None` if the parameters are out
/// of range or the rates underflow.
///
/// ```
/// // Beta(1, 1) is uniform: above 0.5, search rate 0.5 and hit rate 0.75.
/// let (s, h) = stats::threshold::search_and_hit_rate(0.5, 0.5, 2.0).unwrap();
/// assert!((s - 0.5).abs() < 1e-12 && (h - 0.75).abs() < 1e-12);
/// ```
pub fn search_and_hit_rate(threshold: f64, phi: f64, lambda: f64) -> Option<(f64, f64)> {
    if !(threshold > 0.0 && threshold < 1.0 && phi > 0.0 && phi < 1.0 && lambda > 0.0) {
        return None;
    }
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let r = row_rates(logit(threshold), logit(phi), lambda.ln())?;
    Some((r.search.v, r.hit.v))
}

// ---------------------------------------------------------------------------
// Data and the model

/// One cell of the input: stops, searches and hits of one race in one
/// location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellCounts {
    /// Location (county, district, ...).
    pub location: String,
    /// Race (or other group) of the stopped drivers.
    pub race: String,
    /// Stops.
    pub stops: u64,
    /// Searches among those stops.
    pub searches: u64,
    /// Searches that found contraband.
    pub hits: u64,
}

/// What is wrong with the input of the threshold test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThresholdError {
    /// A cell has no stops, more searches than stops or more hits than
    /// searches.
    InvalidCounts {
        /// Location of the cell.
        location: String,
        /// Race of the cell.
        race: String,
    },
    /// The same location and race appear twice.
    DuplicateCell {
        /// Location of the cell.
        location: String,
        /// Race of the cell.
        race: String,
    },
    /// Fewer than two races or five locations: the race and location
    /// effects are not identified (SOPP's rule).
    TooFewGroups {
        /// Races in the input.
        races: usize,
        /// Locations in the input.
        locations: usize,
    },
    /// The reference race is not among the races of the input.
    UnknownReferenceRace(String),
    /// No search at all: search and hit rates carry no information on
    /// thresholds.
    NoSearches,
    /// Invalid sampler settings (zero chains or draws and the like).
    Settings(String),
    /// The sampler failed (a chain could not start or stopped on an
    /// unrecoverable error).
    Sampler(String),
}

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThresholdError::InvalidCounts { location, race } => write!(
                f,
                "cell {location} / {race}: need stops > 0, searches ≤ stops and hits ≤ searches"
            ),
            ThresholdError::DuplicateCell { location, race } => {
                write!(f, "cell {location} / {race} appears more than once")
            }
            ThresholdError::TooFewGroups { races, locations } => write!(
                f,
                "the threshold test needs at least 2 races and 5 locations, got {races} and {locations}"
            ),
            ThresholdError::UnknownReferenceRace(r) => {
                write!(f, "reference race {r:?} is not in the data")
            }
            ThresholdError::NoSearches => write!(f, "no searches in the data"),
            ThresholdError::Settings(m) => write!(f, "invalid sampler settings: {m}"),
            ThresholdError::Sampler(m) => write!(f, "sampler failed: {m}"),
        }
    }
}

impl std::error::Error for ThresholdError {}

/// The threshold model's log posterior density on the unconstrained scale,
/// with its gradient.
///
/// Parameter layout (R races, D locations, N cells): ln σ (R), t_r (R),
/// z (N), φ_r (R), φ_d (D − 1), λ_r (R), λ_d (D − 1); location 0 is the
/// pinned one (the one with the most stops), so φ_d and λ_d are indexed by
/// location − 1.
#[derive(Clone, Debug)]
pub struct ThresholdModel {
    races: Vec<String>,
    locations: Vec<String>,
    /// Per cell: race index, location index, n, s, h.
    race_of: Vec<usize>,
    loc_of: Vec<usize>,
    n: Vec<f64>,
    s: Vec<f64>,
    h: Vec<f64>,
    /// The cells, in the order of the input.
    cells: Vec<CellCounts>,
    /// Per cell: whether the sampler sees logit t directly (centred) or
    /// through z = (logit t − t_r)/σ_r (non-centred).
    centred: Vec<bool>,
}

impl ThresholdModel {
    /// Checks and indexes the cells. Races keep their order of first
    /// appearance; locations are ordered by total stops, largest first (ties
    /// by first appearance), and the first is the pinned one.
    pub fn new(cells: &[CellCounts]) -> Result<ThresholdModel, ThresholdError> {
        let mut races: Vec<String> = Vec::new();
        let mut loc_first: Vec<String> = Vec::new();
        let mut loc_stops: HashMap<&str, u64> = HashMap::new();
        let mut seen: HashMap<(&str, &str), ()> = HashMap::new();
        for c in cells {
            if c.stops == 0 || c.searches > c.stops || c.hits > c.searches {
                return Err(ThresholdError::InvalidCounts {
                    location: c.location.clone(),
                    race: c.race.clone(),
                });
            }
            if seen.insert((&c.location, &c.race), ()).is_some() {
                return Err(ThresholdError::DuplicateCell {
                    location: c.location.clone(),
                    race: c.race.clone(),
                });
            }
            if !races.contains(&c.race) {
                races.push(c.race.clone());
            }
            let e = loc_stops.entry(&c.location).or_insert_with(|| {
                loc_first.push(c.location.clone());
                0
            });
            *e += c.stops;
        }
        if races.len() < 2 || loc_first.len() < 5 {
            return Err(ThresholdError::TooFewGroups {
                races: races.len(),
                locations: loc_first.len(),
            });
        }
        if cells.iter().all(|c| c.searches == 0) {
            return Err(ThresholdError::NoSearches);
        }
        let mut locations = loc_first.clone();
        // Stable sort: ties keep their first appearance.
        locations.sort_by_key(|l| std::cmp::Reverse(loc_stops[l.as_str()]));
        let race_idx: HashMap<&str, usize> = races
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), i))
            .collect();
        let loc_idx: HashMap<&str, usize> = locations
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        Ok(ThresholdModel {
            race_of: cells.iter().map(|c| race_idx[c.race.as_str()]).collect(),
            loc_of: cells.iter().map(|c| loc_idx[c.location.as_str()]).collect(),
            n: cells.iter().map(|c| c.stops as f64).collect(),
            s: cells.iter().map(|c| c.searches as f64).collect(),
            h: cells.iter().map(|c| c.hits as f64).collect(),
            races,
            locations,
            cells: cells.to_vec(),
            centred: vec![false; cells.len()],
        })
    }

    /// The same model with the cell thresholds parameterised centred (the
    /// sampler moves logit t itself, with prior N(t_r, σ_r)) or non-centred
    /// (it moves z ~ N(0, 1), logit t = t_r + σ_r z, as SOPP's Stan code).
    /// The posterior is the same; which one samples faster depends on how
    /// strongly the data pin each threshold down (centred when they do).
    pub fn with_centred_thresholds(mut self, centred: bool) -> ThresholdModel {
        self.centred.fill(centred);
        self
    }

    /// The same model with the thresholds of cells with at least
    /// `min_searches` searches centred and the others non-centred (the
    /// usual remedy when some cells are pinned down by their data and
    /// others are not).
    pub fn with_centred_thresholds_from(mut self, min_searches: u64) -> ThresholdModel {
        for (c, cell) in self.centred.iter_mut().zip(&self.cells) {
            *c = cell.searches >= min_searches;
        }
        self
    }

    /// Number of unconstrained parameters.
    pub fn dim(&self) -> usize {
        let (r, d, n) = self.sizes();
        4 * r + n + 2 * (d - 1)
    }

    fn sizes(&self) -> (usize, usize, usize) {
        (self.races.len(), self.locations.len(), self.n.len())
    }

    /// Races, in order of first appearance.
    pub fn races(&self) -> &[String] {
        &self.races
    }

    /// Locations, by total stops (the first is the pinned one).
    pub fn locations(&self) -> &[String] {
        &self.locations
    }

    fn offsets(&self) -> Offsets {
        let (r, d, n) = self.sizes();
        let log_sigma = 0;
        let t_r = r;
        let z = 2 * r;
        let phi_r = z + n;
        let phi_d = phi_r + r;
        let lambda_r = phi_d + d - 1;
        let lambda_d = lambda_r + r;
        Offsets {
            log_sigma,
            t_r,
            z,
            phi_r,
            phi_d,
            lambda_r,
            lambda_d,
        }
    }

    /// The three linear predictors (logit t, logit φ, log λ) of cell i.
    fn predictors(&self, o: &Offsets, x: &[f64], i: usize) -> (f64, f64, f64) {
        let r = self.race_of[i];
        let d = self.loc_of[i];
        let u = if self.centred[i] {
            x[o.z + i]
        } else {
            x[o.t_r + r] + x[o.log_sigma + r].exp() * x[o.z + i]
        };
        let (pd, ld) = if d == 0 {
            (0.0, 0.0)
        } else {
            (x[o.phi_d + d - 1], x[o.lambda_d + d - 1])
        };
        (u, x[o.phi_r + r] + pd, x[o.lambda_r + r] + ld)
    }

    /// Log posterior density (up to a constant) at `x`, writing its
    /// gradient into `grad`. `None` where the density is not finite (the
    /// rates underflow far out in the tails).
    pub fn log_density(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        assert_eq!(x.len(), self.dim(), "parameter vector of the wrong length");
        assert_eq!(grad.len(), self.dim(), "gradient of the wrong length");
        let (nr, nd, _) = self.sizes();
        let o = self.offsets();
        grad.fill(0.0);
        let mut lp = 0.0;
        let mut normal = |k: usize, mean: f64, sd: f64, lp: &mut f64| {
            let z = (x[k] - mean) / sd;
            *lp -= 0.5 * z * z;
            grad[k] -= z / sd;
        };
        for r in 0..nr {
            normal(o.t_r + r, T_R_MEAN, T_R_SD, &mut lp);
            normal(o.phi_r + r, PHI_R_MEAN, PHI_R_SD, &mut lp);
            normal(o.lambda_r + r, LAMBDA_R_MEAN, LAMBDA_R_SD, &mut lp);
        }
        for d in 0..nd - 1 {
            normal(o.phi_d + d, 0.0, PHI_D_SD, &mut lp);
            normal(o.lambda_d + d, 0.0, LAMBDA_D_SD, &mut lp);
        }
        for i in 0..self.n.len() {
            if !self.centred[i] {
                normal(o.z + i, 0.0, 1.0, &mut lp);
            }
        }
        // σ ~ N⁺(0, scale) on σ = e^ls, with the Jacobian e^ls.
        for r in 0..nr {
            let ls = x[o.log_sigma + r];
            let sigma = ls.exp();
            let q = sigma / SIGMA_T_SCALE;
            lp += -0.5 * q * q + ls;
            grad[o.log_sigma + r] += -q * q + 1.0;
        }
        // Centred cells: logit t ~ N(t_r, σ_r), density and gradient in
        // (u, t_r, ln σ).
        for i in 0..self.n.len() {
            if self.centred[i] {
                let r = self.race_of[i];
                let ls = x[o.log_sigma + r];
                let sigma = ls.exp();
                let z = (x[o.z + i] - x[o.t_r + r]) / sigma;
                lp += -0.5 * z * z - ls;
                grad[o.z + i] -= z / sigma;
                grad[o.t_r + r] += z / sigma;
                grad[o.log_sigma + r] += z * z - 1.0;
            }
        }
        for i in 0..self.n.len() {
            let (u, p, l) = self.predictors(&o, x, i);
            let rates = row_rates(u, p, l)?;
            let (n, s, h) = (self.n[i], self.s[i], self.h[i]);
            let mut acc = Dual::cst(0.0);
            if s > 0.0 {
                acc = acc + rates.search.ln() * s;
            }
            if n > s {
                acc = acc + rates.no_search.ln() * (n - s);
            }
            if h > 0.0 {
                acc = acc + rates.hit.ln() * h;
            }
            if s > h {
                acc = acc + rates.miss.ln() * (s - h);
            }
            if !acc.v.is_finite() {
                return None;
            }
            lp += acc.v;
            let [gu, gp, gl] = acc.d;
            let r = self.race_of[i];
            let d = self.loc_of[i];
            if self.centred[i] {
                grad[o.z + i] += gu;
            } else {
                let sigma = x[o.log_sigma + r].exp();
                let z = x[o.z + i];
                grad[o.t_r + r] += gu;
                grad[o.z + i] += gu * sigma;
                grad[o.log_sigma + r] += gu * sigma * z;
            }
            grad[o.phi_r + r] += gp;
            grad[o.lambda_r + r] += gl;
            if d > 0 {
                grad[o.phi_d + d - 1] += gp;
                grad[o.lambda_d + d - 1] += gl;
            }
        }
        if lp.is_finite() && grad.iter().all(|g| g.is_finite()) {
            Some(lp)
        } else {
            None
        }
    }

    /// Threshold, search rate and hit rate of every cell at `x`.
    fn cell_values(&self, x: &[f64]) -> Option<Vec<(f64, f64, f64)>> {
        let o = self.offsets();
        (0..self.n.len())
            .map(|i| {
                let (u, p, l) = self.predictors(&o, x, i);
                let r = row_rates(u, p, l)?;
                Some((inv_logit(u), r.search.v, r.hit.v))
            })
            .collect()
    }
}

struct Offsets {
    log_sigma: usize,
    t_r: usize,
    z: usize,
    phi_r: usize,
    phi_d: usize,
    lambda_r: usize,
    lambda_d: usize,
}

// ---------------------------------------------------------------------------
// Fitting

/// How to sample the posterior and when to call it converged.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Independent chains (at least 2, for R-hat).
    pub chains: usize,
    /// Warm-up (adaptation) iterations per chain, discarded.
    pub warmup: u64,
    /// Kept draws per chain.
    pub draws: u64,
    /// Seed of the random numbers; the same seed and options give the same
    /// result.
    pub seed: u64,
    /// Worker threads the chains are spread over (0: one per chain).
    pub threads: usize,
    /// Target acceptance statistic of the step-size adaptation (SOPP: 0.9
    /// to 0.95).
    pub target_accept: f64,
    /// Maximum tree depth of NUTS.
    pub max_depth: u64,
    /// Largest acceptable R-hat of a reported quantity (cell threshold,
    /// race average, difference); Vehtari et al. (2021) recommend 1.01.
    pub max_rhat: f64,
    /// Smallest acceptable bulk ESS of a reported quantity (400: 100 per
    /// chain for 4 chains, as Vehtari et al.).
    pub min_ess: f64,
    /// Largest acceptable R-hat of a model parameter (hyperparameters and
    /// effects, which are not reported: looser, as the maximum over
    /// hundreds of them exceeds 1.01 by chance with a few thousand draws).
    pub max_rhat_parameters: f64,
    /// Smallest acceptable bulk ESS of a model parameter.
    pub min_ess_parameters: f64,
    /// Largest acceptable share of kept draws that ended in a divergent
    /// transition.
    pub max_divergence_rate: f64,
    /// The race the others are compared with; `None`: the first race of the
    /// input.
    pub reference_race: Option<String>,
    /// Probability of the central credible intervals.
    pub interval: f64,
    /// Mass matrix adapted during warm-up.
    pub mass_matrix: MassMatrix,
    /// How the cell thresholds are parameterised for the sampler (the
    /// posterior is the same).
    pub centring: Centring,
}

/// How the sampler sees the cell thresholds (see
/// [`ThresholdModel::with_centred_thresholds`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Centring {
    /// z ~ N(0, 1), logit t = t_r + σ_r z, as SOPP's Stan code.
    NonCentred,
    /// logit t itself, with prior N(t_r, σ_r).
    Centred,
    /// Centred for cells with at least this many searches.
    FromSearches(u64),
}

/// The mass matrix NUTS adapts during warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MassMatrix {
    /// Diagonal, from the draws' variances and the gradients (nutpie's
    /// default).
    Diagonal,
    /// Diagonal plus a low-rank correction along the directions of strong
    /// posterior correlation (nutpie's `low_rank_modified_mass_matrix`).
    LowRank,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            chains: 4,
            warmup: 500,
            draws: 1000,
            seed: 1,
            threads: 2,
            target_accept: 0.95,
            max_depth: 10,
            max_rhat: 1.01,
            min_ess: 400.0,
            max_rhat_parameters: 1.05,
            min_ess_parameters: 100.0,
            max_divergence_rate: 0.001,
            reference_race: None,
            interval: 0.95,
            mass_matrix: MassMatrix::Diagonal,
            centring: Centring::NonCentred,
        }
    }
}

/// A posterior mean with a central credible interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Posterior mean.
    pub mean: f64,
    /// Lower end of the credible interval.
    pub lower: f64,
    /// Upper end of the credible interval.
    pub upper: f64,
}

/// A race's threshold averaged over locations.
#[derive(Clone, Debug, PartialEq)]
pub struct RaceThreshold {
    /// The race.
    pub race: String,
    /// Average threshold over locations, each weighted by its stops of all
    /// races (SOPP's weighting).
    pub threshold: Estimate,
    /// This race's average threshold minus the reference race's, draw by
    /// draw; `None` for the reference race itself.
    pub difference_from_reference: Option<Estimate>,
}

/// One location and race: its inferred threshold and the posterior
/// predictive check of its rates.
#[derive(Clone, Debug, PartialEq)]
pub struct CellThreshold {
    /// Location.
    pub location: String,
    /// Race.
    pub race: String,
    /// Stops, searches and hits of the input.
    pub stops: u64,
    /// Searches.
    pub searches: u64,
    /// Hits.
    pub hits: u64,
    /// Search threshold.
    pub threshold: Estimate,
    /// Observed search rate, searches / stops.
    pub observed_search_rate: f64,
    /// Observed hit rate, hits / searches (`None` without searches).
    pub observed_hit_rate: Option<f64>,
    /// The model's search rate.
    pub predicted_search_rate: Estimate,
    /// The model's hit rate.
    pub predicted_hit_rate: Estimate,
}

/// The estimates of a fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimates {
    /// The race the others are compared with.
    pub reference_race: String,
    /// Per race, in order of first appearance in the input.
    pub races: Vec<RaceThreshold>,
    /// Per cell, in the order of the input.
    pub cells: Vec<CellThreshold>,
    /// Posterior predictive check: root mean square of predicted minus
    /// observed search rate over cells, weighted by stops (SOPP's summary).
    pub search_rate_rms_error: f64,
    /// The same for hit rates (cells with searches).
    pub hit_rate_rms_error: f64,
}

/// Convergence diagnostics of a fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostics {
    /// Chains run.
    pub chains: usize,
    /// Warm-up iterations per chain.
    pub warmup: u64,
    /// Kept draws per chain.
    pub draws: u64,
    /// Largest rank-normalised split R-hat of a reported quantity (cell
    /// thresholds, race averages, differences).
    pub max_rhat: f64,
    /// The quantity with that R-hat.
    pub max_rhat_of: String,
    /// Smallest bulk effective sample size of a reported quantity.
    pub min_ess_bulk: f64,
    /// The quantity with that ESS.
    pub min_ess_bulk_of: String,
    /// Largest R-hat of a model parameter (unconstrained scale).
    pub max_rhat_parameters: f64,
    /// The parameter with that R-hat.
    pub max_rhat_parameters_of: String,
    /// Smallest bulk ESS of a model parameter.
    pub min_ess_bulk_parameters: f64,
    /// The parameter with that ESS.
    pub min_ess_bulk_parameters_of: String,
    /// Divergent transitions after warm-up, all chains.
    pub divergences: u64,
    /// Mean leapfrog steps per kept draw.
    pub mean_leapfrog_steps: f64,
    /// Draws that hit the maximum tree depth.
    pub max_depth_hits: u64,
    /// Gradient evaluations, all chains, warm-up included.
    pub gradient_evaluations: u64,
    /// Why the fit is not converged (empty when it is).
    pub problems: Vec<String>,
}

/// The result of [`fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdResult {
    estimates: Estimates,
    /// Convergence diagnostics.
    pub diagnostics: Diagnostics,
    /// Whether the diagnostics pass the limits of the [`FitOptions`].
    pub converged: bool,
}

/// A fit whose diagnostics failed: its numbers are not to be shown.
#[derive(Clone, Debug, PartialEq)]
pub struct NotConverged {
    /// The diagnostics' complaints.
    pub problems: Vec<String>,
}

impl fmt::Display for NotConverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the threshold test did not converge ({}); its estimates are not reliable",
            self.problems.join("; ")
        )
    }
}

impl std::error::Error for NotConverged {}

impl ThresholdResult {
    /// The estimates, if the fit converged.
    pub fn estimates(&self) -> Result<&Estimates, NotConverged> {
        if self.converged {
            Ok(&self.estimates)
        } else {
            Err(NotConverged {
                problems: self.diagnostics.problems.clone(),
            })
        }
    }

    /// The estimates whether or not the fit converged: for diagnosis and
    /// research, never for publication.
    pub fn estimates_unchecked(&self) -> &Estimates {
        &self.estimates
    }
}

/// The log density as the sampler sees it: the model's, in coordinates y
/// where each location effect is replaced by the location's level,
/// y_d = φ_d + mean_r φ_r (and the same for λ). This linear change of
/// variables (constant Jacobian: the posterior is the same) removes the
/// strongest correlation of the posterior: the data pin down φ_r + φ_d, so
/// in the model's coordinates every φ_d moves against the φ_r, a direction
/// a diagonal mass matrix cannot follow.
#[derive(Debug)]
struct Posterior {
    model: ThresholdModel,
    /// Scratch: the model's coordinates and gradient.
    x: Vec<f64>,
    gx: Vec<f64>,
}

impl Posterior {
    fn new(model: &ThresholdModel) -> Posterior {
        let dim = model.dim();
        Posterior {
            model: model.clone(),
            x: vec![0.0; dim],
            gx: vec![0.0; dim],
        }
    }
}

impl ThresholdModel {
    /// Sampler coordinates y to model coordinates x (see [`Posterior`]).
    fn sampler_to_model(&self, y: &[f64], x: &mut [f64]) {
        let (nr, nd, _) = self.sizes();
        let o = self.offsets();
        x.copy_from_slice(y);
        for (race, loc) in [(o.phi_r, o.phi_d), (o.lambda_r, o.lambda_d)] {
            let mean = y[race..race + nr].iter().sum::<f64>() / nr as f64;
            for v in &mut x[loc..loc + nd - 1] {
                *v -= mean;
            }
        }
    }

    /// Model coordinates x to sampler coordinates y.
    fn model_to_sampler(&self, x: &[f64]) -> Vec<f64> {
        let (nr, nd, _) = self.sizes();
        let o = self.offsets();
        let mut y = x.to_vec();
        for (race, loc) in [(o.phi_r, o.phi_d), (o.lambda_r, o.lambda_d)] {
            let mean = x[race..race + nr].iter().sum::<f64>() / nr as f64;
            for v in &mut y[loc..loc + nd - 1] {
                *v += mean;
            }
        }
        y
    }

    /// The gradient in model coordinates to the gradient in sampler
    /// coordinates (the transpose of the Jacobian of `sampler_to_model`).
    fn gradient_to_sampler(&self, gx: &[f64], gy: &mut [f64]) {
        let (nr, nd, _) = self.sizes();
        let o = self.offsets();
        gy.copy_from_slice(gx);
        for (race, loc) in [(o.phi_r, o.phi_d), (o.lambda_r, o.lambda_d)] {
            let sum = gx[loc..loc + nd - 1].iter().sum::<f64>() / nr as f64;
            for v in &mut gy[race..race + nr] {
                *v -= sum;
            }
        }
    }
}

#[derive(Debug)]
struct OutOfSupport;

impl fmt::Display for OutOfSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "log density not finite here")
    }
}

impl std::error::Error for OutOfSupport {}

impl nuts_rs::LogpError for OutOfSupport {
    fn is_recoverable(&self) -> bool {
        true
    }
}

impl nuts_rs::HasDims for Posterior {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([(
            "unconstrained_parameter".to_string(),
            self.model.dim() as u64,
        )])
    }
}

impl nuts_rs::CpuLogpFunc for Posterior {
    type LogpError = OutOfSupport;
    type FlowParameters = ();
    type ExpandedVector = Vec<f64>;

    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn logp(&mut self, position: &[f64], gradient: &mut [f64]) -> Result<f64, OutOfSupport> {
        self.model.sampler_to_model(position, &mut self.x);
        let lp = self
            .model
            .log_density(&self.x, &mut self.gx)
            .ok_or(OutOfSupport)?;
        self.model.gradient_to_sampler(&self.gx, gradient);
        Ok(lp)
    }

    fn expand_vector<R: nuts_rs::rand::Rng + ?Sized>(
        &mut self,
        _rng: &mut R,
        position: &[f64],
    ) -> Result<Vec<f64>, nuts_rs::CpuMathError> {
        Ok(position.to_vec())
    }
}

/// SplitMix64: a small deterministic generator for starting points.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
}

/// What one chain brings back.
struct ChainOutput {
    /// Kept draws of the unconstrained parameters, draw-major.
    params: Vec<Vec<f64>>,
    /// Per kept draw, per cell: threshold, search rate, hit rate.
    cells: Vec<Vec<(f64, f64, f64)>>,
    divergences: u64,
    leapfrog_steps: u64,
    max_depth_hits: u64,
    gradients: u64,
}

/// Sets the options shared by the NUTS settings types.
macro_rules! configure {
    ($settings:expr, $options:expr) => {{
        $settings.num_tune = $options.warmup;
        $settings.num_draws = $options.draws;
        $settings.maxdepth = $options.max_depth;
        $settings.num_chains = $options.chains;
        $settings.seed = $options.seed;
        $settings.adapt_options.step_size_settings.target_accept = $options.target_accept;
    }};
}

fn run_chain(
    model: &ThresholdModel,
    options: &FitOptions,
    chain: usize,
) -> Result<ChainOutput, ThresholdError> {
    let stream = options
        .seed
        .wrapping_mul(0x2545_F491_4F6C_DD1D)
        .wrapping_add(chain as u64);
    let start = starting_point(model, stream)?;
    match options.mass_matrix {
        MassMatrix::Diagonal => {
            let mut settings = nuts_rs::DiagNutsSettings::default();
            configure!(settings, options);
            drive(&settings, model, options, chain, stream, &start)
        }
        MassMatrix::LowRank => {
            let mut settings = nuts_rs::LowRankNutsSettings::default();
            configure!(settings, options);
            drive(&settings, model, options, chain, stream, &start)
        }
    }
}

/// A starting point drawn as SOPP's: uniform over plausible ranges, redrawn
/// until the log density is finite.
fn starting_point(model: &ThresholdModel, stream: u64) -> Result<Vec<f64>, ThresholdError> {
    let (nr, nd, nc) = model.sizes();
    let o = model.offsets();
    let mut init_rng = SplitMix(stream ^ 0xA5A5_5A5A_0F0F_F0F0);
    let mut start = vec![0.0; model.dim()];
    let mut grad = vec![0.0; model.dim()];
    for _ in 0..100 {
        for r in 0..nr {
            start[o.log_sigma + r] = init_rng.uniform(0.05, 0.25).ln();
            start[o.t_r + r] = init_rng.uniform(-3.0, -1.0);
            start[o.phi_r + r] = init_rng.uniform(-3.75, -3.25);
            start[o.lambda_r + r] = init_rng.uniform(1.5, 2.5);
        }
        for i in 0..nc {
            let z = init_rng.uniform(-0.75, 0.75);
            start[o.z + i] = if model.centred[i] {
                let r = model.race_of[i];
                start[o.t_r + r] + start[o.log_sigma + r].exp() * z
            } else {
                z
            };
        }
        for d in 0..nd - 1 {
            start[o.phi_d + d] = init_rng.uniform(-0.25, 0.25);
            start[o.lambda_d + d] = init_rng.uniform(-0.25, 0.25);
        }
        if model.log_density(&start, &mut grad).is_some() {
            return Ok(start);
        }
    }
    Err(ThresholdError::Sampler(
        "no starting point with a finite log density".into(),
    ))
}

fn drive<S: nuts_rs::Settings>(
    settings: &S,
    model: &ThresholdModel,
    options: &FitOptions,
    chain: usize,
    stream: u64,
    start: &[f64],
) -> Result<ChainOutput, ThresholdError> {
    use nuts_rs::Chain;
    use nuts_rs::rand::SeedableRng;

    let mut rng = nuts_rs::rand::rngs::ChaCha8Rng::seed_from_u64(stream);
    let math = nuts_rs::CpuMath::new(Posterior::new(model));
    let mut sampler = settings
        .new_chain(chain as u64, math, &mut rng)
        .map_err(|e| ThresholdError::Sampler(e.to_string()))?;
    sampler
        .set_position(&model.model_to_sampler(start))
        .map_err(|e| ThresholdError::Sampler(e.to_string()))?;

    let mut out = ChainOutput {
        params: Vec::with_capacity(options.draws as usize),
        cells: Vec::with_capacity(options.draws as usize),
        divergences: 0,
        leapfrog_steps: 0,
        max_depth_hits: 0,
        gradients: 0,
    };
    for it in 0..options.warmup + options.draws {
        let (draw, progress) = sampler
            .draw()
            .map_err(|e| ThresholdError::Sampler(e.to_string()))?;
        out.gradients += progress.num_gradients;
        if it < options.warmup {
            continue;
        }
        if progress.diverging {
            out.divergences += 1;
        }
        out.leapfrog_steps += progress.num_steps;
        if progress.num_steps + 1 >= 1u64 << options.max_depth {
            out.max_depth_hits += 1;
        }
        let mut x = vec![0.0; draw.len()];
        model.sampler_to_model(&draw, &mut x);
        let cells = model.cell_values(&x).ok_or_else(|| {
            ThresholdError::Sampler("a kept draw has non-finite rates".to_string())
        })?;
        out.params.push(x);
        out.cells.push(cells);
    }
    Ok(out)
}

/// Posterior mean and central interval of the draws (pooled over chains).
fn summarise(draws: &[f64], prob: f64) -> Estimate {
    let mut sorted = draws.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| {
        // Type 7 quantile (R's default).
        let h = (sorted.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(sorted.len() - 1);
        sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
    };
    let tail = (1.0 - prob) / 2.0;
    Estimate {
        mean: draws.iter().sum::<f64>() / draws.len() as f64,
        lower: q(tail),
        upper: q(1.0 - tail),
    }
}

/// Fits the threshold test to `cells` and summarises the posterior.
///
/// Errors are about the input or the settings; a fit that ran but did not
/// converge is an `Ok` result with `converged == false`, whose
/// [`ThresholdResult::estimates`] refuses to hand out numbers.
pub fn fit(cells: &[CellCounts], options: &FitOptions) -> Result<ThresholdResult, ThresholdError> {
    if options.chains < 2 || options.draws < 4 || options.warmup == 0 {
        return Err(ThresholdError::Settings(
            "need at least 2 chains, 4 draws and some warm-up".into(),
        ));
    }
    if !(options.interval > 0.0 && options.interval < 1.0) {
        return Err(ThresholdError::Settings(
            "the interval probability must be between 0 and 1".into(),
        ));
    }
    let model = ThresholdModel::new(cells)?;
    let model = match options.centring {
        Centring::NonCentred => model.with_centred_thresholds(false),
        Centring::Centred => model.with_centred_thresholds(true),
        Centring::FromSearches(k) => model.with_centred_thresholds_from(k),
    };
    let reference = match &options.reference_race {
        Some(r) => {
            if !model.races.contains(r) {
                return Err(ThresholdError::UnknownReferenceRace(r.clone()));
            }
            r.clone()
        }
        None => model.races[0].clone(),
    };
    let reference_idx = model
        .races
        .iter()
        .position(|r| *r == reference)
        .unwrap_or(0);

    // Chains spread over worker threads.
    let threads = if options.threads == 0 {
        options.chains
    } else {
        options.threads.min(options.chains)
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut outputs: Vec<Option<Result<ChainOutput, ThresholdError>>> =
        (0..options.chains).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if c >= options.chains {
                            break;
                        }
                        mine.push((c, run_chain(&model, options, c)));
                    }
                    mine
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(done) => {
                    for (c, res) in done {
                        outputs[c] = Some(res);
                    }
                }
                Err(_) => {
                    // A panicking chain leaves its slot empty; reported below.
                }
            }
        }
    });
    let mut chains = Vec::with_capacity(options.chains);
    for o in outputs {
        match o {
            Some(Ok(c)) => chains.push(c),
            Some(Err(e)) => return Err(e),
            None => return Err(ThresholdError::Sampler("a chain panicked".into())),
        }
    }
    Ok(summarise_fit(
        &model,
        options,
        &reference,
        reference_idx,
        &chains,
    ))
}

fn summarise_fit(
    model: &ThresholdModel,
    options: &FitOptions,
    reference: &str,
    reference_idx: usize,
    chains: &[ChainOutput],
) -> ThresholdResult {
    let (nr, nd, nc) = model.sizes();
    let nchains = chains.len();
    let ndraws = options.draws as usize;

    // Location weights: stops of all races.
    let mut loc_stops = vec![0.0; nd];
    for i in 0..nc {
        loc_stops[model.loc_of[i]] += model.n[i];
    }
    // Per chain, per draw: race averages.
    let race_avgs: Vec<Vec<Vec<f64>>> = chains
        .iter()
        .map(|c| {
            c.cells
                .iter()
                .map(|cells| {
                    let mut num = vec![0.0; nr];
                    let mut den = vec![0.0; nr];
                    for (i, v) in cells.iter().enumerate() {
                        let w = loc_stops[model.loc_of[i]];
                        num[model.race_of[i]] += v.0 * w;
                        den[model.race_of[i]] += w;
                    }
                    num.iter().zip(&den).map(|(a, b)| a / b).collect()
                })
                .collect()
        })
        .collect();

    // Diagnostics over every quantity: (name, per-chain draws).
    let mut quantities: Vec<(String, Vec<Vec<f64>>)> = Vec::new();
    let o = model.offsets();
    let param_name = |k: usize| -> String {
        let race = |j: usize| model.races[j].as_str();
        let loc = |j: usize| model.locations[j + 1].as_str();
        if k < o.t_r {
            format!("log sigma_t[{}]", race(k - o.log_sigma))
        } else if k < o.z {
            format!("t_r[{}]", race(k - o.t_r))
        } else if k < o.phi_r {
            let i = k - o.z;
            let name = if model.centred[i] { "logit t" } else { "z" };
            format!(
                "{name}[{} / {}]",
                model.cells[i].location, model.cells[i].race
            )
        } else if k < o.phi_d {
            format!("phi_r[{}]", race(k - o.phi_r))
        } else if k < o.lambda_r {
            format!("phi_d[{}]", loc(k - o.phi_d))
        } else if k < o.lambda_d {
            format!("lambda_r[{}]", race(k - o.lambda_r))
        } else {
            format!("lambda_d[{}]", loc(k - o.lambda_d))
        }
    };
    for k in 0..model.dim() {
        quantities.push((
            param_name(k),
            chains
                .iter()
                .map(|c| c.params.iter().map(|p| p[k]).collect())
                .collect(),
        ));
    }
    for i in 0..nc {
        quantities.push((
            format!(
                "threshold[{} / {}]",
                model.cells[i].location, model.cells[i].race
            ),
            chains
                .iter()
                .map(|c| c.cells.iter().map(|v| v[i].0).collect())
                .collect(),
        ));
    }
    for r in 0..nr {
        quantities.push((
            format!("average threshold[{}]", model.races[r]),
            race_avgs
                .iter()
                .map(|c| c.iter().map(|v| v[r]).collect())
                .collect(),
        ));
        if r != reference_idx {
            quantities.push((
                format!("difference[{} − {}]", model.races[r], reference),
                race_avgs
                    .iter()
                    .map(|c| c.iter().map(|v| v[r] - v[reference_idx]).collect())
                    .collect(),
            ));
        }
    }
    // The first model.dim() quantities are the parameters, the rest are
    // reported.
    let mut worst = [
        (
            f64::NEG_INFINITY,
            String::new(),
            f64::INFINITY,
            String::new(),
        ),
        (
            f64::NEG_INFINITY,
            String::new(),
            f64::INFINITY,
            String::new(),
        ),
    ];
    let mut undiagnosable = Vec::new();
    for (k, (name, per_chain)) in quantities.iter().enumerate() {
        let slices: Vec<&[f64]> = per_chain.iter().map(|c| c.as_slice()).collect();
        let w = &mut worst[usize::from(k >= model.dim())];
        match (
            diagnostics::split_rhat(&slices),
            diagnostics::ess_bulk(&slices),
        ) {
            (Some(rhat), Some(ess)) => {
                if rhat > w.0 {
                    (w.0, w.1) = (rhat, name.clone());
                }
                if ess < w.2 {
                    (w.2, w.3) = (ess, name.clone());
                }
            }
            _ => undiagnosable.push(name.clone()),
        }
    }
    let [params, reported] = worst;
    let divergences: u64 = chains.iter().map(|c| c.divergences).sum();
    let mut problems = Vec::new();
    for (w, max_rhat, min_ess) in [
        (&reported, options.max_rhat, options.min_ess),
        (
            &params,
            options.max_rhat_parameters,
            options.min_ess_parameters,
        ),
    ] {
        // NaN (no diagnostics) fails too.
        if w.0.is_nan() || w.0 > max_rhat {
            problems.push(format!("R-hat {:.3} of {} is above {max_rhat}", w.0, w.1));
        }
        if w.2.is_nan() || w.2 < min_ess {
            problems.push(format!("bulk ESS {:.0} of {} is below {min_ess}", w.2, w.3));
        }
    }
    let total_kept = (nchains * ndraws) as f64;
    if divergences as f64 > options.max_divergence_rate * total_kept {
        problems.push(format!(
            "{divergences} divergent transitions in {total_kept} draws (at most {:.1}% allowed)",
            100.0 * options.max_divergence_rate
        ));
    }
    if !undiagnosable.is_empty() {
        problems.push(format!(
            "no diagnostics for {} (constant or non-finite draws)",
            undiagnosable.join(", ")
        ));
    }
    let diagnostics = Diagnostics {
        chains: nchains,
        warmup: options.warmup,
        draws: options.draws,
        max_rhat: reported.0,
        max_rhat_of: reported.1.clone(),
        min_ess_bulk: reported.2,
        min_ess_bulk_of: reported.3.clone(),
        max_rhat_parameters: params.0,
        max_rhat_parameters_of: params.1.clone(),
        min_ess_bulk_parameters: params.2,
        min_ess_bulk_parameters_of: params.3.clone(),
        divergences,
        mean_leapfrog_steps: chains.iter().map(|c| c.leapfrog_steps).sum::<u64>() as f64
            / total_kept,
        max_depth_hits: chains.iter().map(|c| c.max_depth_hits).sum(),
        gradient_evaluations: chains.iter().map(|c| c.gradients).sum(),
        problems: problems.clone(),
    };

    // Estimates, pooled over chains.
    let pooled = |f: &dyn Fn(&ChainOutput, usize) -> f64| -> Vec<f64> {
        chains
            .iter()
            .flat_map(|c| (0..c.cells.len()).map(move |d| (c, d)))
            .map(|(c, d)| f(c, d))
            .collect()
    };
    let prob = options.interval;
    let mut cells_out = Vec::with_capacity(nc);
    let (mut se_s, mut w_s, mut se_h, mut w_h) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..nc {
        let c = &model.cells[i];
        let threshold = summarise(&pooled(&|ch, d| ch.cells[d][i].0), prob);
        let search = summarise(&pooled(&|ch, d| ch.cells[d][i].1), prob);
        let hit = summarise(&pooled(&|ch, d| ch.cells[d][i].2), prob);
        let obs_s = c.searches as f64 / c.stops as f64;
        let obs_h = (c.searches > 0).then(|| c.hits as f64 / c.searches as f64);
        se_s += model.n[i] * (search.mean - obs_s).powi(2);
        w_s += model.n[i];
        if let Some(h) = obs_h {
            se_h += model.n[i] * (hit.mean - h).powi(2);
            w_h += model.n[i];
        }
        cells_out.push(CellThreshold {
            location: c.location.clone(),
            race: c.race.clone(),
            stops: c.stops,
            searches: c.searches,
            hits: c.hits,
            threshold,
            observed_search_rate: obs_s,
            observed_hit_rate: obs_h,
            predicted_search_rate: search,
            predicted_hit_rate: hit,
        });
    }
    let avg_draws = |r: usize| -> Vec<f64> { race_avgs.iter().flatten().map(|v| v[r]).collect() };
    let races = (0..nr)
        .map(|r| {
            let mine = avg_draws(r);
            let difference_from_reference = (r != reference_idx).then(|| {
                let base = avg_draws(reference_idx);
                let diff: Vec<f64> = mine.iter().zip(&base).map(|(a, b)| a - b).collect();
                summarise(&diff, prob)
            });
            RaceThreshold {
                race: model.races[r].clone(),
                threshold: summarise(&mine, prob),
                difference_from_reference,
            }
        })
        .collect();
    ThresholdResult {
        estimates: Estimates {
            reference_race: reference.to_string(),
            races,
            cells: cells_out,
            search_rate_rms_error: (se_s / w_s).sqrt(),
            hit_rate_rms_error: if w_h > 0.0 { (se_h / w_h).sqrt() } else { 0.0 },
        },
        converged: problems.is_empty(),
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nuts_rs::CpuLogpFunc;

    #[test]
    fn sampler_coordinates_round_trip_and_carry_the_gradient() {
        let cells: Vec<CellCounts> = (0..6)
            .flat_map(|d| {
                ["A", "B", "C"]
                    .into_iter()
                    .enumerate()
                    .map(move |(r, race)| CellCounts {
                        location: format!("L{d}"),
                        race: race.to_string(),
                        stops: 5000 + 700 * d as u64 + 300 * r as u64,
                        searches: 60 + 7 * d as u64 + 11 * r as u64,
                        hits: 20 + 3 * d as u64 + 2 * r as u64,
                    })
            })
            .collect();
        let model = ThresholdModel::new(&cells).unwrap();
        let start = starting_point(&model, 7).unwrap();
        let y = model.model_to_sampler(&start);
        let mut x = vec![0.0; y.len()];
        model.sampler_to_model(&y, &mut x);
        assert!(x.iter().zip(&start).all(|(a, b)| (a - b).abs() < 1e-12));
        let mut post = Posterior::new(&model);
        let mut grad = vec![0.0; y.len()];
        let lp = post.logp(&y, &mut grad).unwrap();
        let mut scratch = vec![0.0; y.len()];
        let lp_model = model.log_density(&start, &mut scratch).unwrap();
        assert!((lp - lp_model).abs() < 1e-9 * lp.abs());
        for k in 0..y.len() {
            let h = 1e-6;
            let mut yp = y.clone();
            yp[k] += h;
            let up = post.logp(&yp, &mut scratch).unwrap();
            yp[k] -= 2.0 * h;
            let down = post.logp(&yp, &mut scratch).unwrap();
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - grad[k]).abs() < 1e-5 * (1.0 + grad[k].abs()),
                "component {k}: {} vs {fd}",
                grad[k]
            );
        }
    }

    #[test]
    fn digamma_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) = H_9 − γ.
        let gamma = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + gamma).abs() < 1e-14);
        assert!((digamma(0.5) + gamma + 2.0 * 2f64.ln()).abs() < 1e-14);
        let h9: f64 = (1..=9).map(|k| 1.0 / k as f64).sum();
        assert!((digamma(10.0) - (h9 - gamma)).abs() < 1e-14);
        // Near 0: ψ(x) = −1/x − γ + ζ(2)x − ζ(3)x² + O(x³).
        let x = 1e-3;
        let series =
            -1.0 / x - gamma + 1.644_934_066_848_226_4 * x - 1.202_056_903_159_594_2 * x * x;
        assert!((digamma(x) - series).abs() < 1e-8);
    }
}
