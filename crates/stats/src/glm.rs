//! Logistic regression on binomial cell counts by iteratively reweighted
//! least squares (IRLS), reproducing R's
//! `glm(cbind(successes, failures) ~ X, family = binomial)`.
//!
//! Lantern fits models such as "share of stops that are of group A, by
//! darkness, with a smooth in clock time" (the veil-of-darkness test) on
//! aggregated cells. To make published coefficients reproducible in R, this
//! follows R's `glm.fit` step for step:
//!
//! - y = s / (s + f) and prior weights n = s + f per row; rows with n = 0
//!   carry no information and are ignored (R: weight 0, y set to 0).
//! - Starting values: mu = (n·y + 0.5) / (n + 1), eta = logit(mu).
//! - Each iteration: working weights W = n·(dmu/deta)² / (mu(1 - mu)),
//!   working response z = eta + (y - mu) / (dmu/deta), then the weighted
//!   least-squares solution of z on X gives the new coefficients.
//! - The logit inverse and its derivative are clamped for |eta| > 30 exactly
//!   as R's C code does (mu = eps/(1+eps) etc., dmu/deta = eps).
//! - Convergence: |dev - dev_old| / (|dev| + 0.1) < epsilon (1e-8), at most
//!   25 iterations; the deviance is the binomial deviance
//!   2 Σ n [y ln(y/mu) + (1-y) ln((1-y)/(1-mu))].
//! - Standard errors: sqrt of the diagonal of (XᵀWX)⁻¹ with the W of the
//!   last iteration (the one whose solve produced the final coefficients),
//!   as `summary.glm` does; dispersion is 1; p-values are 2·Φ(-|z|).
//! - Null deviance: with an intercept (a column of ones among the rows in
//!   use), the deviance at mu = Σn·y / Σn; otherwise at mu = 1/2.
//!
//! Where R returns something unusable, this module returns an error:
//! - A rank-deficient design (R: NA coefficients) is
//!   [`GlmError::RankDeficient`]. The design is tested on the rows in use,
//!   with each column scaled, and a column counts as redundant when 1 - R²
//!   of it on the earlier columns is below 1e-10.
//! - Separation (R: "fitted probabilities numerically 0 or 1 occurred",
//!   coefficients drifting off to ±∞ with huge standard errors) is
//!   [`GlmError::Separation`]. It is detected after the iterations stop by
//!   taking one more IRLS step: at a real maximum that step is negligible,
//!   while under separation the linear predictor of the separated rows
//!   keeps moving by about 1 per step, forever. The fit is refused when
//!   that step would still move the linear predictor of some row by more
//!   than 0.01 while some such row is already fitted at |eta| > 5
//!   (probability below 0.0067 or above 0.9933), or when any fitted
//!   probability is within 10·ε of 0 or 1 (R's warning condition), or when
//!   XᵀWX becomes numerically singular during the iterations. The rows
//!   being driven to 0 or 1 are reported.
//! - Not converging within the iteration limit without separation is not
//!   an error: `converged` is false, as R warns and returns the fit.

use std::fmt;

use crate::linalg::{Cholesky, LinalgError, Matrix};
use crate::normal;

/// Threshold on |eta| beyond which R clamps the logit inverse.
const ETA_CLAMP: f64 = 30.0;
/// Collinearity threshold (on 1 - R²) for declaring the design rank
/// deficient.
const RANK_TOLERANCE: f64 = 1e-10;
/// A further IRLS step moving some row's eta by more than this signals
/// separation.
const SEPARATION_STEP: f64 = 0.01;

/// Options for the IRLS iterations, with R's `glm.control` defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlmOptions {
    /// Relative deviance change for convergence. Default 1e-8.
    pub epsilon: f64,
    /// Maximum number of iterations. Default 25.
    pub max_iterations: usize,
}

impl Default for GlmOptions {
    fn default() -> Self {
        GlmOptions {
            epsilon: 1e-8,
            max_iterations: 25,
        }
    }
}

