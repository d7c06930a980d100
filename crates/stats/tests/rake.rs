//! Raking against R `survey::rake` on the `apiclus1` data, and raking
//! properties.
//!
//! Reference: `tests/reference/rake_apiclus1.R` (R 4.2.2, survey 4.1-1);
//! its output is pasted at the end of that script.

use proptest::prelude::*;
use stats::rake::{RakeOptions, rake};

/// Splits one CSV line, honouring double quotes (no embedded newlines).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

struct School {
    stype: usize,
    sch_wide: usize,
    pw: f64,
    api00: f64,
}

fn apiclus1() -> Vec<School> {
    let text = include_str!("data/apiclus1.csv");
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (stype, sch_wide, pw, api00) = (col("stype"), col("sch.wide"), col("pw"), col("api00"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f = split_csv(l);
            School {
                stype: ["E", "H", "M"].iter().position(|s| *s == f[stype]).unwrap(),
                sch_wide: ["No", "Yes"]
                    .iter()
                    .position(|s| *s == f[sch_wide])
                    .unwrap(),
                pw: f[pw].parse().unwrap(),
                api00: f[api00].parse().unwrap(),
            }
        })
        .collect()
}

const STYPE: [f64; 3] = [4421.0, 755.0, 1018.0];
const SCH_WIDE: [f64; 2] = [1072.0, 5122.0];

fn rake_apiclus1(options: &RakeOptions) -> (Vec<School>, stats::rake::Raked) {
    let schools = apiclus1();
    let weights: Vec<f64> = schools.iter().map(|s| s.pw).collect();
    let cats: Vec<[usize; 2]> = schools.iter().map(|s| [s.stype, s.sch_wide]).collect();
    let r = rake(&weights, &cats, &[&STYPE[..], &SCH_WIDE[..]], options).unwrap();
    (schools, r)
}

/// Checks every school's weight against the R value for its cell
/// (cells indexed [stype][sch.wide]).
fn check_cells(schools: &[School], weights: &[f64], want: [[f64; 2]; 3], tol: f64) {
    for (s, w) in schools.iter().zip(weights) {
        let e = want[s.stype][s.sch_wide];
        assert!(
            (w - e).abs() < tol,
            "cell {}/{}: {w} vs R {e}",
            s.stype,
            s.sch_wide
        );
    }
}

#[test]
fn apiclus1_matches_r_default_control() {
    assert_eq!(apiclus1().len(), 183);
    let (schools, r) = rake_apiclus1(&RakeOptions::default());
    // R: weights(rake(dclus1, list(~stype, ~sch.wide), ...)) by cell.
    let want = [
        [39.838509410554, 29.8704638727345],
        [67.1257826263303, 50.3301527726748],
        [49.0700673992951, 36.7921816646831],
    ];
    check_cells(&schools, &r.weights, want, 1e-9);
    assert!(r.converged);
    // R needs maxit >= 4 to converge without a warning.
    assert_eq!(r.cycles, 4);
    assert!(r.max_change < 1.0);
    // R: coef(svymean(~api00, raked design)) = 641.230246862208
    let sw: f64 = r.weights.iter().sum();
    let mean = schools
        .iter()
        .zip(&r.weights)
        .map(|(s, w)| w * s.api00)
        .sum::<f64>()
        / sw;
    assert!((mean - 641.230246862208).abs() < 1e-9, "{mean}");
    assert!((sw - 6194.0).abs() < 1e-9);
}

#[test]
fn apiclus1_matches_r_relative_epsilon() {
    // epsilon < 1 is relative to the total initial weight in R.
    let options = RakeOptions {
        epsilon: 1e-9,
        max_cycles: 10,
    };
    let (schools, r) = rake_apiclus1(&options);
    let want = [
        [39.839236244693, 29.8706754919752],
        [67.1255292420443, 50.3294011185593],
        [49.0690721671939, 36.7910248679482],
    ];
    check_cells(&schools, &r.weights, want, 1e-9);
    assert!(r.converged);
    assert_eq!(r.cycles, 9);
    let total_pw: f64 = schools.iter().map(|s| s.pw).sum();
    assert!((r.epsilon - 1e-9 * total_pw).abs() < 1e-18);
}

