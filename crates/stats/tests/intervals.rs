//! Intervals against R: `prop.test(correct = FALSE)` (Wilson),
//! `epitools::riskratio.wald` (Katz log interval for a ratio of
//! proportions), `t.test` (t-interval), and the normal and Kish
//! effective-n formulas written out in R.
//!
//! Reference: `tests/reference/intervals.R` (R 4.2.2, epitools 0.5-10.1);
//! its output is the constants at the end of this file.
#![allow(clippy::excessive_precision)]

use proptest::prelude::*;
use stats::interval::{
    Confidence, ProportionRatio, Wilson, kish_effective_n, mean_normal, mean_t, weighted_mean,
    weighted_proportion,
};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300) || a == b
}

#[test]
fn wilson_matches_prop_test() {
    for (x, n, cl, lo, hi) in WILSON {
        let i = Wilson::new(x, n)
            .unwrap()
            .interval(Confidence::new(cl).unwrap())
            .unwrap();
        assert!(
            close(i.lower, lo, 1e-12),
            "{x}/{n} @{cl}: lower {} vs R {lo}",
            i.lower
        );
        assert!(
            close(i.upper, hi, 1e-12),
            "{x}/{n} @{cl}: upper {} vs R {hi}",
            i.upper
        );
        assert_eq!(i.estimate, x as f64 / n as f64);
        assert_eq!(i.confidence, cl);
    }
}

#[test]
fn ratio_matches_epitools_riskratio_wald() {
    for (x1, n1, x2, n2, cl, est, lo, hi) in RATIO {
        let r = ProportionRatio::new(x1, n1, x2, n2).unwrap();
        let i = r.interval(Confidence::new(cl).unwrap()).unwrap();
        assert!(close(i.estimate, est, 1e-13), "{x1}/{n1} vs {x2}/{n2}");
        assert!(
            close(i.lower, lo, 1e-12),
            "{x1}/{n1} vs {x2}/{n2}: {} vs {lo}",
            i.lower
        );
        assert!(
            close(i.upper, hi, 1e-12),
            "{x1}/{n1} vs {x2}/{n2}: {} vs {hi}",
            i.upper
        );
    }
}

#[test]
fn means_match_t_test_and_normal_formula() {
    for (cl, t, normal) in [
        (0.95, MEAN_T_95, MEAN_NORMAL_95),
        (0.8, MEAN_T_80, MEAN_NORMAL_80),
    ] {
        let c = Confidence::new(cl).unwrap();
        let i = mean_t(&X, c).unwrap().unwrap();
        assert!(close(i.estimate, MEAN_X, 1e-15));
        assert!(
            close(i.lower, t.0, 1e-13) && close(i.upper, t.1, 1e-13),
            "{i:?}"
        );
        let i = mean_normal(&X, c).unwrap().unwrap();
        assert!(
            close(i.lower, normal.0, 1e-13) && close(i.upper, normal.1, 1e-13),
            "{i:?}"
        );
    }
    let i = mean_t(&[3.0, 4.0], Confidence::default()).unwrap().unwrap();
    assert!(close(i.lower, MEAN_T_TWO.0, 1e-13) && close(i.upper, MEAN_T_TWO.1, 1e-13));
}

#[test]
fn weighted_match_kish_formulas() {
    let c = Confidence::default();
    assert!(close(kish_effective_n(&W).unwrap().unwrap(), N_EFF, 1e-14));
    let m = weighted_mean(&X, &W, c).unwrap().unwrap();
    assert!(close(m.n_eff, N_EFF, 1e-14));
    assert!(close(m.interval.estimate, WMEAN.0, 1e-14));
    assert!(close(m.interval.lower, WMEAN.1, 1e-13));
    assert!(close(m.interval.upper, WMEAN.2, 1e-13));
    assert!(close(m.sum_weights, W.iter().sum(), 1e-15));
    let p = weighted_proportion(&Y, &W, c).unwrap().unwrap();
    assert!(close(p.interval.estimate, WPROP.0, 1e-14));
    assert!(close(p.interval.lower, WPROP.1, 1e-13));
    assert!(close(p.interval.upper, WPROP.2, 1e-13));
}

