//! Raking (iterative proportional fitting) of survey weights, exactly as R's
//! `survey::rake` (survey 4.x) does it.
//!
//! Lantern weights community-survey respondents so that the weighted sample
//! matches known population margins (e.g. age group and district). To make
//! published figures reproducible with R, this module follows
//! `survey::rake` step for step:
//!
//! 1. Before the first cycle, tabulate the *joint* weighted table: the sum of
//!    weights in every cell of the cross-classification of all raking
//!    variables.
//! 2. One cycle post-stratifies on each variable in turn (in the order
//!    given): every weight in category c of variable v is multiplied by
//!    `total[v][c] / (current weighted count of category c)`. Like R, the
//!    adjustment is applied to the selection probability 1/w
//!    (`prob <- prob / reweight`), and weights are read back as 1/prob.
//! 3. After the cycle, tabulate the joint table again. If the largest
//!    absolute change of any cell since the previous cycle is below
//!    `epsilon`, stop: converged. Otherwise repeat, at most `max_cycles`
//!    cycles in all.
//!
//! R's stopping rule has one more twist, kept here: an `epsilon` below 1 is
//! taken as a fraction of the total initial weight (R:
//! `if (epsilon < 1) epsilon <- epsilon * sum(weights)`), an `epsilon` of 1
//! or more is absolute. R's defaults are `epsilon = 1`, `maxit = 10`.
//!
//! Where R and this module differ, it is only to refuse bad input:
//! - A category with population total > 0 but no respondents is an error
//!   (R: "Some strata absent from sample"). A category with total 0 and no
//!   respondents is ignored (so does R). A category with respondents and
//!   total 0 is an error (R: "Strata in sample absent from population").
//! - R does not check that the margins of different variables add up to
//!   the same population total. When they do not, raking cannot satisfy
//!   all margins: R cycles until `maxit`, warns, and returns weights that
//!   match only the last margin. This module refuses such margins with
//!   [`RakeError::InconsistentTotals`] when they disagree by more than a
//!   relative 1e-6, because the result would silently depend on the order
//!   of the variables.

use std::collections::BTreeMap;
use std::fmt;

/// Relative tolerance for the totals of different margins to agree.
pub const TOTAL_TOLERANCE: f64 = 1e-6;

/// Options for [`rake`], with R's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RakeOptions {
    /// Convergence threshold on the largest absolute change of the joint
    /// table between cycles; values below 1 are a fraction of the total
    /// initial weight (as in R). Default 1.
    pub epsilon: f64,
    /// Maximum number of raking cycles. Default 10.
    pub max_cycles: usize,
}

impl Default for RakeOptions {
    fn default() -> Self {
        RakeOptions {
            epsilon: 1.0,
            max_cycles: 10,
        }
    }
}

/// Raked weights and convergence information.
#[derive(Debug, Clone, PartialEq)]
pub struct Raked {
    /// Final weights, one per respondent, in input order.
    pub weights: Vec<f64>,
    /// Number of full raking cycles performed.
    pub cycles: usize,
    /// Whether the stopping rule was met within `max_cycles`.
    pub converged: bool,
    /// Largest absolute change of the joint table in the last cycle.
    pub max_change: f64,
    /// The absolute threshold actually used (after R's relative rule).
    pub epsilon: f64,
}

