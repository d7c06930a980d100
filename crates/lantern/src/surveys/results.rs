//! From running totals to what people read: shares with Wilson intervals, means with t
//! intervals, scores, monthly trends, breakdowns with small groups suppressed, estimates
//! weighted to the census by raking, and free-text themes.

use std::collections::{BTreeMap, HashMap};

use stats::interval::{Confidence, Wilson};
use stats::rake::{RakeOptions, rake};

use super::aggregate::{Aggregate, Dim, ScoreKey, Tally, Totals, Weighting};
use super::model::{Definition, QuestionKind, Score};
use super::themes::{self, Theme};
use crate::web::charts::{Bar, BarChart, LineChart, Series, percent};
use crate::web::i18n::Lang;

/// An estimate with its 95% interval and the sample size behind it (effective size when
/// weighted).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Est {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub n: f64,
}

impl Est {
    pub fn pct(&self) -> String {
        format!(
            "{:.1}% ({:.1}–{:.1})",
            self.value * 100.0,
            self.lower * 100.0,
            self.upper * 100.0
        )
    }

    pub fn mean(&self) -> String {
        format!("{:.1} ({:.1}–{:.1})", self.value, self.lower, self.upper)
    }

    /// Keeps an interval inside the scale it measures (a t interval near an end can pass it).
    pub fn within(mut self, range: Option<(f64, f64)>) -> Est {
        if let Some((lo, hi)) = range {
            self.lower = self.lower.clamp(lo, hi);
            self.upper = self.upper.clamp(lo, hi);
        }
        self
    }
}

/// A share of `n` with its Wilson interval; `n` may be an effective (non-integer) size.
pub fn share(part: f64, n: f64) -> Option<Est> {
    if n <= 0.0 {
        return None;
    }
    let p = (part / n).clamp(0.0, 1.0);
    let i = Wilson::from_proportion(p, n)
        .ok()?
        .interval(Confidence::default())?;
    Some(Est {
        value: p,
        lower: i.lower,
        upper: i.upper,
        n,
    })
}

/// A mean with its t interval from running sums (`n` respondents).
pub fn mean(n: f64, sum: f64, sum_sq: f64) -> Option<Est> {
    if n < 1.0 {
        return None;
    }
    let m = sum / n;
    if n < 2.0 {
        return Some(Est {
            value: m,
            lower: m,
            upper: m,
            n,
        });
    }
    let var = ((sum_sq - n * m * m) / (n - 1.0)).max(0.0);
    let t = Confidence::default().t(n - 1.0)?;
    let half = t * (var / n).sqrt();
    Some(Est {
        value: m,
        lower: m - half,
        upper: m + half,
        n,
    })
}

/// Weights per census cell from raking, and what the weighting covered.
#[derive(Clone, Debug)]
pub struct CellWeights {
    /// Weight of one respondent in each cell.
    pub per_respondent: Vec<f64>,
    pub respondents: u64,
    pub variables: Vec<String>,
    /// Census categories nobody in the sample belongs to: left out, the rest rescaled.
    pub dropped: Vec<String>,
    pub converged: bool,
    pub n_eff: f64,
}