/// A fitted binomial logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct BinomialFit {
    /// Coefficients, one per design column.
    pub coefficients: Vec<f64>,
    /// Standard errors from (XᵀWX)⁻¹.
    pub std_errors: Vec<f64>,
    /// Wald z statistics, coefficient / standard error.
    pub z_values: Vec<f64>,
    /// Two-sided p-values of the z statistics.
    pub p_values: Vec<f64>,
    /// The unscaled covariance matrix (XᵀWX)⁻¹.
    pub covariance: Matrix,
    /// Fitted probabilities, one per row (rows with no trials included).
    pub fitted: Vec<f64>,
    /// Residual deviance.
    pub deviance: f64,
    /// Null deviance.
    pub null_deviance: f64,
    /// Residual degrees of freedom: rows with trials minus columns.
    pub df_residual: usize,
    /// Null degrees of freedom: rows with trials minus 1 if there is an
    /// intercept.
    pub df_null: usize,
    /// Whether the design has an intercept column (all ones on rows with
    /// trials); decides the null model.
    pub has_intercept: bool,
    /// Number of IRLS iterations performed.
    pub iterations: usize,
    /// Whether the convergence criterion was met within the iteration
    /// limit.
    pub converged: bool,
}

/// Errors from [`fit_binomial`].
#[derive(Debug, Clone, PartialEq)]
pub enum GlmError {
    /// The design has no columns, or no row has any trials.
    Empty,
    /// Rows of the design and lengths of the count vectors differ.
    LengthMismatch {
        /// Design rows.
        rows: usize,
        /// Successes given.
        successes: usize,
        /// Failures given.
        failures: usize,
    },
    /// A count is negative, NaN or infinite.
    InvalidCount {
        /// Row index.
        row: usize,
    },
    /// A design entry is NaN or infinite.
    NonFiniteDesign {
        /// Row index.
        row: usize,
        /// Column index.
        column: usize,
    },
    /// The design's columns are linearly dependent on the rows with trials
    /// (including the case of fewer such rows than columns).
    RankDeficient {
        /// Zero-based index of a column that is (nearly) a combination of
        /// the earlier ones.
        column: usize,
    },
    /// The data are (quasi-)completely separated: the maximum-likelihood
    /// estimate does not exist (some coefficients are infinite).
    Separation {
        /// Rows whose fitted probability is being driven to 0 or 1.
        rows: Vec<usize>,
    },
    /// Options out of range (epsilon not > 0, or zero iterations).
    InvalidOptions,
}

impl fmt::Display for GlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlmError::Empty => write!(f, "no design columns, or no row with any trials"),
            GlmError::LengthMismatch {
                rows,
                successes,
                failures,
            } => write!(
                f,
                "design has {rows} rows but {successes} success and {failures} failure counts"
            ),
            GlmError::InvalidCount { row } => {
                write!(f, "row {row} has a negative or non-finite count")
            }
            GlmError::NonFiniteDesign { row, column } => {
                write!(f, "design entry ({row}, {column}) is NaN or infinite")
            }
            GlmError::RankDeficient { column } => write!(
                f,
                "design is rank deficient: column {column} is a linear combination of earlier columns on the rows with data"
            ),
            GlmError::Separation { rows } => write!(
                f,
                "perfect or quasi-perfect separation: the fitted probabilities of {} row(s) (first: {:?}) go to 0 or 1, so some coefficients are infinite",
                rows.len(),
                rows.first()
            ),
            GlmError::InvalidOptions => {
                write!(f, "epsilon must be > 0 and max_iterations at least 1")
            }
        }
    }
}

impl std::error::Error for GlmError {}

/// Fits `cbind(successes, failures) ~ x` with the logit link and R's
/// default control settings. See the module documentation.
pub fn fit_binomial(
    x: &Matrix,
    successes: &[f64],
    failures: &[f64],
) -> Result<BinomialFit, GlmError> {
    fit_binomial_with(x, successes, failures, &GlmOptions::default())
}

/// Logit inverse, clamped as R's C code does.
fn linkinv(eta: f64) -> f64 {
    let t = if eta < -ETA_CLAMP {
        f64::EPSILON
    } else if eta > ETA_CLAMP {
        1.0 / f64::EPSILON
    } else {
        eta.exp()
    };
    t / (1.0 + t)
}

/// dmu/deta for the logit link, clamped as R's C code does.
fn mu_eta(eta: f64) -> f64 {
    if eta.abs() > ETA_CLAMP {
        f64::EPSILON
    } else {
        let opexp = 1.0 + eta.exp();
        eta.exp() / (opexp * opexp)
    }
}

/// y ln(y/mu), taken as 0 at y = 0.
fn y_log_y(y: f64, mu: f64) -> f64 {
    if y != 0.0 { y * (y / mu).ln() } else { 0.0 }
}