/// Errors from [`rake`].
#[derive(Debug, Clone, PartialEq)]
pub enum RakeError {
    /// No respondents, or no raking variables.
    Empty,
    /// The number of category lists differs from the number of weights.
    LengthMismatch {
        /// Number of weights.
        weights: usize,
        /// Number of category lists.
        categories: usize,
    },
    /// A respondent's category list does not have one entry per variable.
    WrongCategoryCount {
        /// Respondent index.
        respondent: usize,
        /// Entries given.
        found: usize,
        /// Number of raking variables.
        expected: usize,
    },
    /// A weight is not finite and > 0.
    InvalidWeight {
        /// Respondent index.
        respondent: usize,
        /// The weight.
        weight: f64,
    },
    /// A category index is beyond the margin's categories.
    CategoryOutOfRange {
        /// Respondent index.
        respondent: usize,
        /// Variable index.
        variable: usize,
        /// The category given.
        category: usize,
        /// Number of categories in the margin.
        categories: usize,
    },
    /// A population total is negative, NaN or infinite.
    InvalidTotal {
        /// Variable index.
        variable: usize,
        /// Category index.
        category: usize,
        /// The total.
        total: f64,
    },
    /// A category has a population total but no respondents, so no weight
    /// can reach it.
    EmptyCategory {
        /// Variable index.
        variable: usize,
        /// Category index.
        category: usize,
    },
    /// A category has respondents but a population total of zero.
    ZeroTotalWithRespondents {
        /// Variable index.
        variable: usize,
        /// Category index.
        category: usize,
    },
    /// The margins of two variables sum to different population totals.
    InconsistentTotals {
        /// Variable index.
        variable: usize,
        /// That variable's total.
        total: f64,
        /// The first variable's total.
        expected: f64,
    },
    /// `epsilon` is not finite and > 0, or `max_cycles` is 0.
    InvalidOptions,
}

impl fmt::Display for RakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RakeError::Empty => write!(f, "raking needs at least one respondent and one variable"),
            RakeError::LengthMismatch {
                weights,
                categories,
            } => write!(
                f,
                "{weights} weights but {categories} respondents' categories"
            ),
            RakeError::WrongCategoryCount {
                respondent,
                found,
                expected,
            } => write!(
                f,
                "respondent {respondent} has {found} categories but there are {expected} raking variables"
            ),
            RakeError::InvalidWeight { respondent, weight } => write!(
                f,
                "respondent {respondent} has weight {weight}; weights must be finite and > 0"
            ),
            RakeError::CategoryOutOfRange {
                respondent,
                variable,
                category,
                categories,
            } => write!(
                f,
                "respondent {respondent} has category {category} for variable {variable}, which has only {categories} categories"
            ),
            RakeError::InvalidTotal {
                variable,
                category,
                total,
            } => write!(
                f,
                "population total {total} for variable {variable}, category {category} is not a finite number >= 0"
            ),
            RakeError::EmptyCategory { variable, category } => write!(
                f,
                "variable {variable}, category {category} has a population total but no respondents"
            ),
            RakeError::ZeroTotalWithRespondents { variable, category } => write!(
                f,
                "variable {variable}, category {category} has respondents but a population total of 0"
            ),
            RakeError::InconsistentTotals {
                variable,
                total,
                expected,
            } => write!(
                f,
                "margin {variable} sums to {total} but margin 0 sums to {expected}; raking margins must describe the same population"
            ),
            RakeError::InvalidOptions => {
                write!(
                    f,
                    "epsilon must be finite and > 0 and max_cycles at least 1"
                )
            }
        }
    }
}

impl std::error::Error for RakeError {}

