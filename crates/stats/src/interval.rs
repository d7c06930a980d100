//! Confidence intervals for proportions, ratios of proportions and means,
//! unweighted and weighted.
//!
//! Conventions, shared by every function here:
//! - Invalid input (NaN, negative weights, more successes than trials,
//!   mismatched lengths, a confidence level outside (0, 1)) is an
//!   [`IntervalError`].
//! - Valid input that carries no information for the quantity (no trials,
//!   a single observation for a standard deviation, a zero count in a
//!   ratio's log) gives `Ok(None)`: there is no sensible answer, and the
//!   caller should show "not enough data" rather than a made-up number.
//! - Edge cases that do have an answer (0 or n successes) never give NaN.

use std::fmt;

use crate::{normal, student};

/// The default confidence level, 95%.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// Errors from interval construction.
#[derive(Debug, Clone, PartialEq)]
pub enum IntervalError {
    /// The confidence level is not strictly between 0 and 1.
    InvalidConfidence(f64),
    /// More successes than trials.
    SuccessesExceedTrials {
        /// Successes given.
        successes: u64,
        /// Trials given.
        n: u64,
    },
    /// A proportion outside [0, 1] or NaN.
    InvalidProportion(f64),
    /// A sample size that is negative, NaN or infinite.
    InvalidSampleSize(f64),
    /// A value that is NaN or infinite.
    NonFiniteValue {
        /// Position in the input.
        index: usize,
    },
    /// A weight that is negative, NaN or infinite.
    InvalidWeight {
        /// Position in the input.
        index: usize,
        /// The weight.
        weight: f64,
    },
    /// The values are so large that their sums overflow `f64`.
    Overflow,
    /// Values and weights have different lengths.
    LengthMismatch {
        /// Number of values.
        values: usize,
        /// Number of weights.
        weights: usize,
    },
}

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntervalError::InvalidConfidence(c) => {
                write!(f, "confidence level {c} is not strictly between 0 and 1")
            }
            IntervalError::SuccessesExceedTrials { successes, n } => {
                write!(f, "{successes} successes out of only {n} trials")
            }
            IntervalError::InvalidProportion(p) => write!(f, "proportion {p} is not in [0, 1]"),
            IntervalError::InvalidSampleSize(n) => {
                write!(f, "sample size {n} is not a finite number >= 0")
            }
            IntervalError::NonFiniteValue { index } => {
                write!(f, "value {index} is NaN or infinite")
            }
            IntervalError::InvalidWeight { index, weight } => {
                write!(
                    f,
                    "weight {index} is {weight}; weights must be finite and >= 0"
                )
            }
            IntervalError::Overflow => write!(f, "values too large: their sums overflow"),
            IntervalError::LengthMismatch { values, weights } => {
                write!(f, "{values} values but {weights} weights")
            }
        }
    }
}

impl std::error::Error for IntervalError {}

/// A two-sided confidence level, validated once so that the interval
/// functions themselves cannot fail on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence(f64);

impl Confidence {
    /// A confidence level strictly between 0 and 1 (e.g. 0.95).
    pub fn new(level: f64) -> Result<Self, IntervalError> {
        if level > 0.0 && level < 1.0 {
            Ok(Confidence(level))
        } else {
            Err(IntervalError::InvalidConfidence(level))
        }
    }

    /// The level, e.g. 0.95.
    pub fn level(self) -> f64 {
        self.0
    }

    /// The two-sided normal critical value, qnorm(1 - (1 - level)/2).
    pub fn z(self) -> f64 {
        // The level is in (0, 1), so the probability is in (0.5, 1) and the
        // quantile exists; 0 is unreachable but keeps this total.
        normal::quantile(0.5 + self.0 / 2.0).unwrap_or(0.0)
    }

    /// The two-sided Student-t critical value with `df` degrees of freedom,
    /// or `None` if `df` is not > 0.
    pub fn t(self, df: f64) -> Option<f64> {
        student::quantile(0.5 + self.0 / 2.0, df)
    }
}

impl Default for Confidence {
    /// 95%.
    fn default() -> Self {
        Confidence(DEFAULT_CONFIDENCE)
    }
}

/// A point estimate with a two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The point estimate.
    pub estimate: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// The confidence level the bounds were computed for.
    pub confidence: f64,
}

