//! The natural cubic spline basis of R's `splines::ns(x, df)` with
//! `intercept = FALSE`, reproduced exactly (same knots, same columns, same
//! signs), so that a model fitted here with `ns(x, df)` columns has the same
//! coefficients as in R.
//!
//! Construction, following `splines::ns`:
//! 1. Boundary knots are `range(x)`; `df - 1` interior knots are the
//!    type-7 quantiles (R's default `quantile`) of x at probabilities
//!    1/df, 2/df, ..., (df-1)/df.
//! 2. The cubic B-spline basis (order 4) on the knots, with each boundary
//!    knot repeated four times, has `df + 3` functions; the first is
//!    dropped (`intercept = FALSE`).
//! 3. Natural splines have zero second derivative at both boundary knots.
//!    With C the 2 x (df+2) matrix of the remaining functions' second
//!    derivatives at the boundary knots, R takes the QR decomposition of
//!    Cᵀ (LINPACK `dqrdc2` Householder reflections) and maps each basis row
//!    b to Qᵀb, keeping all but the first two entries: those span the
//!    functions whose second derivatives vanish at the boundaries. The
//!    reflections are reproduced as LINPACK computes them, which fixes the
//!    sign and rotation of every column to R's.
//!
//! Outside the boundary knots the basis is extended linearly, as R's `ns`
//! and `predict` do: value and first derivative of the B-splines at the
//! nearer boundary knot, then the same QR map. (A natural spline is linear
//! beyond its boundary knots, so this is the natural continuation.)

use std::fmt;

use crate::linalg::Matrix;

/// Errors from spline construction and evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum SplineError {
    /// No data to place knots.
    Empty,
    /// A value is NaN or infinite.
    NonFinite {
        /// Position in the input.
        index: usize,
    },
    /// Degrees of freedom must be at least 1.
    InvalidDf,
    /// The data have fewer than two distinct values, so there is no range
    /// to place a spline on.
    ZeroRange,
    /// An interior knot coincides with a boundary knot, or more than three
    /// interior knots coincide (too many ties in x for this many degrees of
    /// freedom): the basis would be degenerate.
    DegenerateKnots,
    /// Knots were given out of order or not finite.
    InvalidKnots,
    /// A probability for a quantile is outside [0, 1].
    InvalidProbability(f64),
}

impl fmt::Display for SplineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplineError::Empty => write!(f, "no data to place spline knots"),
            SplineError::NonFinite { index } => write!(f, "value {index} is NaN or infinite"),
            SplineError::InvalidDf => write!(f, "spline degrees of freedom must be at least 1"),
            SplineError::ZeroRange => {
                write!(f, "spline data need at least two distinct values")
            }
            SplineError::DegenerateKnots => write!(
                f,
                "spline knots are degenerate (interior knot on a boundary, or too many ties): use fewer degrees of freedom"
            ),
            SplineError::InvalidKnots => {
                write!(
                    f,
                    "knots must be finite, sorted, and inside the boundary knots"
                )
            }
            SplineError::InvalidProbability(p) => {
                write!(f, "probability {p} is not in [0, 1]")
            }
        }
    }
}

impl std::error::Error for SplineError {}

/// Sample quantiles of R's default type 7: for sorted x of length n and
/// probability p, interpolate linearly between x[floor(h)] and x[ceil(h)]
/// with h = 1 + (n - 1) p (1-based), exactly as R's `quantile`.
pub fn quantile_type7(x: &[f64], probs: &[f64]) -> Result<Vec<f64>, SplineError> {
    if x.is_empty() {
        return Err(SplineError::Empty);
    }
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(SplineError::NonFinite { index });
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    probs
        .iter()
        .map(|&p| {
            if !(0.0..=1.0).contains(&p) {
                return Err(SplineError::InvalidProbability(p));
            }
            let index = 1.0 + (n - 1) as f64 * p;
            let lo = index.floor();
            let hi = index.ceil();
            let qs = sorted[lo as usize - 1];
            let xhi = sorted[hi as usize - 1];
            let h = index - lo;
            Ok(if index > lo && xhi != qs {
                (1.0 - h) * qs + h * xhi
            } else {
                qs
            })
        })
        .collect()
}

