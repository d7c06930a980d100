//! Multiple-comparison adjustment of p-values.
//!
//! Lantern tests many agencies, districts and groups at once; adjusting with
//! Benjamini–Hochberg controls the false discovery rate so that "flagged"
//! results are not mostly chance.

use std::fmt;

/// Errors from p-value adjustment.
#[derive(Debug, Clone, PartialEq)]
pub enum MultipleError {
    /// A p-value was NaN or outside [0, 1].
    InvalidPValue {
        /// Position of the offending value in the input.
        index: usize,
        /// The value itself.
        value: f64,
    },
}

impl fmt::Display for MultipleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultipleError::InvalidPValue { index, value } => {
                write!(f, "p-value {index} is {value}, not a number in [0, 1]")
            }
        }
    }
}

impl std::error::Error for MultipleError {}

/// Benjamini–Hochberg adjusted p-values, exactly as R's
/// `p.adjust(p, method = "BH")`: in decreasing order of p, the running
/// minimum of `n / rank * p`, capped at 1, returned in the input order.
///
/// Input may be in any order and contain ties (tied p-values get equal
/// adjusted values). An empty input gives an empty output. Missing values
/// are not supported: R would drop NAs from `n`; here they are an error, so
/// the caller decides what a missing test means.
pub fn benjamini_hochberg(p: &[f64]) -> Result<Vec<f64>, MultipleError> {
    for (index, &value) in p.iter().enumerate() {
        if !(0.0..=1.0).contains(&value) {
            return Err(MultipleError::InvalidPValue { index, value });
        }
    }
    let n = p.len();
    // Indices by decreasing p; the sort is stable, like R's order().
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut adjusted = vec![0.0; n];
    let mut running_min = f64::INFINITY;
    let nf = n as f64;
    for (k, &idx) in order.iter().enumerate() {
        // Rank among increasing p-values: n for the largest, down to 1.
        let rank = (n - k) as f64;
        running_min = running_min.min(nf / rank * p[idx]);
        adjusted[idx] = running_min.min(1.0);
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_single() {
        assert_eq!(benjamini_hochberg(&[]).unwrap(), Vec::<f64>::new());
        assert_eq!(benjamini_hochberg(&[0.03]).unwrap(), vec![0.03]);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(matches!(
            benjamini_hochberg(&[0.1, f64::NAN]),
            Err(MultipleError::InvalidPValue { index: 1, .. })
        ));
        assert!(benjamini_hochberg(&[1.5]).is_err());
        assert!(benjamini_hochberg(&[-0.01]).is_err());
        assert!(benjamini_hochberg(&[f64::INFINITY]).is_err());
    }

    #[test]
    fn hand_example() {
        // p = (0.01, 0.04, 0.03), n = 3: sorted 0.01, 0.03, 0.04 ->
        // 3*0.04/3 = 0.04, min(0.04, 3*0.03/2 = 0.045) = 0.04,
        // min(0.04, 3*0.01/1 = 0.03) = 0.03.
        let adj = benjamini_hochberg(&[0.01, 0.04, 0.03]).unwrap();
        let want = [0.03, 0.04, 0.04];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-15);
        }
    }
}