/// The Wilson score interval for a binomial proportion (Wilson 1927).
///
/// Chosen over the Wald interval because it stays inside [0, 1], is
/// sensible at 0 and n successes, and has close to nominal coverage for the
/// small counts Lantern sees in small agencies. Equals R's
/// `prop.test(x, n, correct = FALSE)$conf.int`.
///
/// The sample size may be fractional, which is how a weighted proportion is
/// given its Kish effective sample size (see [`weighted_proportion`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilson {
    proportion: f64,
    n: f64,
}

impl Wilson {
    /// From `successes` out of `n` trials.
    pub fn new(successes: u64, n: u64) -> Result<Self, IntervalError> {
        if successes > n {
            return Err(IntervalError::SuccessesExceedTrials { successes, n });
        }
        let proportion = if n == 0 {
            0.0
        } else {
            successes as f64 / n as f64
        };
        Ok(Wilson {
            proportion,
            n: n as f64,
        })
    }

    /// From an observed proportion and a (possibly fractional, effective)
    /// sample size.
    pub fn from_proportion(proportion: f64, n: f64) -> Result<Self, IntervalError> {
        if !(0.0..=1.0).contains(&proportion) {
            return Err(IntervalError::InvalidProportion(proportion));
        }
        if !(n.is_finite() && n >= 0.0) {
            return Err(IntervalError::InvalidSampleSize(n));
        }
        Ok(Wilson { proportion, n })
    }

    /// The interval at the given confidence; `None` when n = 0 (no trials,
    /// no estimate).
    pub fn interval(&self, confidence: Confidence) -> Option<Interval> {
        if self.n <= 0.0 {
            return None;
        }
        let (p, n) = (self.proportion, self.n);
        let z = confidence.z();
        let z2n = z * z / n;
        let centre = (p + z2n / 2.0) / (1.0 + z2n);
        let half = z / (1.0 + z2n) * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt();
        // At p = 0 (p = 1) the lower (upper) bound is exactly 0 (1); the
        // formula reaches it only up to rounding, so pin it.
        let lower = if p == 0.0 {
            0.0
        } else {
            (centre - half).max(0.0)
        };
        let upper = if p == 1.0 {
            1.0
        } else {
            (centre + half).min(1.0)
        };
        Some(Interval {
            estimate: p,
            lower,
            upper,
            confidence: confidence.level(),
        })
    }
}

/// Ratio of two proportions, (x1/n1) / (x2/n2), with the log-scale
/// ("Katz") interval: exp(ln RR ± z sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)).
///
/// This is the usual interval for comparing, say, search rates between two
/// groups; it equals `epitools::riskratio.wald` in R (with group 2 as the
/// reference row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionRatio {
    x1: u64,
    n1: u64,
    x2: u64,
    n2: u64,
}

impl ProportionRatio {
    /// `x1` successes of `n1` in the numerator group, `x2` of `n2` in the
    /// denominator (reference) group.
    pub fn new(x1: u64, n1: u64, x2: u64, n2: u64) -> Result<Self, IntervalError> {
        if x1 > n1 {
            return Err(IntervalError::SuccessesExceedTrials {
                successes: x1,
                n: n1,
            });
        }
        if x2 > n2 {
            return Err(IntervalError::SuccessesExceedTrials {
                successes: x2,
                n: n2,
            });
        }
        Ok(ProportionRatio { x1, n1, x2, n2 })
    }

    /// The point estimate; `None` if a group has no trials or the
    /// reference proportion is 0 (division by zero). A zero numerator gives
    /// `Some(0.0)`.
    pub fn ratio(&self) -> Option<f64> {
        if self.n1 == 0 || self.n2 == 0 || self.x2 == 0 {
            return None;
        }
        Some((self.x1 as f64 / self.n1 as f64) / (self.x2 as f64 / self.n2 as f64))
    }