/// Rakes `weights` to the population `margins`.
///
/// - `weights[r]`: initial (e.g. design) weight of respondent r, > 0.
/// - `categories[r][v]`: respondent r's category index in raking variable v.
/// - `margins[v][c]`: population total of category c of variable v.
///
/// The result does not depend on the order of respondents (up to floating
/// point summation order). See the module documentation for the exact
/// algorithm and stopping rule.
pub fn rake<C: AsRef<[usize]>, M: AsRef<[f64]>>(
    weights: &[f64],
    categories: &[C],
    margins: &[M],
    options: &RakeOptions,
) -> Result<Raked, RakeError> {
    let nvar = margins.len();
    let n = weights.len();
    if n == 0 || nvar == 0 {
        return Err(RakeError::Empty);
    }
    if !(options.epsilon.is_finite() && options.epsilon > 0.0) || options.max_cycles == 0 {
        return Err(RakeError::InvalidOptions);
    }
    if categories.len() != n {
        return Err(RakeError::LengthMismatch {
            weights: n,
            categories: categories.len(),
        });
    }
    for (respondent, &weight) in weights.iter().enumerate() {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(RakeError::InvalidWeight { respondent, weight });
        }
    }
    for (respondent, cats) in categories.iter().enumerate() {
        let cats = cats.as_ref();
        if cats.len() != nvar {
            return Err(RakeError::WrongCategoryCount {
                respondent,
                found: cats.len(),
                expected: nvar,
            });
        }
        for (variable, (&category, margin)) in cats.iter().zip(margins).enumerate() {
            let categories = margin.as_ref().len();
            if category >= categories {
                return Err(RakeError::CategoryOutOfRange {
                    respondent,
                    variable,
                    category,
                    categories,
                });
            }
        }
    }
    // Validate totals and the presence of respondents in each category.
    let mut grand_totals = Vec::with_capacity(nvar);
    for (variable, margin) in margins.iter().enumerate() {
        let margin = margin.as_ref();
        let mut count = vec![0usize; margin.len()];
        for cats in categories {
            count[cats.as_ref()[variable]] += 1;
        }
        for (category, &total) in margin.iter().enumerate() {
            if !(total.is_finite() && total >= 0.0) {
                return Err(RakeError::InvalidTotal {
                    variable,
                    category,
                    total,
                });
            }
            if total > 0.0 && count[category] == 0 {
                return Err(RakeError::EmptyCategory { variable, category });
            }
            if total == 0.0 && count[category] > 0 {
                return Err(RakeError::ZeroTotalWithRespondents { variable, category });
            }
        }
        grand_totals.push(margin.iter().sum::<f64>());
    }
    let expected = grand_totals[0];
    for (variable, &total) in grand_totals.iter().enumerate().skip(1) {
        if (total - expected).abs() > TOTAL_TOLERANCE * expected.abs().max(total.abs()) {
            return Err(RakeError::InconsistentTotals {
                variable,
                total,
                expected,
            });
        }
    }

    // Joint-table cell of each respondent. Cells without respondents are 0
    // in every table, so they never contribute to the change and need not
    // be stored. A BTreeMap keeps cell numbering independent of hashing.
    let mut cell_ids: BTreeMap<&[usize], usize> = BTreeMap::new();
    let cell: Vec<usize> = categories
        .iter()
        .map(|c| {
            let next = cell_ids.len();
            *cell_ids.entry(c.as_ref()).or_insert(next)
        })
        .collect();
    let ncells = cell_ids.len();

    let epsilon = if options.epsilon < 1.0 {
        options.epsilon * weights.iter().sum::<f64>()
    } else {
        options.epsilon
    };

    // R keeps selection probabilities and divides them by the reweighting
    // factor; doing the same keeps the arithmetic (and rounding) identical.
    let mut prob: Vec<f64> = weights.iter().map(|w| 1.0 / w).collect();
    let joint = |prob: &[f64]| {
        let mut t = vec![0.0; ncells];
        for (p, &c) in prob.iter().zip(&cell) {
            t[c] += 1.0 / p;
        }
        t
    };
    let mut old_table = joint(&prob);
    let mut cycles = 0;
    let mut converged = false;
    let mut max_change = f64::INFINITY;
    while cycles < options.max_cycles {
        for (variable, margin) in margins.iter().enumerate() {
            let margin = margin.as_ref();
            let mut sample = vec![0.0; margin.len()];
            for (p, cats) in prob.iter().zip(categories) {
                sample[cats.as_ref()[variable]] += 1.0 / p;
            }
            // Population / sample for each category that has respondents.
            let reweight: Vec<f64> = margin
                .iter()
                .zip(&sample)
                .map(|(&pop, &s)| if s > 0.0 { pop / s } else { 1.0 })
                .collect();
            for (p, cats) in prob.iter_mut().zip(categories) {
                *p /= reweight[cats.as_ref()[variable]];
            }
        }
        cycles += 1;
        let new_table = joint(&prob);
        max_change = old_table
            .iter()
            .zip(&new_table)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if max_change < epsilon {
            converged = true;
            break;
        }
        old_table = new_table;
    }
    Ok(Raked {
        weights: prob.iter().map(|p| 1.0 / p).collect(),
        cycles,
        converged,
        max_change,
        epsilon,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_example_two_by_two() {
        // Four respondents in a 2x2 design, weights 1. Margins A = (3, 1),
        // B = (2, 2). After raking on A: cell weights 1.5, 1.5 (A=0) and
        // 0.5, 0.5 (A=1); B margins are then already (2, 2), so the second
        // cycle changes nothing. (With R's default epsilon = 1 the first
        // cycle's change of 0.5 would already stop it; a relative epsilon of
        // 1e-3, i.e. 0.004 absolute, asks for the second cycle.)
        let cats = [[0, 0], [0, 1], [1, 0], [1, 1]];
        let options = RakeOptions {
            epsilon: 1e-3,
            max_cycles: 10,
        };
        let r = rake(
            &[1.0; 4],
            &cats,
            &[vec![3.0, 1.0], vec![2.0, 2.0]],
            &options,
        )
        .unwrap();
        let want = [1.5, 1.5, 0.5, 0.5];
        for (w, e) in r.weights.iter().zip(want) {
            assert!((w - e).abs() < 1e-12);
        }
        assert!(r.converged);
        assert_eq!(r.cycles, 2);
        assert_eq!(r.max_change, 0.0);
    }

    #[test]
    fn errors() {
        let o = RakeOptions::default();
        let m = [vec![1.0, 1.0]];
        assert_eq!(
            rake::<[usize; 1], _>(&[], &[], &m, &o),
            Err(RakeError::Empty)
        );
        assert!(matches!(
            rake(&[1.0], &[[0]], &[vec![1.0, 1.0]], &o),
            Err(RakeError::EmptyCategory {
                variable: 0,
                category: 1
            })
        ));
        // A category with no respondents and total 0 is fine (R drops it).
        assert!(rake(&[1.0], &[[0]], &[vec![2.0, 0.0]], &o).is_ok());
        assert!(matches!(
            rake(&[1.0, 1.0], &[[0], [1]], &[vec![2.0, 0.0]], &o),
            Err(RakeError::ZeroTotalWithRespondents { .. })
        ));
        assert!(matches!(
            rake(&[1.0], &[[2]], &m, &o),
            Err(RakeError::CategoryOutOfRange { .. })
        ));
        assert!(matches!(
            rake(&[0.0], &[[0]], &[vec![1.0]], &o),
            Err(RakeError::InvalidWeight { .. })
        ));
        assert!(matches!(
            rake(&[1.0], &[vec![0, 0]], &[vec![1.0]], &o),
            Err(RakeError::WrongCategoryCount { .. })
        ));
        assert!(matches!(
            rake(&[1.0, 1.0], &[[0]], &[vec![1.0]], &o),
            Err(RakeError::LengthMismatch {
                weights: 2,
                categories: 1
            })
        ));
        assert!(matches!(
            rake(&[1.0], &[[0]], &[vec![f64::NAN]], &o),
            Err(RakeError::InvalidTotal { .. })
        ));
        assert!(matches!(
            rake(
                &[1.0, 1.0],
                &[[0, 0], [1, 1]],
                &[vec![1.0, 1.0], vec![1.0, 2.0]],
                &o
            ),
            Err(RakeError::InconsistentTotals { variable: 1, .. })
        ));
        let bad = RakeOptions {
            epsilon: 0.0,
            max_cycles: 10,
        };
        assert_eq!(
            rake(&[1.0], &[[0]], &[vec![1.0]], &bad),
            Err(RakeError::InvalidOptions)
        );
    }

    #[test]
    fn relative_epsilon_like_r() {
        let r = rake(
            &[2.0, 2.0],
            &[[0], [1]],
            &[vec![1.0, 3.0]],
            &RakeOptions {
                epsilon: 0.25,
                max_cycles: 10,
            },
        )
        .unwrap();
        assert_eq!(r.epsilon, 1.0); // 0.25 * (2 + 2)
    }
}
