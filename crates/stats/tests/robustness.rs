//! Bad or extreme input gives errors or `None`, never a panic, and never NaN
//! where an answer is returned.

use chrono::NaiveDate;
use proptest::prelude::*;
use stats::glm::fit_binomial;
use stats::interval::{Confidence, Wilson, mean_t, weighted_mean, weighted_proportion};
use stats::linalg::Matrix;
use stats::multiple::benjamini_hochberg;
use stats::rake::{RakeOptions, rake};
use stats::spline::NaturalSpline;
use stats::{normal, student, sun};

/// Any f64, weighted towards awkward values.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(-1.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        -1e6f64..1e6,
        any::<f64>(),
    ]
}

proptest! {
    #[test]
    fn distributions(p in wild(), df in wild(), x in wild()) {
        let _ = normal::cdf(x);
        let _ = normal::two_sided_p(x);
        if let Some(q) = normal::quantile(p) {
            prop_assert!(q.is_finite());
        }
        let _ = student::cdf(x, df);
        if let Some(q) = student::quantile(p, df) {
            prop_assert!(!q.is_nan());
        }
    }

    #[test]
    fn intervals(values in prop::collection::vec(wild(), 0..6), weights in prop::collection::vec(wild(), 0..6),
                 p in wild(), n in wild(), s in 0u64..20, m in 0u64..20) {
        let c = Confidence::default();
        if let Ok(Some(i)) = mean_t(&values, c) {
            prop_assert!(!i.lower.is_nan() && !i.upper.is_nan());
        }
        if let Ok(Some(e)) = weighted_mean(&values, &weights, c) {
            prop_assert!(!e.interval.lower.is_nan() && !e.interval.upper.is_nan());
        }
        let outcomes: Vec<bool> = values.iter().map(|v| *v > 0.0).collect();
        if let Ok(Some(e)) = weighted_proportion(&outcomes, &weights, c) {
            prop_assert!(e.interval.lower >= 0.0 && e.interval.upper <= 1.0);
        }
        if let Ok(w) = Wilson::from_proportion(p, n)
            && let Some(i) = w.interval(c)
        {
            prop_assert!(i.lower >= 0.0 && i.upper <= 1.0);
        }
        if let Ok(w) = Wilson::new(s, m) {
            let _ = w.interval(c);
        }
        let _ = benjamini_hochberg(&values);
    }

    #[test]
    fn splines(xs in prop::collection::vec(wild(), 0..12), df in 0usize..9, at in wild()) {
        if let Ok(ns) = NaturalSpline::from_data(&xs, df)
            && let Ok(row) = ns.basis_row(at)
        {
            prop_assert_eq!(row.len(), ns.df());
        }
    }

    #[test]
    fn splines_on_reasonable_data_are_finite(
        xs in prop::collection::vec(-1e4f64..1e4, 2..40), df in 1usize..8, at in -2e4f64..2e4,
    ) {
        if let Ok(ns) = NaturalSpline::from_data(&xs, df) {
            let row = ns.basis_row(at).unwrap();
            prop_assert!(row.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn glm(cells in prop::collection::vec((wild(), wild(), 0.0f64..30.0, 0.0f64..30.0), 0..8)) {
        let x1: Vec<f64> = cells.iter().map(|c| c.0).collect();
        let x2: Vec<f64> = cells.iter().map(|c| c.1).collect();
        let s: Vec<f64> = cells.iter().map(|c| c.2.floor()).collect();
        let f: Vec<f64> = cells.iter().map(|c| c.3.floor()).collect();
        let x = Matrix::from_columns(&[vec![1.0; cells.len()], x1, x2]).unwrap();
        if let Ok(fit) = fit_binomial(&x, &s, &f) {
            prop_assert!(fit.coefficients.iter().all(|b| b.is_finite()));
            prop_assert!(fit.std_errors.iter().all(|b| b.is_finite()));
            prop_assert!(fit.deviance.is_finite());
        }
    }

    #[test]
    fn glm_small_integer_designs(cells in prop::collection::vec((0u8..4, 0u8..3, 0.0f64..8.0, 0.0f64..8.0), 1..12)) {
        let x1: Vec<f64> = cells.iter().map(|c| f64::from(c.0)).collect();
        let x2: Vec<f64> = cells.iter().map(|c| f64::from(c.1)).collect();
        let s: Vec<f64> = cells.iter().map(|c| c.2.floor()).collect();
        let f: Vec<f64> = cells.iter().map(|c| c.3.floor()).collect();
        let x = Matrix::from_columns(&[vec![1.0; cells.len()], x1, x2]).unwrap();
        if let Ok(fit) = fit_binomial(&x, &s, &f) {
            prop_assert!(fit.coefficients.iter().all(|b| b.is_finite()));
            prop_assert!(fit.std_errors.iter().all(|b| b.is_finite() && *b > 0.0));
            prop_assert!(fit.p_values.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }

    #[test]
    fn raking(rows in prop::collection::vec((wild(), 0usize..4, 0usize..3), 0..10),
              a in prop::collection::vec(wild(), 0..4), b in prop::collection::vec(wild(), 0..3),
              eps in wild(), cycles in 0usize..5) {
        let w: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let c: Vec<[usize; 2]> = rows.iter().map(|r| [r.1, r.2]).collect();
        let opts = RakeOptions { epsilon: eps, max_cycles: cycles };
        if let Ok(r) = rake(&w, &c, &[&a, &b], &opts) {
            prop_assert!(r.weights.iter().all(|w| w.is_finite() && *w >= 0.0));
        }
    }

    #[test]
    fn sun_times(days in -1_000_000i32..1_000_000, lat in wild(), lon in wild()) {
        let date = NaiveDate::from_num_days_from_ce_opt(days.rem_euclid(3_000_000)).unwrap();
        let _ = sun::sun_times(date, lat, lon, chrono_tz::America::New_York);
    }
}