    /// The Katz log interval; `None` when either success count is 0 (the
    /// log-scale standard error is infinite) or a group has no trials. No
    /// continuity correction is applied: with a zero count the data cannot
    /// bound the ratio on the log scale, and inventing half-counts would
    /// hide that. When both groups are all successes the interval collapses
    /// to the point 1 (zero estimated variance), as the formula says.
    pub fn interval(&self, confidence: Confidence) -> Option<Interval> {
        if self.x1 == 0 || self.x2 == 0 {
            return None;
        }
        let estimate = self.ratio()?;
        let (x1, n1, x2, n2) = (
            self.x1 as f64,
            self.n1 as f64,
            self.x2 as f64,
            self.n2 as f64,
        );
        // Each 1/x - 1/n is >= 0 since x <= n; max() guards rounding.
        let var = (1.0 / x1 - 1.0 / n1).max(0.0) + (1.0 / x2 - 1.0 / n2).max(0.0);
        let half = confidence.z() * var.sqrt();
        let ln_rr = estimate.ln();
        Some(Interval {
            estimate,
            lower: (ln_rr - half).exp(),
            upper: (ln_rr + half).exp(),
            confidence: confidence.level(),
        })
    }
}

/// Mean and sample standard deviation (n - 1 denominator) of finite values.
fn mean_sd(values: &[f64]) -> Result<Option<(f64, f64)>, IntervalError> {
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(IntervalError::NonFiniteValue { index });
    }
    if values.len() < 2 {
        return Ok(None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    // Two-pass variance, with the compensating term for the rounding error
    // of the mean (Chan, Golub & LeVeque's corrected two-pass algorithm).
    let (ss, comp) = values.iter().fold((0.0, 0.0), |(ss, c), &v| {
        let d = v - mean;
        (ss + d * d, c + d)
    });
    let var = ((ss - comp * comp / n) / (n - 1.0)).max(0.0);
    if !(mean.is_finite() && var.is_finite()) {
        return Err(IntervalError::Overflow);
    }
    Ok(Some((mean, var.sqrt())))
}

/// Mean with a normal-theory interval, mean ± z·s/√n.
///
/// Appropriate for large samples; for small ones prefer [`mean_t`]. `None`
/// with fewer than 2 values (no standard deviation).
pub fn mean_normal(
    values: &[f64],
    confidence: Confidence,
) -> Result<Option<Interval>, IntervalError> {
    let Some((mean, sd)) = mean_sd(values)? else {
        return Ok(None);
    };
    let half = confidence.z() * sd / (values.len() as f64).sqrt();
    Ok(Some(Interval {
        estimate: mean,
        lower: mean - half,
        upper: mean + half,
        confidence: confidence.level(),
    }))
}

/// Mean with the Student-t interval, mean ± t(n-1)·s/√n, as R's
/// `t.test(x)$conf.int`. `None` with fewer than 2 values.
pub fn mean_t(values: &[f64], confidence: Confidence) -> Result<Option<Interval>, IntervalError> {
    let Some((mean, sd)) = mean_sd(values)? else {
        return Ok(None);
    };
    let n = values.len() as f64;
    let Some(t) = confidence.t(n - 1.0) else {
        return Ok(None);
    };
    let half = t * sd / n.sqrt();
    Ok(Some(Interval {
        estimate: mean,
        lower: mean - half,
        upper: mean + half,
        confidence: confidence.level(),
    }))
}

/// A weighted estimate with its interval and Kish effective sample size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedEstimate {
    /// Estimate and interval.
    pub interval: Interval,
    /// Kish effective sample size (Σw)² / Σw².
    pub n_eff: f64,
    /// Σw, the estimated population size the weights represent (may be
    /// infinite if the weights themselves overflow when summed).
    pub sum_weights: f64,
}

fn check_weights(weights: &[f64], values: usize) -> Result<(), IntervalError> {
    if weights.len() != values {
        return Err(IntervalError::LengthMismatch {
            values,
            weights: weights.len(),
        });
    }
    if let Some(index) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(IntervalError::InvalidWeight {
            index,
            weight: weights[index],
        });
    }
    Ok(())
}

/// Kish's effective sample size, (Σw)² / Σw²: the size of an unweighted
/// sample with the same precision as this weighted one (under Kish's
/// design-effect approximation). `None` when all weights are zero or the
/// input is empty; an error for negative or non-finite weights.
pub fn kish_effective_n(weights: &[f64]) -> Result<Option<f64>, IntervalError> {
    check_weights(weights, weights.len())?;
    // Scale by the largest weight so that neither sum overflows.
    let max = weights.iter().fold(0.0f64, |m, &w| m.max(w));
    if max == 0.0 {
        return Ok(None);
    }
    let (s, s2) = weights.iter().fold((0.0, 0.0), |(s, s2), &w| {
        let u = w / max;
        (s + u, s2 + u * u)
    });
    Ok(Some(s * s / s2))
}