/// Rakes the sample's census cells to the census shares. `shares[v]` lists, for weighting
/// variable `v`, the population share of each category (same order as the weighting's).
pub fn rake_cells(
    agg: &Aggregate,
    weighting: &Weighting,
    shares: &[Vec<f64>],
) -> Option<CellWeights> {
    if agg.cells.is_empty() || weighting.variables.is_empty() {
        return None;
    }
    let respondents: u64 = agg.cell_counts.iter().sum();
    let total = respondents as f64;
    let mut dropped = Vec::new();
    let mut margins: Vec<Vec<f64>> = Vec::new();
    for (v, (key, categories)) in weighting.variables.iter().enumerate() {
        let present: Vec<bool> = (0..categories.len())
            .map(|k| agg.cells.iter().any(|c| c[v] == k))
            .collect();
        let covered: f64 = shares[v]
            .iter()
            .zip(&present)
            .filter(|(_, p)| **p)
            .map(|(s, _)| s)
            .sum();
        if covered <= 0.0 {
            return None;
        }
        for (k, p) in present.iter().enumerate() {
            if !p && shares[v][k] > 0.0 {
                dropped.push(format!("{key}: {}", categories[k]));
            }
        }
        margins.push(
            shares[v]
                .iter()
                .zip(&present)
                .map(|(s, p)| if *p { s / covered * total } else { 0.0 })
                .collect(),
        );
    }
    let weights: Vec<f64> = agg.cell_counts.iter().map(|n| *n as f64).collect();
    let raked = rake(
        &weights,
        &agg.cells,
        &margins,
        &RakeOptions {
            epsilon: 1e-6,
            max_cycles: 100,
        },
    )
    .ok()?;
    let per_respondent: Vec<f64> = raked
        .weights
        .iter()
        .zip(&agg.cell_counts)
        .map(|(w, n)| w / *n as f64)
        .collect();
    let sum_w: f64 = raked.weights.iter().sum();
    let sum_w2: f64 = per_respondent
        .iter()
        .zip(&agg.cell_counts)
        .map(|(w, n)| w * w * *n as f64)
        .sum();
    Some(CellWeights {
        per_respondent,
        respondents,
        variables: weighting.variables.iter().map(|(k, _)| k.clone()).collect(),
        dropped,
        converged: raked.converged,
        n_eff: sum_w * sum_w / sum_w2,
    })
}

/// Weighted share of `choice`, and weighted mean, from per-cell tallies.
fn weighted(totals: &Totals, weights: &CellWeights) -> Option<(f64, f64, f64, f64, f64)> {
    // (Σw, Σw², Σw·x, Σw·x², n_eff) over respondents in cells who answered.
    let (mut sw, mut sw2, mut swx, mut swx2) = (0.0, 0.0, 0.0, 0.0);
    for (cell, tally) in &totals.by_cell {
        let w = weights.per_respondent[*cell];
        sw += w * tally.n as f64;
        sw2 += w * w * tally.n as f64;
        swx += w * tally.sum;
        swx2 += w * tally.sum_sq;
    }
    (sw > 0.0).then(|| (sw, sw2, swx, swx2, sw * sw / sw2))
}

fn weighted_share(totals: &Totals, weights: &CellWeights, choice: &str) -> Option<Est> {
    let (sw, _, _, _, n_eff) = weighted(totals, weights)?;
    let part: f64 = totals
        .by_cell
        .iter()
        .map(|(cell, t)| weights.per_respondent[*cell] * *t.counts.get(choice).unwrap_or(&0) as f64)
        .sum();
    let mut e = share(part / sw * n_eff, n_eff)?;
    e.n = n_eff;
    Some(e)
}

fn weighted_mean(totals: &Totals, weights: &CellWeights) -> Option<Est> {
    let (sw, _, swx, swx2, n_eff) = weighted(totals, weights)?;
    let m = swx / sw;
    let var = (swx2 / sw - m * m).max(0.0) * n_eff / (n_eff - 1.0).max(1.0);
    let t = Confidence::default().t((n_eff - 1.0).max(1.0))?;
    let half = t * (var / n_eff).sqrt();
    Some(Est {
        value: m,
        lower: m - half,
        upper: m + half,
        n: n_eff,
    })
}

/// Rules for hiding small groups.
#[derive(Clone, Copy, Debug)]
pub struct Suppression {
    /// Groups with fewer respondents than this are not shown.
    pub min: u64,
    /// Also hide the next smallest group when only one would be hidden, so the hidden one
    /// cannot be worked out from the total (anonymous employee surveys).
    pub complementary: bool,
}