/// R's `seq.int(0, 1, length.out = len)`, computed the way R's C code does
/// (from the nearer end), so that knot probabilities agree to the bit.
fn seq_unit(len: usize) -> Vec<f64> {
    let mut out = vec![0.0; len];
    if len > 1 {
        out[len - 1] = 1.0;
    }
    if len > 2 {
        let by = 1.0 / (len - 1) as f64;
        for (i, o) in out.iter_mut().enumerate().take(len - 1).skip(1) {
            *o = if i < len / 2 {
                i as f64 * by
            } else {
                1.0 - (len - 1 - i) as f64 * by
            };
        }
    }
    out
}

/// Values (deriv = 0) or derivatives (deriv = 1, 2) at `x` of all cubic
/// B-splines on the augmented knot vector `t` (boundary knots repeated 4
/// times). `x` must lie within the boundary knots; at the right boundary the
/// polynomial piece of the last non-empty interval is used (the left limit),
/// as R's `splineDesign` does.
fn bspline(t: &[f64], x: f64, deriv: usize) -> Vec<f64> {
    const ORDER: usize = 4;
    let nk = t.len();
    // Interval j with t[j] <= x < t[j+1], clamped to the last non-empty one.
    let mut j = ORDER - 1;
    while j + 1 < nk - ORDER && t[j + 1] <= x {
        j += 1;
    }
    while j > ORDER - 1 && t[j] == t[j + 1] {
        j -= 1;
    }
    let ratio = |num: f64, den: f64| if den == 0.0 { 0.0 } else { num / den };
    // Order 1: indicator of interval j; raise order up to ORDER - deriv.
    let mut b = vec![0.0; nk - 1];
    b[j] = 1.0;
    for o in 2..=(ORDER - deriv) {
        let next: Vec<f64> = (0..nk - o)
            .map(|i| {
                ratio(x - t[i], t[i + o - 1] - t[i]) * b[i]
                    + ratio(t[i + o] - x, t[i + o] - t[i + 1]) * b[i + 1]
            })
            .collect();
        b = next;
    }
    // Differentiate: d/dx B_{i,o} = (o-1) [B_{i,o-1}/(t_{i+o-1}-t_i)
    //                                      - B_{i+1,o-1}/(t_{i+o}-t_{i+1})].
    for o in (ORDER - deriv + 1)..=ORDER {
        let next: Vec<f64> = (0..nk - o)
            .map(|i| {
                (o - 1) as f64
                    * (ratio(b[i], t[i + o - 1] - t[i]) - ratio(b[i + 1], t[i + o] - t[i + 1]))
            })
            .collect();
        b = next;
    }
    b
}

/// A natural cubic spline basis with fixed knots, as R's `ns` object.
#[derive(Debug, Clone, PartialEq)]
pub struct NaturalSpline {
    interior: Vec<f64>,
    lower: f64,
    upper: f64,
    /// Augmented knot vector: boundary knots 4 times each around the
    /// interior knots.
    knots: Vec<f64>,
    /// Householder vectors of the QR of Cᵀ (LINPACK layout: column l holds
    /// the vector from row l down, with its first entry in `qraux[l]`).
    householder: [Vec<f64>; 2],
}

