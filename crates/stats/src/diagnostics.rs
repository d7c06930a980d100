//! Convergence diagnostics for Markov chain Monte Carlo: rank-normalised
//! split R-hat and bulk effective sample size.
//!
//! These follow Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
//! "Rank-normalization, folding, and localization: an improved R-hat for
//! assessing convergence of MCMC", as implemented in Stan and in ArviZ
//! (`az.rhat(method="rank")`, `az.ess(method="bulk")`):
//!
//! - each chain is split in halves (a trend inside a chain then shows as
//!   disagreement between its halves);
//! - the draws are replaced by normal scores of their pooled ranks, so the
//!   diagnostics do not need finite variances and are invariant to monotone
//!   transformations;
//! - R-hat is the larger of that of the rank-normalised draws and that of
//!   the rank-normalised draws folded about the median (which detects chains
//!   that agree in location but not in scale);
//! - the effective sample size uses Geyer's initial monotone sequence on the
//!   autocorrelations pooled over chains.
//!
//! ```
//! use stats::diagnostics::{ess_bulk, split_rhat};
//!
//! // Two chains that sit in different places have not converged.
//! let a: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin()).collect();
//! let b: Vec<f64> = a.iter().map(|x| x + 5.0).collect();
//! assert!(split_rhat(&[&a[..], &b[..]]).unwrap() > 1.5);
//! assert!(ess_bulk(&[&a[..], &b[..]]).unwrap() < 50.0);
//! ```

use crate::normal;

/// Rank-normalised split R-hat of `chains` (each a slice of draws in order),
/// the larger of the bulk and the folded (tail) value.
///
/// `None` when there are fewer than 4 draws per chain, chains of unequal
/// lengths, a non-finite draw, or when every draw is the same number.
pub fn split_rhat(chains: &[&[f64]]) -> Option<f64> {
    let split = split_chains(chains)?;
    let z = rank_normalise(&split)?;
    let bulk = rhat_basic(&z)?;
    let folded = fold(&split);
    let zf = rank_normalise(&folded)?;
    let tail = rhat_basic(&zf).unwrap_or(1.0);
    Some(bulk.max(tail))
}

/// Bulk effective sample size: the effective sample size of the
/// rank-normalised split chains. Same `None` cases as [`split_rhat`].
pub fn ess_bulk(chains: &[&[f64]]) -> Option<f64> {
    let split = split_chains(chains)?;
    let z = rank_normalise(&split)?;
    ess_basic(&z)
}

/// Potential scale reduction factor of chains as they are (no splitting,
/// no rank normalisation): sqrt of the pooled variance estimate over the
/// within-chain variance. `None` if the within-chain variance is zero or
/// there are fewer than 2 chains of at least 2 draws.
pub fn rhat_basic(chains: &[Vec<f64>]) -> Option<f64> {
    let m = chains.len();
    let n = chains.first()?.len();
    if m < 2 || n < 2 || chains.iter().any(|c| c.len() != n) {
        return None;
    }
    let nf = n as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let grand = mean(&means);
    let between = nf / (m as f64 - 1.0) * means.iter().map(|x| (x - grand).powi(2)).sum::<f64>();
    let within = chains
        .iter()
        .zip(&means)
        .map(|(c, mu)| c.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (nf - 1.0))
        .sum::<f64>()
        / m as f64;
    if within <= 0.0 || !within.is_finite() {
        return None;
    }
    let var_plus = (nf - 1.0) / nf * within + between / nf;
    Some((var_plus / within).sqrt())
}