/// Which groups of a breakdown to hide, given their sizes.
pub fn hidden_groups(sizes: &BTreeMap<String, u64>, rule: Suppression) -> Vec<String> {
    let mut hidden: Vec<String> = sizes
        .iter()
        .filter(|(_, n)| **n < rule.min)
        .map(|(g, _)| g.clone())
        .collect();
    if rule.complementary
        && hidden.len() == 1
        && sizes.len() > 1
        && let Some((g, _)) = sizes
            .iter()
            .filter(|(g, _)| !hidden.contains(g))
            .min_by_key(|(_, n)| **n)
    {
        hidden.push(g.clone());
    }
    hidden
}

#[derive(Clone, Debug)]
pub struct ChoiceRow {
    pub label: String,
    pub count: u64,
    pub share: Option<Est>,
    pub weighted: Option<Est>,
}

#[derive(Clone, Debug)]
pub struct GroupRow {
    pub label: String,
    pub n: u64,
    /// Shown values, or None when the group is too small to show.
    pub cells: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
pub struct Breakdown {
    /// What is broken down (a score), or empty for a question (its heading says it).
    pub subject: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<GroupRow>,
    pub hidden: usize,
}

#[derive(Clone, Debug)]
pub struct QuestionResult {
    pub key: String,
    pub label: String,
    pub kind: &'static str,
    pub n: u64,
    pub choices: Vec<ChoiceRow>,
    pub mean: Option<Est>,
    pub weighted_mean: Option<Est>,
    pub chart: String,
    pub breakdown: Option<Breakdown>,
    pub themes: Vec<Theme>,
    pub text_count: u64,
}

#[derive(Clone, Debug)]
pub struct TrendRow {
    pub month: String,
    pub n: u64,
    pub est: Option<Est>,
}

#[derive(Clone, Debug)]
pub struct ScoreResult {
    pub label: &'static str,
    pub value: Option<Est>,
    pub weighted: Option<Est>,
    pub trend: Vec<TrendRow>,
    pub trend_chart: String,
    pub breakdown: Option<Breakdown>,
}

#[derive(Clone, Debug)]
pub struct Results {
    pub respondents: u64,
    pub flagged: u64,
    pub scores: Vec<ScoreResult>,
    pub questions: Vec<QuestionResult>,
    pub weights: Option<CellWeights>,
    /// The whole survey is below the suppression threshold.
    pub too_few: bool,
    pub min_group: u64,
}

/// "2026-03" → "Mar 2026".
pub fn month_label(m: &str) -> String {
    const NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match m.split_once('-') {
        Some((y, mo)) => match mo.parse::<usize>() {
            Ok(i) if (1..=12).contains(&i) => format!("{} {y}", NAMES[i - 1]),
            _ => m.to_string(),
        },
        None => m.to_string(),
    }
}

/// How a breakdown reads in a heading, and its groups' labels.
pub fn dim_title(dim: &Dim, def: &Definition, lang: Lang) -> String {
    match dim {
        Dim::Month => "Month".into(),
        Dim::Channel => "Channel".into(),
        Dim::Officer => "Officer".into(),
        Dim::Unit => "Unit".into(),
        Dim::CallType => "Call type".into(),
        Dim::ContactDistrict => "District of the contact".into(),
        Dim::Answer(key) => match def.question(key) {
            Some(q) => match &q.kind {
                QuestionKind::Demographic { field, .. } => field.label().to_string(),
                _ => format!("answer to “{}”", q.label.get(lang)),
            },
            None => key.clone(),
        },
    }
}

fn group_label(dim: &Dim, value: &str, def: &Definition, lang: Lang) -> String {
    match dim {
        Dim::Month => month_label(value),
        Dim::Answer(key) => def
            .question(key)
            .and_then(|q| q.kind.choices().into_iter().find(|c| c.value == value))
            .map(|c| c.label.get(lang).to_string())
            .unwrap_or_else(|| value.to_string()),
        _ => value.to_string(),
    }
}

/// Groups of a breakdown in reading order: choice order for answers, time for months.
fn ordered_groups(dim: &Dim, sizes: &BTreeMap<String, u64>, def: &Definition) -> Vec<String> {
    let mut groups: Vec<String> = sizes.keys().cloned().collect();
    if let Dim::Answer(key) = dim
        && let Some(q) = def.question(key)
    {
        let order: Vec<String> = q.kind.choices().into_iter().map(|c| c.value).collect();
        groups.sort_by_key(|g| order.iter().position(|o| o == g).unwrap_or(usize::MAX));
    }
    groups
}

pub struct Inputs<'a> {
    pub def: &'a Definition,
    pub agg: &'a Aggregate,
    pub weights: Option<CellWeights>,
    pub by: Option<Dim>,
    pub suppression: Suppression,
    pub lang: Lang,
}