/// Weighted mean Σw·x/Σw with a normal interval using the Kish effective
/// sample size: mean ± z·sqrt(s²_w / n_eff), where
/// s²_w = [Σw(x - mean)² / Σw] · n_eff / (n_eff - 1).
///
/// With equal weights this is exactly [`mean_normal`]. Zero weights are
/// allowed (those values do not count). `None` when n_eff <= 1 (a single
/// effective observation has no spread).
pub fn weighted_mean(
    values: &[f64],
    weights: &[f64],
    confidence: Confidence,
) -> Result<Option<WeightedEstimate>, IntervalError> {
    check_weights(weights, values.len())?;
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(IntervalError::NonFiniteValue { index });
    }
    let Some(n_eff) = kish_effective_n(weights)? else {
        return Ok(None);
    };
    if n_eff <= 1.0 {
        return Ok(None);
    }
    let sw: f64 = weights.iter().sum();
    // Only relative weights matter; scaling by the largest keeps the sums
    // from overflowing.
    let max = weights.iter().fold(0.0f64, |m, &w| m.max(w));
    let u: Vec<f64> = weights.iter().map(|w| w / max).collect();
    let su: f64 = u.iter().sum();
    let mean = values.iter().zip(&u).map(|(x, u)| u * x).sum::<f64>() / su;
    let ss = values
        .iter()
        .zip(&u)
        .map(|(x, u)| u * (x - mean) * (x - mean))
        .sum::<f64>()
        / su;
    let var = ss * n_eff / (n_eff - 1.0);
    let half = confidence.z() * (var / n_eff).sqrt();
    if !(mean.is_finite() && half.is_finite()) {
        return Err(IntervalError::Overflow);
    }
    Ok(Some(WeightedEstimate {
        interval: Interval {
            estimate: mean,
            lower: mean - half,
            upper: mean + half,
            confidence: confidence.level(),
        },
        n_eff,
        sum_weights: sw,
    }))
}

