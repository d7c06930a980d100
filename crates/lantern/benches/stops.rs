//! The pure parts of the stop analyses: the veil-of-darkness fits (the heaviest: a spline basis
//! and a binomial GLM with up to 44 columns) and the rate tables, on cells shaped like a
//! mid-size agency's year (6 districts, 5-minute cells over a four-hour window).
//!
//!     cargo bench -p lantern --bench stops

use lantern::transparency::analysis::{self, GroupTotals, VodForm};
use lantern::transparency::store::VodCell;

fn main() {
    divan::main();
}

fn cells() -> Vec<VodCell> {
    let mut rng = fastrand::Rng::with_seed(3);
    let mut out = Vec::new();
    for d in 0..6 {
        for is_dark in 0..2 {
            for m in (1040..1290).step_by(5) {
                let base = 20 + rng.i64(0..40);
                out.push(VodCell {
                    is_dark,
                    rounded_minute: m,
                    district: format!("D{d}"),
                    n_minority: base / 3 + rng.i64(0..10) - is_dark * 2,
                    n_majority: base,
                });
            }
        }
    }
    out
}

#[divan::bench(args = [VodForm::Plain, VodForm::District, VodForm::Interaction])]
fn veil_of_darkness_fit(bencher: divan::Bencher, form: VodForm) {
    let cells = cells();
    bencher.bench(|| analysis::fit_vod(divan::black_box(&cells), form).unwrap());
}

#[divan::bench]
fn rate_tables(bencher: divan::Bencher) {
    let totals: Vec<GroupTotals> = analysis::GROUPS
        .iter()
        .enumerate()
        .map(|(i, g)| GroupTotals {
            group: g.to_string(),
            stops: 10_000 + 1_000 * i as i64,
            searches: 300 + 20 * i as i64,
            searches_with_outcome: 290 + 20 * i as i64,
            hits: 80 + 3 * i as i64,
            discretionary_searches: 250 + 20 * i as i64,
            discretionary_hits: 70 + 3 * i as i64,
            frisks: 150 + 10 * i as i64,
            arrests: 200,
            citations: 5_000,
            warnings: 3_000,
            ..Default::default()
        })
        .collect();
    bencher.bench(|| analysis::rate_tables(divan::black_box(&totals), 10));
}