/// Binomial deviance Σ 2 n [y ln(y/mu) + (1-y) ln((1-y)/(1-mu))].
fn deviance(y: &[f64], mu: &[f64], n: &[f64]) -> f64 {
    y.iter()
        .zip(mu)
        .zip(n)
        .map(|((&y, &m), &n)| 2.0 * n * (y_log_y(y, m) + y_log_y(1.0 - y, 1.0 - m)))
        .sum()
}

/// Weighted least-squares step: working weights and response at `eta`, and
/// the Cholesky factor of XᵀWX with the solution.
struct WlsStep {
    chol: Cholesky,
    beta: Vec<f64>,
}

fn wls_step(x: &Matrix, y: &[f64], n: &[f64], eta: &[f64]) -> Result<WlsStep, LinalgError> {
    let rows = y.len();
    let mut w = vec![0.0; rows];
    let mut z = vec![0.0; rows];
    for i in 0..rows {
        if n[i] > 0.0 {
            let mu = linkinv(eta[i]);
            let d = mu_eta(eta[i]);
            w[i] = n[i] * d * d / (mu * (1.0 - mu));
            z[i] = eta[i] + (y[i] - mu) / d;
        }
    }
    let gram = x.weighted_gram(&w)?;
    let rhs = x.weighted_transpose_mul_vec(&w, &z)?;
    let chol = Cholesky::new(&gram)?;
    let beta = chol.solve(&rhs)?;
    Ok(WlsStep { chol, beta })
}

/// Fits `cbind(successes, failures) ~ x` with the logit link; `x` must
/// include an intercept column if one is wanted. Counts may be fractional
/// (as R allows, with a warning).
pub fn fit_binomial_with(
    x: &Matrix,
    successes: &[f64],
    failures: &[f64],
    options: &GlmOptions,
) -> Result<BinomialFit, GlmError> {
    if options.epsilon.is_nan() || options.epsilon <= 0.0 || options.max_iterations == 0 {
        return Err(GlmError::InvalidOptions);
    }
    let rows = x.rows();
    let p = x.cols();
    if successes.len() != rows || failures.len() != rows {
        return Err(GlmError::LengthMismatch {
            rows,
            successes: successes.len(),
            failures: failures.len(),
        });
    }
    for row in 0..rows {
        let (s, f) = (successes[row], failures[row]);
        if !(s.is_finite() && f.is_finite() && s >= 0.0 && f >= 0.0) {
            return Err(GlmError::InvalidCount { row });
        }
        for column in 0..p {
            if !x[(row, column)].is_finite() {
                return Err(GlmError::NonFiniteDesign { row, column });
            }
        }
    }
    let n: Vec<f64> = successes.iter().zip(failures).map(|(s, f)| s + f).collect();
    let used: Vec<usize> = (0..rows).filter(|&i| n[i] > 0.0).collect();
    if p == 0 || used.is_empty() {
        return Err(GlmError::Empty);
    }
    let y: Vec<f64> = successes
        .iter()
        .zip(&n)
        .map(|(s, &n)| if n > 0.0 { s / n } else { 0.0 })
        .collect();

    check_rank(x, &n)?;

    // R's starting values.
    let mut eta: Vec<f64> = y
        .iter()
        .zip(&n)
        .map(|(&y, &n)| {
            let mu = (n * y + 0.5) / (n + 1.0);
            (mu / (1.0 - mu)).ln()
        })
        .collect();
    let mut mu: Vec<f64> = eta.iter().map(|&e| linkinv(e)).collect();
    let mut dev_old = deviance(&y, &mu, &n);
    let mut converged = false;
    let mut iterations = 0;
    let mut last: Option<(Cholesky, Vec<f64>)> = None;
    let mut dev = dev_old;
    for iter in 1..=options.max_iterations {
        iterations = iter;
        let step = match wls_step(x, &y, &n, &eta) {
            Ok(step) => step,
            // The design has full rank, so a singular XᵀWX means the
            // working weights of some rows have collapsed to ~0: fitted
            // probabilities at 0 or 1.
            Err(_) => return Err(separation_from_fitted(&mu, &n, &[])),
        };
        eta = x.mul_vec(&step.beta).map_err(|_| GlmError::Empty)?;
        mu = eta.iter().map(|&e| linkinv(e)).collect();
        dev = deviance(&y, &mu, &n);
        last = Some((step.chol, step.beta));
        if (dev - dev_old).abs() / (dev.abs() + 0.1) < options.epsilon {
            converged = true;
            break;
        }
        dev_old = dev;
    }
    let Some((chol, beta)) = last else {
        return Err(GlmError::InvalidOptions);
    };

    // Separation check: one more IRLS step from the final coefficients.
    let moving: Vec<usize> = match wls_step(x, &y, &n, &eta) {
        Ok(next) => {
            let next_eta = x.mul_vec(&next.beta).map_err(|_| GlmError::Empty)?;
            used.iter()
                .copied()
                .filter(|&i| (next_eta[i] - eta[i]).abs() > SEPARATION_STEP)
                .collect()
        }
        Err(_) => return Err(separation_from_fitted(&mu, &n, &[])),
    };
    let boundary = 10.0 * f64::EPSILON;
    let extreme = used
        .iter()
        .any(|&i| mu[i] < boundary || mu[i] > 1.0 - boundary);
    if extreme || (!moving.is_empty() && moving_is_divergent(&moving, &eta)) {
        return Err(separation_from_fitted(&mu, &n, &moving));
    }

    let covariance = chol.inverse();
    let std_errors: Vec<f64> = (0..p).map(|j| covariance[(j, j)].sqrt()).collect();
    let z_values: Vec<f64> = beta.iter().zip(&std_errors).map(|(b, s)| b / s).collect();
    let p_values: Vec<f64> = z_values.iter().map(|&z| normal::two_sided_p(z)).collect();

    let has_intercept = (0..p).any(|j| used.iter().all(|&i| x[(i, j)] == 1.0));
    let null_mu = if has_intercept {
        let sw: f64 = n.iter().sum();
        let swy: f64 = n.iter().zip(&y).map(|(n, y)| n * y).sum();
        swy / sw
    } else {
        linkinv(0.0)
    };
    let null_deviance = deviance(&y, &vec![null_mu; rows], &n);
    let n_ok = used.len();
    Ok(BinomialFit {
        coefficients: beta,
        std_errors,
        z_values,
        p_values,
        covariance,
        fitted: mu,
        deviance: dev,
        null_deviance,
        df_residual: n_ok.saturating_sub(p),
        df_null: n_ok.saturating_sub(usize::from(has_intercept)),
        has_intercept,
        iterations,
        converged,
    })
}