/// Effective sample size of chains as they are (no splitting, no rank
/// normalisation), by Geyer's initial monotone sequence on the
/// autocorrelations pooled over chains, capped at `S log10(S)` for `S`
/// draws in all.
pub fn ess_basic(chains: &[Vec<f64>]) -> Option<f64> {
    let m = chains.len();
    let n = chains.first()?.len();
    if m < 1 || n < 4 || chains.iter().any(|c| c.len() != n) {
        return None;
    }
    let nf = n as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let centred: Vec<Vec<f64>> = chains
        .iter()
        .zip(&means)
        .map(|(c, mu)| c.iter().map(|x| x - mu).collect())
        .collect();
    // Autocovariance at lag k, averaged over chains (biased: divided by n).
    let acov = |k: usize| -> f64 {
        centred
            .iter()
            .map(|c| {
                c[..n - k]
                    .iter()
                    .zip(&c[k..])
                    .map(|(x, y)| x * y)
                    .sum::<f64>()
                    / nf
            })
            .sum::<f64>()
            / m as f64
    };
    let acov0 = acov(0);
    let mean_var = acov0 * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        let grand = mean(&means);
        var_plus += means.iter().map(|x| (x - grand).powi(2)).sum::<f64>() / (m as f64 - 1.0);
    }
    if var_plus <= 0.0 || !var_plus.is_finite() {
        return None;
    }
    let rho = |k: usize| 1.0 - (mean_var - acov(k)) / var_plus;

    // Geyer's initial positive sequence: pairs (rho_{2k}, rho_{2k+1}) while
    // their sum stays positive. (Indices as ArviZ's `_ess`.)
    let mut rho_hat = vec![0.0; n + 1];
    rho_hat[0] = 1.0;
    let mut even = 1.0;
    let mut odd = rho(1);
    rho_hat[1] = odd;
    let mut t = 1;
    while t + 3 < n && even + odd > 0.0 {
        even = rho(t + 1);
        odd = rho(t + 2);
        if even + odd >= 0.0 {
            rho_hat[t + 1] = even;
            rho_hat[t + 2] = odd;
        }
        t += 2;
    }
    if t < 3 {
        // Too few draws to look at a single pair of lags.
        return None;
    }
    // The last even lag looked at is max_t + 1; a positive value there
    // improves the estimate for antithetic chains.
    let max_t = t - 2;
    if even > 0.0 {
        rho_hat[max_t + 1] = even;
    }
    // Initial monotone sequence: the pair sums may not increase.
    let mut k = 1;
    while k + 2 <= max_t {
        if rho_hat[k + 1] + rho_hat[k + 2] > rho_hat[k - 1] + rho_hat[k] {
            let avg = (rho_hat[k - 1] + rho_hat[k]) / 2.0;
            rho_hat[k + 1] = avg;
            rho_hat[k + 2] = avg;
        }
        k += 2;
    }
    let total = (m * n) as f64;
    let tau = -1.0 + 2.0 * rho_hat[..=max_t].iter().sum::<f64>() + rho_hat[max_t + 1];
    Some((total / tau).min(total * total.log10()))
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Each chain cut in two halves (the middle draw of an odd chain dropped).
fn split_chains(chains: &[&[f64]]) -> Option<Vec<Vec<f64>>> {
    let n = chains.first()?.len();
    if n < 4
        || chains
            .iter()
            .any(|c| c.len() != n || c.iter().any(|x| !x.is_finite()))
    {
        return None;
    }
    let half = n / 2;
    let mut out = Vec::with_capacity(2 * chains.len());
    for c in chains {
        out.push(c[..half].to_vec());
        out.push(c[n - half..].to_vec());
    }
    Some(out)
}

/// Draws folded about their pooled median.
fn fold(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut all: Vec<f64> = chains.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let s = all.len();
    let median = if s % 2 == 1 {
        all[s / 2]
    } else {
        (all[s / 2 - 1] + all[s / 2]) / 2.0
    };
    chains
        .iter()
        .map(|c| c.iter().map(|x| (x - median).abs()).collect())
        .collect()
}

/// Normal scores of the pooled ranks (ties get their average rank), with
/// Blom's offset: z = Phi^-1((rank - 3/8) / (S + 1/4)). `None` if all draws
/// are equal.
fn rank_normalise(chains: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let mut idx: Vec<(f64, usize, usize)> = chains
        .iter()
        .enumerate()
        .flat_map(|(j, c)| c.iter().enumerate().map(move |(i, &x)| (x, j, i)))
        .collect();
    idx.sort_by(|a, b| a.0.total_cmp(&b.0));
    let s = idx.len();
    if s == 0 || idx[0].0 == idx[s - 1].0 {
        return None;
    }
    let mut out: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.len()]).collect();
    let denom = s as f64 + 0.25;
    let mut start = 0;
    while start < s {
        let mut end = start + 1;
        while end < s && idx[end].0 == idx[start].0 {
            end += 1;
        }
        // Ranks start..end-1 (0-based) share the average 1-based rank.
        let rank = (start + end + 1) as f64 / 2.0;
        let z = normal::quantile((rank - 0.375) / denom)?;
        for &(_, j, i) in &idx[start..end] {
            out[j][i] = z;
        }
        start = end;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_draws_have_no_diagnostics() {
        let a = [1.0; 10];
        assert!(split_rhat(&[&a[..], &a[..]]).is_none());
        assert!(ess_bulk(&[&a[..], &a[..]]).is_none());
    }

    #[test]
    fn short_or_ragged_chains_are_refused() {
        let a = [1.0, 2.0, 3.0];
        let b = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(split_rhat(&[&a[..]]).is_none());
        assert!(split_rhat(&[&b[..], &b[..4]]).is_none());
    }
}