/// Weighted proportion Σw·1(outcome)/Σw with the Wilson interval computed at
/// the Kish effective sample size (Wilson with n = n_eff).
///
/// With equal weights this is exactly the ordinary Wilson interval. `None`
/// when the input is empty or all weights are zero.
pub fn weighted_proportion(
    outcomes: &[bool],
    weights: &[f64],
    confidence: Confidence,
) -> Result<Option<WeightedEstimate>, IntervalError> {
    check_weights(weights, outcomes.len())?;
    let Some(n_eff) = kish_effective_n(weights)? else {
        return Ok(None);
    };
    let sw: f64 = weights.iter().sum();
    // Relative weights, scaled by the largest so the sums cannot overflow.
    let max = weights.iter().fold(0.0f64, |m, &w| m.max(w));
    let su: f64 = weights.iter().map(|w| w / max).sum();
    let hits: f64 = outcomes
        .iter()
        .zip(weights)
        .filter(|(o, _)| **o)
        .map(|(_, w)| w / max)
        .sum();
    // Clamp rounding (hits can exceed the total by an ulp when all are true).
    let p = (hits / su).clamp(0.0, 1.0);
    let wilson = Wilson::from_proportion(p, n_eff)?;
    Ok(wilson
        .interval(confidence)
        .map(|interval| WeightedEstimate {
            interval,
            n_eff,
            sum_weights: sw,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_validation() {
        assert!(Confidence::new(0.0).is_err());
        assert!(Confidence::new(1.0).is_err());
        assert!(Confidence::new(f64::NAN).is_err());
        assert_eq!(Confidence::default().level(), 0.95);
        assert!((Confidence::default().z() - 1.959_963_984_540_054).abs() < 1e-15);
    }

    #[test]
    fn wilson_edges() {
        let c = Confidence::default();
        assert_eq!(Wilson::new(0, 0).unwrap().interval(c), None);
        assert!(Wilson::new(3, 2).is_err());
        let zero = Wilson::new(0, 10).unwrap().interval(c).unwrap();
        assert_eq!((zero.estimate, zero.lower), (0.0, 0.0));
        assert!(zero.upper > 0.0 && zero.upper < 1.0);
        let all = Wilson::new(10, 10).unwrap().interval(c).unwrap();
        assert_eq!((all.estimate, all.upper), (1.0, 1.0));
        assert!(all.lower > 0.0 && all.lower < 1.0);
        assert!((all.lower - (1.0 - zero.upper)).abs() < 1e-15);
        assert!(Wilson::from_proportion(1.2, 3.0).is_err());
        assert!(Wilson::from_proportion(0.2, f64::NAN).is_err());
    }

    #[test]
    fn ratio_edges() {
        let c = Confidence::default();
        let r = ProportionRatio::new(0, 10, 5, 10).unwrap();
        assert_eq!(r.ratio(), Some(0.0));
        assert_eq!(r.interval(c), None);
        let r = ProportionRatio::new(5, 10, 0, 10).unwrap();
        assert_eq!(r.ratio(), None);
        assert_eq!(r.interval(c), None);
        let r = ProportionRatio::new(10, 10, 7, 7).unwrap();
        let i = r.interval(c).unwrap();
        assert_eq!((i.estimate, i.lower, i.upper), (1.0, 1.0, 1.0));
        assert!(ProportionRatio::new(11, 10, 1, 1).is_err());
        assert!(ProportionRatio::new(1, 1, 2, 1).is_err());
        assert_eq!(ProportionRatio::new(0, 0, 1, 1).unwrap().ratio(), None);
    }

    #[test]
    fn mean_edges() {
        let c = Confidence::default();
        assert_eq!(mean_t(&[], c).unwrap(), None);
        assert_eq!(mean_t(&[1.0], c).unwrap(), None);
        assert_eq!(mean_normal(&[1.0], c).unwrap(), None);
        assert!(mean_t(&[1.0, f64::NAN], c).is_err());
        let same = mean_t(&[2.0, 2.0, 2.0], c).unwrap().unwrap();
        assert_eq!((same.estimate, same.lower, same.upper), (2.0, 2.0, 2.0));
    }

    #[test]
    fn weighted_edges() {
        let c = Confidence::default();
        assert_eq!(kish_effective_n(&[]).unwrap(), None);
        assert_eq!(kish_effective_n(&[0.0, 0.0]).unwrap(), None);
        assert_eq!(kish_effective_n(&[2.0, 2.0, 2.0]).unwrap(), Some(3.0));
        assert!(kish_effective_n(&[1.0, -1.0]).is_err());
        assert!(weighted_mean(&[1.0], &[1.0, 2.0], c).is_err());
        assert!(weighted_mean(&[1.0, 2.0], &[1.0, f64::NAN], c).is_err());
        assert_eq!(weighted_mean(&[1.0, 5.0], &[1.0, 0.0], c).unwrap(), None);
        assert_eq!(weighted_proportion(&[], &[], c).unwrap(), None);
        let all = weighted_proportion(&[true, true], &[0.1, 0.7], c)
            .unwrap()
            .unwrap();
        assert_eq!(all.interval.estimate, 1.0);
        assert_eq!(all.interval.upper, 1.0);
    }

    #[test]
    fn equal_weights_reduce_to_unweighted() {
        let c = Confidence::default();
        let xs = [3.0, 1.5, 4.0, 1.0, 5.5, 9.0, 2.0, 6.0];
        let w = [2.5; 8];
        let a = weighted_mean(&xs, &w, c).unwrap().unwrap();
        let b = mean_normal(&xs, c).unwrap().unwrap();
        assert!((a.interval.lower - b.lower).abs() < 1e-12);
        assert!((a.interval.upper - b.upper).abs() < 1e-12);
        assert!((a.n_eff - 8.0).abs() < 1e-12);
        let ys = [true, false, false, true, true, false, false, false];
        let a = weighted_proportion(&ys, &w, c).unwrap().unwrap();
        let b = Wilson::new(3, 8).unwrap().interval(c).unwrap();
        assert!((a.interval.lower - b.lower).abs() < 1e-12);
        assert!((a.interval.upper - b.upper).abs() < 1e-12);
    }
}