#[test]
fn apiclus1_one_cycle_matches_r_and_reports_non_convergence() {
    let options = RakeOptions {
        epsilon: 1e-12,
        max_cycles: 1,
    };
    let (schools, r) = rake_apiclus1(&options);
    let want = [
        [38.4501581159089, 29.4588620596767],
        [67.5396838201056, 51.746009033639],
        [50.9973813935971, 39.0720063972145],
    ];
    check_cells(&schools, &r.weights, want, 1e-9);
    assert!(!r.converged);
    assert_eq!(r.cycles, 1);
}

/// Random raking problems that are always feasible: categories drawn for
/// respondents, every category populated, population totals from a random
/// positive joint table so that the margins agree.
fn problem() -> impl Strategy<Value = (Vec<f64>, Vec<[usize; 2]>, Vec<f64>, Vec<f64>)> {
    (2usize..5, 2usize..4).prop_flat_map(|(ka, kb)| {
        let cells = ka * kb;
        (
            // Each cell gets 1..4 respondents, so every category is present.
            prop::collection::vec((1usize..4, prop::collection::vec(0.2f64..5.0, 3)), cells),
            prop::collection::vec(10.0f64..1000.0, cells),
        )
            .prop_map(move |(resp, joint)| {
                let mut weights = Vec::new();
                let mut cats = Vec::new();
                for (c, (count, ws)) in resp.into_iter().enumerate() {
                    for w in ws.into_iter().take(count) {
                        weights.push(w);
                        cats.push([c / kb, c % kb]);
                    }
                }
                let mut a = vec![0.0; ka];
                let mut b = vec![0.0; kb];
                for (c, t) in joint.into_iter().enumerate() {
                    a[c / kb] += t;
                    b[c % kb] += t;
                }
                (weights, cats, a, b)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn converged_raking_meets_margins((weights, cats, a, b) in problem(), seed in any::<u64>()) {
        let options = RakeOptions { epsilon: 1e-10, max_cycles: 200 };
        let r = rake(&weights, &cats, &[&a, &b], &options).unwrap();
        prop_assert!(r.converged);
        prop_assert!(r.weights.iter().all(|&w| w > 0.0 && w.is_finite()));
        let total: f64 = a.iter().sum();
        let mut got_a = vec![0.0; a.len()];
        let mut got_b = vec![0.0; b.len()];
        for (w, c) in r.weights.iter().zip(&cats) {
            got_a[c[0]] += w;
            got_b[c[1]] += w;
        }
        for (g, e) in got_a.iter().zip(&a).chain(got_b.iter().zip(&b)) {
            prop_assert!((g - e).abs() <= 1e-6 * total, "{g} vs {e}");
        }

        // Row order does not matter: rake a shuffled copy and compare.
        let n = weights.len();
        let mut perm: Vec<usize> = (0..n).collect();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            perm.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let pw: Vec<f64> = perm.iter().map(|&i| weights[i]).collect();
        let pc: Vec<[usize; 2]> = perm.iter().map(|&i| cats[i]).collect();
        // Run both to the fixed point (epsilon too small to stop before the
        // table stops changing) so that rounding near a threshold cannot
        // make the two runs stop a cycle apart.
        let fixed = RakeOptions { epsilon: 1e-300, max_cycles: 60 };
        let r1 = rake(&weights, &cats, &[&a, &b], &fixed).unwrap();
        let r2 = rake(&pw, &pc, &[&a, &b], &fixed).unwrap();
        for (k, &i) in perm.iter().enumerate() {
            prop_assert!((r2.weights[k] - r1.weights[i]).abs() <= 1e-12 * r1.weights[i]);
        }
    }
}