proptest! {
    #[test]
    fn wilson_within_unit_interval_and_contains_estimate(
        n in 1u64..100_000,
        frac in 0.0f64..=1.0,
        cl in 0.5f64..0.9999,
    ) {
        let x = ((n as f64) * frac).floor() as u64;
        let i = Wilson::new(x, n).unwrap().interval(Confidence::new(cl).unwrap()).unwrap();
        prop_assert!(i.lower >= 0.0 && i.upper <= 1.0);
        prop_assert!(i.lower <= i.estimate && i.estimate <= i.upper, "{:?}", i);
        prop_assert!(i.lower < i.upper);
    }

    #[test]
    fn wilson_fractional_n_within_unit_interval(p in 0.0f64..=1.0, n in 0.01f64..1e6) {
        let i = Wilson::from_proportion(p, n).unwrap().interval(Confidence::default()).unwrap();
        prop_assert!(i.lower >= 0.0 && i.upper <= 1.0);
        prop_assert!(i.lower <= p && p <= i.upper);
    }

    #[test]
    fn ratio_interval_contains_estimate(
        n1 in 1u64..10_000, f1 in 0.0f64..=1.0, n2 in 1u64..10_000, f2 in 0.0f64..=1.0,
    ) {
        let x1 = ((n1 as f64) * f1).floor() as u64;
        let x2 = ((n2 as f64) * f2).floor() as u64;
        let r = ProportionRatio::new(x1, n1, x2, n2).unwrap();
        match r.interval(Confidence::default()) {
            Some(i) => {
                prop_assert!(x1 > 0 && x2 > 0);
                prop_assert!(i.lower > 0.0 && i.lower <= i.estimate && i.estimate <= i.upper);
                prop_assert!(i.upper.is_finite());
            }
            None => prop_assert!(x1 == 0 || x2 == 0),
        }
    }

    #[test]
    fn weighted_mean_interval_contains_estimate(
        data in prop::collection::vec((-1e3f64..1e3, 0.01f64..10.0), 2..50),
    ) {
        let (x, w): (Vec<f64>, Vec<f64>) = data.into_iter().unzip();
        let m = weighted_mean(&x, &w, Confidence::default()).unwrap().unwrap();
        prop_assert!(m.n_eff >= 1.0 && m.n_eff <= x.len() as f64 * (1.0 + 1e-12));
        prop_assert!(m.interval.lower <= m.interval.estimate);
        prop_assert!(m.interval.estimate <= m.interval.upper);
    }
}

// ---- R output (tests/reference/intervals.R) ----

/// (x1, n1, x2, n2, confidence, estimate, lower, upper).
type RatioRow = (u64, u64, u64, u64, f64, f64, f64, f64);

