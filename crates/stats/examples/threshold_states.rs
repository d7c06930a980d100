//! Fits the threshold test to every state of SOPP's Figure 4b data and
//! compares the thresholds with theirs.
//!
//! Run with `cargo run -p lantern-stats --release --example threshold_states
//! [STATE ...]`. Prints, per state: cells, wall time, the largest
//! |Lantern − SOPP| threshold, whether the race ordering of the average
//! thresholds matches SOPP's, and the diagnostics.
//!
//! For experiments, environment variables change the default options:
//! `THRESHOLD_DRAWS=N` (warm-up and kept draws per chain), `THRESHOLD_KEEP=N`
//! (kept draws only), `THRESHOLD_TARGET=0.9` (target acceptance),
//! `THRESHOLD_LOW_RANK=1` (low-rank mass matrix), `THRESHOLD_CENTRE_FROM=K`
//! (centre the thresholds of cells with at least K searches).

use std::collections::HashMap;
use std::time::Instant;

use stats::threshold::{CellCounts, FitOptions, fit};

const DATA: &str = include_str!("../tests/data/fig4b_threshold_test.csv");

struct Row {
    cell: CellCounts,
    sopp: f64,
    state: String,
}

fn rows() -> Vec<Row> {
    DATA.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                cell: CellCounts {
                    location: f[0].to_string(),
                    race: f[1].trim_end_matches(" drivers").to_string(),
                    stops: f[2].parse().expect("stops"),
                    searches: f[3].parse().expect("searches"),
                    hits: f[4].parse().expect("hits"),
                },
                sopp: f[7].parse().expect("threshold"),
                state: f[8].to_string(),
            }
        })
        .collect()
}

/// Races ordered by stop-weighted average threshold.
fn ordering(cells: &[(CellCounts, f64)]) -> Vec<String> {
    let mut loc_stops: HashMap<&str, f64> = HashMap::new();
    for (c, _) in cells {
        *loc_stops.entry(&c.location).or_default() += c.stops as f64;
    }
    let mut acc: HashMap<&str, (f64, f64)> = HashMap::new();
    for (c, t) in cells {
        let w = loc_stops[c.location.as_str()];
        let e = acc.entry(&c.race).or_default();
        e.0 += t * w;
        e.1 += w;
    }
    let mut v: Vec<(String, f64)> = acc
        .into_iter()
        .map(|(r, (a, b))| (r.to_string(), a / b))
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    v.into_iter().map(|(r, _)| r).collect()
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let all = rows();
    let mut states: Vec<String> = Vec::new();
    for r in &all {
        if !states.contains(&r.state) {
            states.push(r.state.clone());
        }
    }
    let mut options = FitOptions {
        reference_race: Some("White".into()),
        ..FitOptions::default()
    };
    if std::env::var("THRESHOLD_LOW_RANK").is_ok() {
        options.mass_matrix = stats::threshold::MassMatrix::LowRank;
    }
    if let Ok(v) = std::env::var("THRESHOLD_CENTRE_FROM") {
        let k: u64 = v.parse().expect("THRESHOLD_CENTRE_FROM");
        options.centring = stats::threshold::Centring::FromSearches(k);
    }
    if let Ok(v) = std::env::var("THRESHOLD_TARGET") {
        options.target_accept = v.parse().expect("THRESHOLD_TARGET");
    }
    if let Ok(v) = std::env::var("THRESHOLD_KEEP") {
        options.draws = v.parse().expect("THRESHOLD_KEEP");
    }
    if let Ok(v) = std::env::var("THRESHOLD_DRAWS") {
        let n: u64 = v.parse().expect("THRESHOLD_DRAWS");
        options.warmup = n;
        options.draws = n;
    }
    println!(
        "chains {}, warm-up {}, draws {}, threads {}",
        options.chains, options.warmup, options.draws, options.threads
    );
    println!(
        "| state | cells | time (s) | max abs diff vs SOPP | ordering matches | max R-hat (reported / parameters) | min bulk ESS (reported / parameters) | divergences | mean leapfrog steps | converged |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for state in states {
        if !wanted.is_empty() && !wanted.contains(&state) {
            continue;
        }
        let mine: Vec<&Row> = all.iter().filter(|r| r.state == state).collect();
        let cells: Vec<CellCounts> = mine.iter().map(|r| r.cell.clone()).collect();
        let start = Instant::now();
        let result = match fit(&cells, &options) {
            Ok(r) => r,
            Err(e) => {
                println!("| {state} | {} | fit failed: {e} |", cells.len());
                continue;
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let est = result.estimates_unchecked();
        let max_diff = est
            .cells
            .iter()
            .zip(&mine)
            .map(|(c, r)| (c.threshold.mean - r.sopp).abs())
            .fold(0.0, f64::max);
        let ours: Vec<(CellCounts, f64)> = est
            .cells
            .iter()
            .zip(&mine)
            .map(|(c, r)| (r.cell.clone(), c.threshold.mean))
            .collect();
        let theirs: Vec<(CellCounts, f64)> =
            mine.iter().map(|r| (r.cell.clone(), r.sopp)).collect();
        let d = &result.diagnostics;
        println!(
            "| {state} | {} | {secs:.1} | {max_diff:.4} | {} | {:.3} / {:.3} | {:.0} / {:.0} | {} | {:.0} | {} |",
            cells.len(),
            ordering(&ours) == ordering(&theirs),
            d.max_rhat,
            d.max_rhat_parameters,
            d.min_ess_bulk,
            d.min_ess_bulk_parameters,
            d.divergences,
            d.mean_leapfrog_steps,
            result.converged,
        );
        for r in &est.races {
            let diff = r
                .difference_from_reference
                .map(|e| {
                    format!(
                        ", minus White {:.3} ({:.3}, {:.3})",
                        e.mean, e.lower, e.upper
                    )
                })
                .unwrap_or_default();
            eprintln!(
                "  {state} {}: {:.3} ({:.3}, {:.3}){diff}",
                r.race, r.threshold.mean, r.threshold.lower, r.threshold.upper
            );
        }
        if !result.converged {
            eprintln!("  {state}: {}", d.problems.join("; "));
        }
    }
}