/// Under separation the moving rows are ones the model already fits at
/// large |eta| (probabilities near 0 or 1); a slow but genuine convergence
/// (iteration limit reached mid-way) moves rows at moderate eta. Requiring
/// |eta| > 5 (probability beyond 0.0067 / 0.9933) for some moving row keeps
/// the two apart.
fn moving_is_divergent(moving: &[usize], eta: &[f64]) -> bool {
    moving.iter().any(|&i| eta[i].abs() > 5.0)
}

fn separation_from_fitted(mu: &[f64], n: &[f64], moving: &[usize]) -> GlmError {
    let mut rows: Vec<usize> = moving.to_vec();
    for (i, (&m, &n)) in mu.iter().zip(n).enumerate() {
        if n > 0.0 && !(1e-8..=1.0 - 1e-8).contains(&m) && !rows.contains(&i) {
            rows.push(i);
        }
    }
    rows.sort_unstable();
    GlmError::Separation { rows }
}

/// Tests the design for linear dependence on the rows with trials: the
/// Gram matrix XᵀX of those rows, scaled to unit diagonal, must have a
/// Cholesky factor with every pivot (= 1 - R² of the column on the earlier
/// ones) above [`RANK_TOLERANCE`].
fn check_rank(x: &Matrix, n: &[f64]) -> Result<(), GlmError> {
    let p = x.cols();
    let indicator: Vec<f64> = n.iter().map(|&n| if n > 0.0 { 1.0 } else { 0.0 }).collect();
    let gram = x.weighted_gram(&indicator).map_err(|_| GlmError::Empty)?;
    // A column that is all zero on the rows in use is redundant.
    for j in 0..p {
        if gram[(j, j)] == 0.0 {
            return Err(GlmError::RankDeficient { column: j });
        }
    }
    let mut scaled = gram.clone();
    for i in 0..p {
        for j in 0..p {
            scaled[(i, j)] = gram[(i, j)] / (gram[(i, i)] * gram[(j, j)]).sqrt();
        }
    }
    match Cholesky::with_tolerance(&scaled, RANK_TOLERANCE) {
        Ok(_) => Ok(()),
        Err(LinalgError::NotPositiveDefinite { column }) => Err(GlmError::RankDeficient { column }),
        Err(_) => Err(GlmError::RankDeficient { column: 0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(cols: &[Vec<f64>]) -> Matrix {
        Matrix::from_columns(cols).unwrap()
    }

    #[test]
    fn intercept_only_is_the_logit_of_the_pooled_rate() {
        // With only an intercept the MLE is logit(Σs / Σn) and the SE is
        // sqrt(1 / (N p (1-p))).
        let x = design(&[vec![1.0; 3]]);
        let fit = fit_binomial(&x, &[3.0, 5.0, 2.0], &[7.0, 5.0, 8.0]).unwrap();
        let p: f64 = 10.0 / 30.0;
        assert!((fit.coefficients[0] - (p / (1.0 - p)).ln()).abs() < 1e-10);
        assert!((fit.std_errors[0] - (1.0 / (30.0 * p * (1.0 - p))).sqrt()).abs() < 1e-8);
        assert!(fit.converged);
        assert!((fit.deviance - fit.null_deviance).abs() < 1e-9);
        assert_eq!(fit.df_residual, 2);
        assert_eq!(fit.df_null, 2);
    }

    #[test]
    fn saturated_two_groups_match_closed_form() {
        // Two groups, treatment coding: slope = log odds ratio, with
        // SE sqrt(1/a + 1/b + 1/c + 1/d).
        let x = design(&[vec![1.0, 1.0], vec![0.0, 1.0]]);
        let fit = fit_binomial(&x, &[10.0, 30.0], &[40.0, 20.0]).unwrap();
        let lor = ((30.0_f64 / 20.0) / (10.0 / 40.0)).ln();
        assert!((fit.coefficients[1] - lor).abs() < 1e-9);
        let se = (1.0 / 10.0 + 1.0 / 40.0 + 1.0 / 30.0 + 1.0 / 20.0_f64).sqrt();
        assert!((fit.std_errors[1] - se).abs() < 1e-7);
        assert!(fit.deviance.abs() < 1e-9);
    }

    #[test]
    fn input_errors() {
        let x = design(&[vec![1.0, 1.0]]);
        assert!(matches!(
            fit_binomial(&x, &[1.0], &[1.0, 1.0]),
            Err(GlmError::LengthMismatch { .. })
        ));
        assert!(matches!(
            fit_binomial(&x, &[1.0, -1.0], &[1.0, 1.0]),
            Err(GlmError::InvalidCount { row: 1 })
        ));
        assert!(matches!(
            fit_binomial(&x, &[1.0, f64::NAN], &[1.0, 1.0]),
            Err(GlmError::InvalidCount { row: 1 })
        ));
        assert_eq!(
            fit_binomial(&x, &[0.0, 0.0], &[0.0, 0.0]),
            Err(GlmError::Empty)
        );
        let nan = design(&[vec![1.0, f64::NAN]]);
        assert!(matches!(
            fit_binomial(&nan, &[1.0, 1.0], &[1.0, 1.0]),
            Err(GlmError::NonFiniteDesign { row: 1, column: 0 })
        ));
        let collinear = design(&[vec![1.0; 3], vec![1.0, 2.0, 3.0], vec![2.0, 4.0, 6.0]]);
        assert_eq!(
            fit_binomial(&collinear, &[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]),
            Err(GlmError::RankDeficient { column: 2 })
        );
        let bad = GlmOptions {
            epsilon: 0.0,
            max_iterations: 25,
        };
        assert_eq!(
            fit_binomial_with(&x, &[1.0, 1.0], &[1.0, 1.0], &bad),
            Err(GlmError::InvalidOptions)
        );
    }

    #[test]
    fn complete_separation_is_an_error() {
        let x = design(&[vec![1.0; 4], vec![1.0, 2.0, 3.0, 4.0]]);
        let r = fit_binomial(&x, &[0.0, 0.0, 5.0, 5.0], &[5.0, 5.0, 0.0, 0.0]);
        assert!(matches!(r, Err(GlmError::Separation { .. })), "{r:?}");
    }

    #[test]
    fn quasi_separation_is_an_error() {
        // Group 2 has no successes at all: its coefficient goes to -inf.
        let x = design(&[
            vec![1.0; 4],
            vec![0.0, 0.0, 1.0, 1.0],
            vec![0.0, 1.0, 0.0, 1.0],
        ]);
        let r = fit_binomial(&x, &[3.0, 4.0, 0.0, 0.0], &[7.0, 6.0, 10.0, 10.0]);
        assert!(matches!(r, Err(GlmError::Separation { .. })), "{r:?}");
    }
}
