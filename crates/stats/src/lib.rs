//! Lantern statistics: pure, dependency-light numerical code.
//!
//! Everything here is deterministic and free of I/O so that the figures
//! Lantern publishes can be reproduced exactly and checked against the
//! reference implementations they imitate (R's `stats`, `survey` and
//! `splines`, and suncalc.js). Each module names the reference it follows
//! and the tests under `tests/` compare against output of those references.
//!
//! Modules:
//! - [`normal`]: standard normal pdf, cdf, quantile, two-sided p-values.
//! - [`student`]: Student-t cdf and quantile (for t-intervals).
//! - [`interval`]: Wilson, ratio-of-proportions (Katz), mean and weighted
//!   (Kish effective-n) intervals.
//! - [`linalg`]: a small dense matrix and Cholesky factorisation.
//! - [`rake`]: raking (iterative proportional fitting) as R `survey::rake`.
//! - [`glm`]: binomial logistic regression by IRLS as R `glm`.
//! - [`spline`]: the natural cubic spline basis of R `splines::ns`.
//! - [`multiple`]: Benjamini–Hochberg adjusted p-values as R `p.adjust`.
//! - [`sun`]: sunset and dusk times by the suncalc algorithm.
//! - [`disclosure`]: primary and complementary suppression of small counts
//!   in published tables.
//! - [`threshold`]: the threshold test for discrimination in searches
//!   (Simoiu et al. 2017), sampled by NUTS.
//! - [`diagnostics`]: MCMC convergence diagnostics (split R-hat, bulk ESS).
//!
//! Errors are returned, never panicked: each module has an error enum with
//! a message that says what was wrong with the input. Where valid input has
//! no sensible answer (say, a proportion out of zero trials) the result is
//! `None` rather than NaN.
//!
//! ```
//! use stats::interval::{Confidence, Wilson};
//!
//! // 3 of 10 stops led to a search: 30%, 95% CI about 10.8% to 60.3%.
//! let ci = Wilson::new(3, 10)?.interval(Confidence::default()).unwrap();
//! assert!((ci.lower - 0.1078).abs() < 1e-4 && (ci.upper - 0.6032).abs() < 1e-4);
//! # Ok::<(), stats::interval::IntervalError>(())
//! ```

#![warn(missing_docs)]

pub mod diagnostics;
pub mod disclosure;
pub mod glm;
pub mod interval;
pub mod linalg;
pub mod multiple;
pub mod normal;
pub mod rake;
pub mod spline;
pub mod student;
pub mod sun;
pub mod threshold;

mod special;