// (successes, n, confidence, lower, upper) from prop.test(x, n, conf.level, correct = FALSE)
const WILSON: [(u64, u64, f64, f64, f64); 33] = [
    (0, 1, 0.94999999999999996, 0.0, 0.79345068562276255),
    (0, 1, 0.90000000000000002, 0.0, 0.73013405121594566),
    (0, 1, 0.98999999999999999, 0.0, 0.86902245671981404),
    (1, 1, 0.94999999999999996, 0.2065493143772375, 1.0),
    (1, 1, 0.90000000000000002, 0.26986594878405434, 1.0),
    (1, 1, 0.98999999999999999, 0.1309775432801859, 1.0),
    (0, 10, 0.94999999999999996, 0.0, 0.27753279986288915),
    (0, 10, 0.90000000000000002, 0.0, 0.21294197008340682),
    (0, 10, 0.98999999999999999, 0.0, 0.39885409330490795),
    (10, 10, 0.94999999999999996, 0.72246720013711085, 1.0),
    (10, 10, 0.90000000000000002, 0.78705802991659313, 1.0),
    (10, 10, 0.98999999999999999, 0.60114590669509194, 1.0),
    (
        3,
        10,
        0.94999999999999996,
        0.10779126740630104,
        0.60322185253885452,
    ),
    (
        3,
        10,
        0.90000000000000002,
        0.12687658390319789,
        0.55830020413016479,
    ),
    (
        3,
        10,
        0.98999999999999999,
        0.079566316523065797,
        0.67997532079889733,
    ),
    (
        1,
        3,
        0.94999999999999996,
        0.061491944720396291,
        0.79234039919795229,
    ),
    (
        1,
        3,
        0.90000000000000002,
        0.078265726333728428,
        0.74646613171877574,
    ),
    (
        1,
        3,
        0.98999999999999999,
        0.040426629296084669,
        0.85578398495233299,
    ),
    (
        17,
        40,
        0.94999999999999996,
        0.28509392559950375,
        0.57804931458008924,
    ),
    (
        17,
        40,
        0.90000000000000002,
        0.30523413698015694,
        0.55426888031666188,
    ),
    (
        17,
        40,
        0.98999999999999999,
        0.24890358835262447,
        0.62243739367351325,
    ),
    (
        500,
        1000,
        0.94999999999999996,
        0.46906960036810419,
        0.53093039963189581,
    ),
    (
        500,
        1000,
        0.90000000000000002,
        0.47402769147842011,
        0.52597230852157983,
    ),
    (
        500,
        1000,
        0.98999999999999999,
        0.45940700521208488,
        0.54059299478791523,
    ),
    (
        1,
        1000,
        0.94999999999999996,
        0.00017654637062607817,
        0.0056425585979579338,
    ),
    (
        1,
        1000,
        0.90000000000000002,
        0.00022312384391207017,
        0.0044697229093689271,
    ),
    (
        1,
        1000,
        0.98999999999999999,
        0.00011741635361832181,
        0.0084605662199816918,
    ),
    (
        999,
        1000,
        0.94999999999999996,
        0.99435744140204207,
        0.99982345362937386,
    ),
    (
        999,
        1000,
        0.90000000000000002,
        0.99553027709063102,
        0.99977687615608779,
    ),
    (
        999,
        1000,
        0.98999999999999999,
        0.9915394337800183,
        0.99988258364638161,
    ),
    (
        12345,
        67890,
        0.94999999999999996,
        0.17895489704038053,
        0.1847576419503337,
    ),
    (
        12345,
        67890,
        0.90000000000000002,
        0.17941603158953409,
        0.18428586165214503,
    ),
    (
        12345,
        67890,
        0.98999999999999999,
        0.17805633404720358,
        0.18568238340486504,
    ),
];
// (x1, n1, x2, n2, confidence, estimate, lower, upper) from epitools::riskratio.wald
const RATIO: [RatioRow; 10] = [
    (
        30,
        100,
        20,
        100,
        0.94999999999999996,
        1.4999999999999998,
        0.915960829322366,
        2.4564369217235682,
    ),
    (
        30,
        100,
        20,
        100,
        0.90000000000000002,
        1.4999999999999998,
        0.9915552155341828,
        2.2691625889818465,
    ),
    (
        5,
        12,
        9,
        40,
        0.94999999999999996,
        1.8518518518518519,
        0.7661307947693633,
        4.4762008062076513,
    ),
    (
        5,
        12,
        9,
        40,
        0.90000000000000002,
        1.8518518518518519,
        0.88293341440376449,
        3.8840474550653856,
    ),
    (
        7,
        7,
        3,
        9,
        0.94999999999999996,
        3.0,
        1.1908607985710482,
        7.5575583735726184,
    ),
    (
        7,
        7,
        3,
        9,
        0.90000000000000002,
        3.0,
        1.3815704410302554,
        6.5143258227851071,
    ),
    (
        250,
        4000,
        300,
        3500,
        0.94999999999999996,
        0.72916666666666663,
        0.62036490212849804,
        0.85705046490145953,
    ),
    (
        250,
        4000,
        300,
        3500,
        0.90000000000000002,
        0.72916666666666663,
        0.63669324206033306,
        0.83507094571516638,
    ),
    (
        1,
        50,
        1,
        60,
        0.94999999999999996,
        1.2,
        0.076999194300172241,
        18.701494386893582,
    ),
    (
        1,
        50,
        1,
        60,
        0.90000000000000002,
        1.2,
        0.11974020419405948,
        12.026035947510438,
    ),
];
const X: [f64; 10] = [12.5, 9.75, 14.0, 11.25, 8.5, 13.0, 10.0, 15.5, 9.0, 12.0];
// t.test(X, conf.level = 0.95)$conf.int and mean(X) -/+ qnorm * sd(X)/sqrt(n)
const MEAN_T_95: (f64, f64) = (9.9265968337971007, 13.173403166202899);
const MEAN_NORMAL_95: (f64, f64) = (10.143461236702851, 12.95653876329715);
// t.test(X, conf.level = 0.8)$conf.int and mean(X) -/+ qnorm * sd(X)/sqrt(n)
const MEAN_T_80: (f64, f64) = (10.55749016479233, 12.542509835207669);
const MEAN_NORMAL_80: (f64, f64) = (10.630313736211008, 12.469686263788994);
const MEAN_X: f64 = 11.550000000000001;
// two values (df = 1): t.test(c(3, 4))$conf.int
const MEAN_T_TWO: (f64, f64) = (-2.8531023680873471, 9.8531023680873471);
const W: [f64; 10] = [
    1.2,
    0.80000000000000004,
    2.5,
    1.0,
    0.40000000000000002,
    3.1000000000000001,
    1.7,
    0.90000000000000002,
    1.1000000000000001,
    2.2000000000000002,
];
const Y: [bool; 10] = [
    true, false, true, true, false, false, true, false, false, true,
];
const N_EFF: f64 = 7.6953206239168113;
const WMEAN: (f64, f64, f64) = (12.080536912751677, 10.685484378028129, 13.475589447475226);
const WPROP: (f64, f64, f64) = (
    0.57718120805369122,
    0.26526388859715783,
    0.83769970621990764,
);