impl NaturalSpline {
    /// The basis R's `ns(x, df)` builds from data `x` (intercept = FALSE):
    /// `df - 1` interior knots at type-7 quantiles, boundary knots at the
    /// range of `x`.
    pub fn from_data(x: &[f64], df: usize) -> Result<Self, SplineError> {
        if df == 0 {
            return Err(SplineError::InvalidDf);
        }
        if x.is_empty() {
            return Err(SplineError::Empty);
        }
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(SplineError::NonFinite { index });
        }
        let lower = x.iter().copied().fold(f64::INFINITY, f64::min);
        let upper = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lower >= upper {
            return Err(SplineError::ZeroRange);
        }
        let n_interior = df - 1;
        let probs = seq_unit(n_interior + 2);
        let interior = quantile_type7(x, &probs[1..=n_interior])?;
        NaturalSpline::with_knots(&interior, lower, upper)
    }

    /// A basis with given interior knots and boundary knots, as R's
    /// `ns(x, knots = interior, Boundary.knots = c(lower, upper))`.
    pub fn with_knots(interior: &[f64], lower: f64, upper: f64) -> Result<Self, SplineError> {
        if !(lower.is_finite() && upper.is_finite()) || interior.iter().any(|k| !k.is_finite()) {
            return Err(SplineError::InvalidKnots);
        }
        if lower >= upper {
            return Err(SplineError::ZeroRange);
        }
        if interior.windows(2).any(|w| w[0] > w[1]) {
            return Err(SplineError::InvalidKnots);
        }
        if interior.iter().any(|&k| k <= lower || k >= upper) {
            // R sorts and accepts; a knot on or beyond a boundary makes a
            // degenerate or non-natural basis, so refuse it.
            return Err(SplineError::DegenerateKnots);
        }
        if interior.windows(4).any(|w| w[0] == w[3]) {
            return Err(SplineError::DegenerateKnots);
        }
        let mut knots = vec![lower; 4];
        knots.extend_from_slice(interior);
        knots.extend_from_slice(&[upper; 4]);

        // Cᵀ: (nbasis - 1) x 2, second derivatives at the two boundaries,
        // first B-spline dropped.
        let d_lo = bspline(&knots, lower, 2);
        let d_hi = bspline(&knots, upper, 2);
        let mut cols = [d_lo[1..].to_vec(), d_hi[1..].to_vec()];
        let m = cols[0].len();
        // LINPACK dqrdc2 (no pivoting is needed: the two columns are
        // independent for valid knots).
        let mut householder: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for l in 0..2 {
            let (head, tail) = cols.split_at_mut(l + 1);
            let col = &mut head[l];
            let norm = col[l..].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm == 0.0 {
                return Err(SplineError::DegenerateKnots);
            }
            let nrmxl = if col[l] != 0.0 {
                norm.copysign(col[l])
            } else {
                norm
            };
            for v in &mut col[l..] {
                *v /= nrmxl;
            }
            col[l] += 1.0;
            for other in tail.iter_mut() {
                let dot: f64 = col[l..].iter().zip(&other[l..]).map(|(a, b)| a * b).sum();
                let t = -dot / col[l];
                for (o, &c) in other[l..].iter_mut().zip(&col[l..]) {
                    *o += t * c;
                }
            }
            householder[l] = col[l..m].to_vec();
        }
        Ok(NaturalSpline {
            interior: interior.to_vec(),
            lower,
            upper,
            knots,
            householder,
        })
    }

    /// The interior knots.
    pub fn interior_knots(&self) -> &[f64] {
        &self.interior
    }

    /// The boundary knots (lower, upper).
    pub fn boundary_knots(&self) -> (f64, f64) {
        (self.lower, self.upper)
    }

    /// Number of basis columns (the `df` of `ns`).
    pub fn df(&self) -> usize {
        self.interior.len() + 1
    }

    /// The basis row at `x`: `df` values. Inside the boundary knots this is
    /// R's `ns` basis; outside, its linear continuation (see module docs).
    pub fn basis_row(&self, x: f64) -> Result<Vec<f64>, SplineError> {
        if !x.is_finite() {
            return Err(SplineError::NonFinite { index: 0 });
        }
        let full = if x < self.lower || x > self.upper {
            let pivot = if x < self.lower {
                self.lower
            } else {
                self.upper
            };
            let value = bspline(&self.knots, pivot, 0);
            let slope = bspline(&self.knots, pivot, 1);
            value
                .iter()
                .zip(&slope)
                .map(|(v, s)| v + (x - pivot) * s)
                .collect()
        } else {
            bspline(&self.knots, x, 0)
        };
        // Drop the first B-spline, apply Qᵀ (LINPACK dqrsl), keep rows 3...
        let mut y = full[1..].to_vec();
        for (l, u) in self.householder.iter().enumerate() {
            let dot: f64 = u.iter().zip(&y[l..]).map(|(a, b)| a * b).sum();
            let t = -dot / u[0];
            for (yi, &ui) in y[l..].iter_mut().zip(u) {
                *yi += t * ui;
            }
        }
        Ok(y[2..].to_vec())
    }

    /// The basis matrix for `xs`: one row per value, `df` columns.
    pub fn basis(&self, xs: &[f64]) -> Result<Matrix, SplineError> {
        let df = self.df();
        let mut data = Vec::with_capacity(xs.len() * df);
        for (index, &x) in xs.iter().enumerate() {
            let row = self
                .basis_row(x)
                .map_err(|_| SplineError::NonFinite { index })?;
            data.extend(row);
        }
        Matrix::new(xs.len(), df, data).map_err(|_| SplineError::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsplines_partition_unity_and_derivatives_sum_to_zero() {
        let knots = [0.0, 0.0, 0.0, 0.0, 0.3, 0.5, 0.5, 0.8, 1.0, 1.0, 1.0, 1.0];
        for &x in &[0.0, 0.1, 0.3, 0.49, 0.5, 0.77, 0.99, 1.0] {
            let v = bspline(&knots, x, 0);
            assert_eq!(v.len(), 8);
            assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-14, "x={x}");
            assert!(v.iter().all(|&b| b >= -1e-15));
            for d in 1..=2 {
                let s: f64 = bspline(&knots, x, d).iter().sum();
                assert!(s.abs() < 1e-10, "x={x} d={d} s={s}");
            }
        }
        // At the right end the last B-spline is 1 (left limit).
        let v = bspline(&knots, 1.0, 0);
        assert!((v[7] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn first_derivative_matches_finite_difference() {
        let knots = [0.0, 0.0, 0.0, 0.0, 0.25, 0.6, 1.0, 1.0, 1.0, 1.0];
        let h = 1e-6;
        for &x in &[0.1, 0.4, 0.7, 0.9] {
            let d = bspline(&knots, x, 1);
            let lo = bspline(&knots, x - h, 0);
            let hi = bspline(&knots, x + h, 0);
            for i in 0..d.len() {
                let fd = (hi[i] - lo[i]) / (2.0 * h);
                assert!((d[i] - fd).abs() < 1e-6, "x={x} i={i}");
            }
        }
    }

    #[test]
    fn natural_basis_has_zero_curvature_at_boundaries() {
        let x: Vec<f64> = (0..50)
            .map(|i| (i as f64 * 0.37).sin() * 10.0 + i as f64)
            .collect();
        let ns = NaturalSpline::from_data(&x, 4).unwrap();
        let (lo, hi) = ns.boundary_knots();
        let h = 1e-3;
        for &(b, dir) in &[(lo, 1.0), (hi, -1.0)] {
            let f0 = ns.basis_row(b).unwrap();
            let f1 = ns.basis_row(b + dir * h).unwrap();
            let f2 = ns.basis_row(b + dir * 2.0 * h).unwrap();
            for j in 0..ns.df() {
                let second = (f0[j] - 2.0 * f1[j] + f2[j]) / (h * h);
                assert!(second.abs() < 1e-2, "j={j} second={second}");
            }
        }
    }

    #[test]
    fn seq_and_quantile() {
        assert_eq!(seq_unit(3), vec![0.0, 0.5, 1.0]);
        let q = quantile_type7(&[3.0, 1.0, 2.0, 10.0], &[0.0, 0.5, 1.0, 0.25]).unwrap();
        // h = 1 + 3p: 1 -> 1; 2.5 -> 2 + 0.5 (3 - 2) = 2.5; 4 -> 10;
        // 1.75 -> 1 + 0.75 (2 - 1) = 1.75
        assert_eq!(q, vec![1.0, 2.5, 10.0, 1.75]);
        assert!(quantile_type7(&[], &[0.5]).is_err());
        assert!(quantile_type7(&[1.0], &[1.5]).is_err());
    }

    #[test]
    fn errors() {
        assert_eq!(
            NaturalSpline::from_data(&[1.0, 2.0], 0),
            Err(SplineError::InvalidDf)
        );
        assert_eq!(NaturalSpline::from_data(&[], 3), Err(SplineError::Empty));
        assert_eq!(
            NaturalSpline::from_data(&[2.0, 2.0], 3),
            Err(SplineError::ZeroRange)
        );
        assert_eq!(
            NaturalSpline::from_data(&[1.0, f64::NAN], 3),
            Err(SplineError::NonFinite { index: 1 })
        );
        // Mostly ties: interior knots land on the lower boundary.
        let x = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(
            NaturalSpline::from_data(&x, 3),
            Err(SplineError::DegenerateKnots)
        );
        assert_eq!(
            NaturalSpline::with_knots(&[0.6, 0.4], 0.0, 1.0),
            Err(SplineError::InvalidKnots)
        );
        let ns = NaturalSpline::from_data(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
        assert!(ns.basis_row(f64::NAN).is_err());
        assert!(matches!(
            ns.basis(&[0.5, f64::INFINITY]),
            Err(SplineError::NonFinite { index: 1 })
        ));
    }

    #[test]
    fn df_one_has_no_interior_knots() {
        let ns = NaturalSpline::from_data(&[0.0, 1.0, 2.0, 3.0], 1).unwrap();
        assert!(ns.interior_knots().is_empty());
        // With no interior knots the natural cubic is linear in x.
        let a = ns.basis_row(0.0).unwrap()[0];
        let b = ns.basis_row(1.5).unwrap()[0];
        let c = ns.basis_row(3.0).unwrap()[0];
        assert!(((b - a) - (c - b)).abs() < 1e-12);
    }
}