/// Everything the results page shows.
pub fn compute(input: Inputs<'_>) -> Results {
    let Inputs {
        def,
        agg,
        weights,
        by,
        suppression,
        lang,
    } = input;
    let too_few = agg.respondents < suppression.min;
    let hidden_by: Vec<String> = by
        .as_ref()
        .and_then(|d| agg.group_sizes.get(d))
        .map(|sizes| hidden_groups(sizes, suppression))
        .unwrap_or_default();

    let mut scores = Vec::new();
    for (key, totals) in &agg.scores {
        let value = mean(totals.all.n as f64, totals.all.sum, totals.all.sum_sq)
            .map(|e| e.within(SCORE_RANGE));
        let weighted = weights
            .as_ref()
            .and_then(|w| weighted_mean(totals, w))
            .map(|e| e.within(SCORE_RANGE));
        let trend: Vec<TrendRow> = agg
            .by(totals, &Dim::Month)
            .map(|months| {
                months
                    .iter()
                    .map(|(m, t)| TrendRow {
                        month: month_label(m),
                        n: t.n,
                        est: (t.n >= suppression.min)
                            .then(|| mean(t.n as f64, t.sum, t.sum_sq))
                            .flatten()
                            .map(|e| e.within(SCORE_RANGE)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The parts of procedural justice are in the table; their trends would crowd the page.
        let headline = !matches!(key, ScoreKey::One(s) if Score::PROCEDURAL_JUSTICE.contains(s));
        let trend_chart = if headline && trend.len() > 1 {
            let mut chart = LineChart::new(
                format!(
                    "{} score by month, 0 to 100, with 95% intervals",
                    key.label()
                ),
                vec![Series {
                    label: format!("{} score", key.label()),
                    points: trend
                        .iter()
                        .map(|r| {
                            (
                                r.month.clone(),
                                r.est.map(|e| e.value),
                                r.est.map(|e| (e.lower, e.upper)),
                            )
                        })
                        .collect(),
                }],
            );
            chart.min = Some(0.0);
            chart.max = Some(100.0);
            chart.svg()
        } else {
            String::new()
        };
        let ctx = BreakdownCtx {
            agg,
            def,
            lang,
            hidden: &hidden_by,
            suppression,
        };
        let breakdown = by
            .as_ref()
            .map(|d| numeric_breakdown(d, totals, &ctx, key.label(), SCORE_RANGE));
        scores.push(ScoreResult {
            label: key.label(),
            value,
            weighted,
            trend,
            trend_chart,
            breakdown,
        });
    }
    // The composite first, then its parts, then the rest, as people read them.
    scores.sort_by_key(|s| match s.label {
        "Trust" => 0,
        "Safety" => 1,
        "Procedural justice" => 2,
        _ => 3,
    });

    let mut questions = Vec::new();
    for q in def.questions() {
        if matches!(q.kind, QuestionKind::Note) {
            continue;
        }
        let label = q.label.get(lang).to_string();
        if let QuestionKind::Text { .. } = q.kind {
            let t = agg.texts.get(&q.key);
            questions.push(QuestionResult {
                key: q.key.clone(),
                label,
                kind: q.kind.name(),
                n: t.map_or(0, |t| t.n),
                choices: Vec::new(),
                mean: None,
                weighted_mean: None,
                chart: String::new(),
                breakdown: None,
                themes: t
                    .map(|t| themes::top(t, 8, suppression.min.max(3)))
                    .unwrap_or_default(),
                text_count: t.map_or(0, |t| t.n),
            });
            continue;
        }
        let empty = Totals::default();
        let totals = agg.questions.get(&q.key).unwrap_or(&empty);
        let n = totals.all.n;
        let mut choices: Vec<ChoiceRow> = Vec::new();
        let listed: Vec<(String, String)> = match &q.kind {
            QuestionKind::Rating { min, max, .. } => (*min..=*max)
                .map(|v| (v.to_string(), v.to_string()))
                .collect(),
            k => k
                .choices()
                .into_iter()
                .map(|c| (c.value, c.label.get(lang).to_string()))
                .collect(),
        };
        for (value, choice_label) in &listed {
            let count = *totals.all.counts.get(value).unwrap_or(&0);
            choices.push(ChoiceRow {
                label: choice_label.clone(),
                count,
                share: share(count as f64, n as f64),
                weighted: weights
                    .as_ref()
                    .and_then(|w| weighted_share(totals, w, value)),
            });
        }
        // The scale a mean's interval must stay on.
        let range = match &q.kind {
            QuestionKind::Agreement => Some((1.0, 5.0)),
            QuestionKind::Rating { min, max, .. } => Some((*min as f64, *max as f64)),
            QuestionKind::Number { min, max, .. } => {
                Some((min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX)))
            }
            _ => None,
        };
        let mean_est = q
            .kind
            .is_numeric()
            .then(|| mean(n as f64, totals.all.sum, totals.all.sum_sq))
            .flatten()
            .map(|e| e.within(range));
        let weighted_mean_est = if q.kind.is_numeric() {
            weights
                .as_ref()
                .and_then(|w| weighted_mean(totals, w))
                .map(|e| e.within(range))
        } else {
            None
        };
        let chart = if choices.is_empty() || n == 0 {
            String::new()
        } else {
            let mut c = BarChart::new(
                format!("{label}: share of answers with 95% intervals"),
                choices
                    .iter()
                    .map(|r| Bar {
                        label: r.label.clone(),
                        value: r.share.map(|s| s.value),
                        interval: r.share.map(|s| (s.lower, s.upper)),
                        text: r.share.map(|s| percent(s.value)).unwrap_or_default(),
                    })
                    .collect(),
            );
            c.tick_format = percent;
            c.svg()
        };
        let ctx = BreakdownCtx {
            agg,
            def,
            lang,
            hidden: &hidden_by,
            suppression,
        };
        let breakdown = by.as_ref().map(|d| {
            if q.kind.is_numeric() {
                numeric_breakdown(d, totals, &ctx, "", range)
            } else {
                categorical_breakdown(d, totals, &ctx, &listed)
            }
        });
        questions.push(QuestionResult {
            key: q.key.clone(),
            label,
            kind: q.kind.name(),
            n,
            choices,
            mean: mean_est,
            weighted_mean: weighted_mean_est,
            chart,
            breakdown,
            themes: Vec::new(),
            text_count: 0,
        });
    }
    Results {
        respondents: agg.respondents,
        flagged: agg.flagged,
        scores,
        questions,
        weights,
        too_few,
        min_group: suppression.min,
    }
}

/// Scores run from 0 to 100.
const SCORE_RANGE: Option<(f64, f64)> = Some((0.0, 100.0));

/// What every breakdown needs besides its own totals.
struct BreakdownCtx<'a> {
    agg: &'a Aggregate,
    def: &'a Definition,
    lang: Lang,
    hidden: &'a [String],
    suppression: Suppression,
}

fn numeric_breakdown(
    dim: &Dim,
    totals: &Totals,
    ctx: &BreakdownCtx<'_>,
    subject: &str,
    range: Option<(f64, f64)>,
) -> Breakdown {
    let BreakdownCtx {
        agg,
        def,
        lang,
        hidden,
        suppression,
    } = *ctx;
    let empty = BTreeMap::new();
    let sizes = agg.group_sizes.get(dim).unwrap_or(&empty);
    let groups = agg.by(totals, dim);
    let mut rows = Vec::new();
    for g in ordered_groups(dim, sizes, def) {
        let t = groups
            .as_ref()
            .and_then(|m| m.get(&g))
            .map(|t| (*t).clone())
            .unwrap_or_else(Tally::default);
        let small = hidden.contains(&g) || t.n < suppression.min;
        rows.push(GroupRow {
            label: group_label(dim, &g, def, lang),
            n: if small { 0 } else { t.n },
            cells: (!small).then(|| {
                vec![
                    mean(t.n as f64, t.sum, t.sum_sq)
                        .map(|e| e.within(range).mean())
                        .unwrap_or_default(),
                ]
            }),
        });
    }
    Breakdown {
        subject: subject.to_string(),
        title: dim_title(dim, def, lang),
        columns: vec!["Mean (95% interval)".into()],
        hidden: rows.iter().filter(|r| r.cells.is_none()).count(),
        rows,
    }
}

fn categorical_breakdown(
    dim: &Dim,
    totals: &Totals,
    ctx: &BreakdownCtx<'_>,
    listed: &[(String, String)],
) -> Breakdown {
    let BreakdownCtx {
        agg,
        def,
        lang,
        hidden,
        ..
    } = *ctx;
    let empty = BTreeMap::new();
    let sizes = agg.group_sizes.get(dim).unwrap_or(&empty);
    let groups = agg.by(totals, dim);
    let mut rows = Vec::new();
    for g in ordered_groups(dim, sizes, def) {
        let t = groups
            .as_ref()
            .and_then(|m| m.get(&g))
            .map(|t| (*t).clone())
            .unwrap_or_else(Tally::default);
        let small = hidden.contains(&g);
        rows.push(GroupRow {
            label: group_label(dim, &g, def, lang),
            n: if small { 0 } else { t.n },
            cells: (!small).then(|| {
                listed
                    .iter()
                    .map(|(v, _)| {
                        let c = *t.counts.get(v).unwrap_or(&0);
                        if t.n == 0 {
                            "—".to_string()
                        } else {
                            format!("{:.0}%", c as f64 / t.n as f64 * 100.0)
                        }
                    })
                    .collect()
            }),
        });
    }
    Breakdown {
        subject: String::new(),
        title: dim_title(dim, def, lang),
        columns: listed.iter().map(|(_, l)| l.clone()).collect(),
        hidden: rows.iter().filter(|r| r.cells.is_none()).count(),
        rows,
    }
}

/// Census shares per weighting variable, in the weighting's category order. District shares
/// come from district populations; the others from the agency's margins.
pub fn census_shares(
    weighting: &Weighting,
    census: &HashMap<&'static str, Vec<(String, i64)>>,
    def: &Definition,
) -> Vec<Vec<f64>> {
    weighting
        .variables
        .iter()
        .map(|(key, categories)| {
            let dimension = def
                .question(key)
                .and_then(|q| match &q.kind {
                    QuestionKind::Demographic { field, .. } => field.census_dimension(),
                    _ => None,
                })
                .unwrap_or("");
            let rows = census.get(dimension).cloned().unwrap_or_default();
            let total: i64 = rows.iter().map(|(_, n)| n).sum();
            categories
                .iter()
                .map(|c| {
                    rows.iter()
                        .find(|(k, _)| k == c)
                        .map_or(0.0, |(_, n)| *n as f64 / total.max(1) as f64)
                })
                .collect()
        })
        .collect()
}

/// Formats a share for tables: "12.3%".
pub fn pct(e: &Option<Est>) -> String {
    e.map(|e| format!("{:.1}%", e.value * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// "10.1–14.8%".
pub fn pct_interval(e: &Option<Est>) -> String {
    e.map(|e| format!("{:.1}–{:.1}%", e.lower * 100.0, e.upper * 100.0))
        .unwrap_or_default()
}

/// A mean or score with one decimal.
pub fn num(e: &Option<Est>) -> String {
    e.map(|e| format!("{:.1}", e.value))
        .unwrap_or_else(|| "—".into())
}

pub fn num_interval(e: &Option<Est>) -> String {
    e.map(|e| format!("{:.1}–{:.1}", e.lower, e.upper))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surveys::aggregate::Facts;
    use crate::surveys::model::{
        Answer, Answers, Choice, Demographic, Question, Score, Section, Text,
    };

    #[test]
    fn shares_and_means_match_textbook_values() {
        // Wilson 95% for 8/10: 0.4902–0.9433 (R prop.test(8, 10, correct = FALSE)).
        let e = share(8.0, 10.0).unwrap();
        assert!(
            (e.lower - 0.4901625).abs() < 1e-6 && (e.upper - 0.9433178).abs() < 1e-6,
            "{e:?}"
        );
        // t interval of 1..5: mean 3, sd 1.5811, t(4) = 2.776445 → 3 ± 1.963243.
        let values = [1.0, 2.0, 3.0, 4.0, 5.0];
        let m = mean(5.0, values.iter().sum(), values.iter().map(|v| v * v).sum()).unwrap();
        assert!(
            (m.lower - 1.036757).abs() < 1e-5 && (m.upper - 4.963243).abs() < 1e-5,
            "{m:?}"
        );
        assert!(share(0.0, 0.0).is_none());
    }

    #[test]
    fn small_groups_are_hidden_and_complements_too() {
        let sizes: BTreeMap<String, u64> = [("a", 12), ("b", 3), ("c", 7), ("d", 9)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            hidden_groups(
                &sizes,
                Suppression {
                    min: 5,
                    complementary: false
                }
            ),
            ["b"]
        );
        // With only b hidden, b = total − a − c − d: hide the next smallest (c) too.
        assert_eq!(
            hidden_groups(
                &sizes,
                Suppression {
                    min: 5,
                    complementary: true
                }
            ),
            ["b", "c"]
        );
        let two_small: BTreeMap<String, u64> = [("a", 2), ("b", 3), ("c", 9)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            hidden_groups(
                &two_small,
                Suppression {
                    min: 5,
                    complementary: true
                }
            ),
            ["a", "b"]
        );
    }

    fn def() -> Definition {
        Definition {
            title: Text::new("T", ""),
            intro: Text::default(),
            thanks: Text::default(),
            sections: vec![Section {
                key: "s".into(),
                title: Text::new("S", ""),
                questions: vec![
                    Question::new(
                        "happy",
                        QuestionKind::SingleChoice {
                            choices: vec![
                                Choice::new("yes", "Yes", "Sí"),
                                Choice::new("no", "No", "No"),
                            ],
                        },
                        "Happy?",
                        "¿Feliz?",
                    ),
                    Question::new(
                        "gender",
                        QuestionKind::Demographic {
                            field: Demographic::Gender,
                            choices: vec![
                                Choice::new("female", "Woman", "Mujer"),
                                Choice::new("male", "Man", "Hombre"),
                            ],
                        },
                        "Gender",
                        "Género",
                    ),
                    Question::new(
                        "trust",
                        QuestionKind::Rating {
                            min: 0,
                            max: 10,
                            low: Text::default(),
                            high: Text::default(),
                        },
                        "Trust",
                        "Confianza",
                    )
                    .score(Score::Trust),
                ],
            }],
        }
    }

    /// A sample where women are 80% of respondents but half the population, and answer
    /// differently: weighting must move the estimates to the population mix.
    #[test]
    fn raking_reweights_a_skewed_sample_to_the_census() {
        let d = def();
        let mut census = HashMap::new();
        census.insert("sex", vec!["female".to_string(), "male".to_string()]);
        let w = Weighting::for_definition(&d, &census);
        let mut agg = Aggregate::default();
        let facts = Facts {
            month: "2026-01".into(),
            ..Facts::default()
        };
        let add = |agg: &mut Aggregate, gender: &str, happy: &str, trust: f64| {
            let a: Answers = [
                ("gender".to_string(), Answer::One(gender.into())),
                ("happy".to_string(), Answer::One(happy.into())),
                ("trust".to_string(), Answer::Number(trust)),
            ]
            .into_iter()
            .collect();
            agg.add(&d, 1, &a, &facts, &w);
        };
        // 80 women: 60 happy, trust 8; 20 men: 5 happy, trust 2.
        for i in 0..80 {
            add(&mut agg, "female", if i < 60 { "yes" } else { "no" }, 8.0);
        }
        for i in 0..20 {
            add(&mut agg, "male", if i < 5 { "yes" } else { "no" }, 2.0);
        }
        let weights = rake_cells(&agg, &w, &[vec![0.5, 0.5]]).unwrap();
        assert!(weights.converged);
        // Each woman weighs 0.625, each man 2.5 (50 / 80 and 50 / 20 of 100 respondents).
        let female = agg.cell_index[&vec![0]];
        assert!((weights.per_respondent[female] - 0.625).abs() < 1e-9);
        // Kish: (100)² / (80·0.625² + 20·2.5²) = 10000 / 156.25 = 64.
        assert!((weights.n_eff - 64.0).abs() < 1e-9);
        let results = compute(Inputs {
            def: &d,
            agg: &agg,
            weights: Some(weights),
            by: None,
            suppression: Suppression {
                min: 10,
                complementary: false,
            },
            lang: Lang::En,
        });
        let happy = &results.questions[0];
        assert!(
            (happy.choices[0].share.unwrap().value - 0.65).abs() < 1e-12,
            "unweighted 65/100"
        );
        // Weighted: (0.5·60/80 + 0.5·5/20) = 0.5.
        let wy = happy.choices[0].weighted.unwrap();
        assert!((wy.value - 0.5).abs() < 1e-9, "{wy:?}");
        assert!((wy.n - 64.0).abs() < 1e-9);
        let trust = results.questions.iter().find(|q| q.key == "trust").unwrap();
        assert!((trust.mean.unwrap().value - 6.8).abs() < 1e-9);
        assert!((trust.weighted_mean.unwrap().value - 5.0).abs() < 1e-9);
        let score = results
            .scores
            .iter()
            .find(|s| s.label == ScoreKey::One(Score::Trust).label())
            .unwrap();
        assert!(
            (score.weighted.unwrap().value - 50.0).abs() < 1e-9,
            "scores are on 0–100"
        );
    }

    #[test]
    fn breakdowns_hide_small_groups() {
        let d = def();
        let w = Weighting::default();
        let mut agg = Aggregate::default();
        for (month, n) in [("2026-01", 12), ("2026-02", 3)] {
            for _ in 0..n {
                let a: Answers = [
                    ("trust".to_string(), Answer::Number(5.0)),
                    ("happy".to_string(), Answer::One("yes".into())),
                ]
                .into_iter()
                .collect();
                agg.add(
                    &d,
                    1,
                    &a,
                    &Facts {
                        month: month.into(),
                        ..Facts::default()
                    },
                    &w,
                );
            }
        }
        let r = compute(Inputs {
            def: &d,
            agg: &agg,
            weights: None,
            by: Some(Dim::Month),
            suppression: Suppression {
                min: 5,
                complementary: false,
            },
            lang: Lang::En,
        });
        let b = r.questions[0].breakdown.as_ref().unwrap();
        assert_eq!(b.rows.len(), 2);
        assert_eq!(b.rows[0].label, "Jan 2026");
        assert_eq!(
            b.rows[0].cells.as_ref().unwrap(),
            &vec!["100%".to_string(), "0%".to_string()]
        );
        assert!(
            b.rows[1].cells.is_none(),
            "3 respondents are too few to show"
        );
        assert_eq!(b.hidden, 1);
        let trend = &r.scores[0].trend;
        assert!(trend[0].est.is_some() && trend[1].est.is_none());
    }
}
