//! From running totals to what people read: shares with Wilson intervals, means with t
//! intervals, scores, monthly trends, breakdowns with small groups suppressed, estimates
//! weighted to the census by raking, and free-text themes.

use std::collections::{BTreeMap, HashMap};

use stats::disclosure::{self, Disclosed};
use stats::interval::{Confidence, Wilson};
use stats::rake::{RakeOptions, rake};

use super::aggregate::{Aggregate, Dim, ScoreKey, Tally, Totals, Weighting};
use super::model::{Definition, QuestionKind, Score};
use super::themes::{self, Theme};
use crate::web::charts::{Bar, BarChart, LineChart, Series, percent_tick};
use crate::web::fmt;
use crate::web::i18n::{self, Lang};

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
    /// A share with its interval, for people: "12.3% (95% CI 10.1%–14.6%)".
    pub fn pct(&self, lang: Lang) -> String {
        fmt::with_interval(
            lang,
            &fmt::percent(lang, self.value),
            &fmt::percent(lang, self.lower),
            &fmt::percent(lang, self.upper),
        )
    }

    /// A mean with its interval, for people: "3.1 (95% CI 2.9–3.3)".
    pub fn mean(&self, lang: Lang) -> String {
        fmt::with_interval(
            lang,
            &fmt::decimal(lang, self.value, 1),
            &fmt::decimal(lang, self.lower, 1),
            &fmt::decimal(lang, self.upper, 1),
        )
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

/// Rules for hiding small groups: counts below `min` are withheld, and with them the next
/// smallest wherever a withheld count could be worked out from a published total.
#[derive(Clone, Copy, Debug)]
pub struct Suppression {
    /// Groups and answers with fewer respondents than this are not shown.
    pub min: u64,
}

/// Which of some counts to withhold: those below the threshold, and complements so that none
/// can be found by subtraction when their total is known. `values` are in reading order;
/// the order decides ties, so every view that withholds the same counts calls this with the
/// same order.
pub fn withheld_values(values: &[(String, u64)], min: u64, total_known: bool) -> Vec<String> {
    let counts: Vec<u64> = values.iter().map(|(_, n)| *n).collect();
    let w = disclosure::suppress(&disclosure::Table::column(&counts, &[total_known]), min);
    values
        .iter()
        .zip(w.cells)
        .filter(|(_, hidden)| *hidden)
        .map(|((v, _), _)| v.clone())
        .collect()
}

/// Which groups of a breakdown to hide, given their sizes (in reading order), when the total
/// of the groups is known.
pub fn hidden_groups(sizes: &[(String, u64)], rule: Suppression) -> Vec<String> {
    withheld_values(sizes, rule.min, true)
}

/// One answer's count and shares, when there are enough of them to show.
#[derive(Clone, Debug)]
pub struct ChoiceValue {
    pub count: u64,
    pub share: Option<Est>,
    pub weighted: Option<Est>,
}

#[derive(Clone, Debug)]
pub struct ChoiceRow {
    pub label: String,
    pub value: Disclosed<ChoiceValue>,
}

impl ChoiceRow {
    pub fn shown(&self) -> Option<&ChoiceValue> {
        self.value.shown()
    }
}

/// A breakdown group's size and its cells, when the group is large enough to show.
#[derive(Clone, Debug)]
pub struct GroupValue {
    pub n: u64,
    /// One per column; a cell can be withheld in a group that is shown.
    pub cells: Vec<Disclosed<String>>,
}

#[derive(Clone, Debug)]
pub struct GroupRow {
    pub label: String,
    pub value: Disclosed<GroupValue>,
}

impl GroupRow {
    pub fn shown(&self) -> Option<&GroupValue> {
        self.value.shown()
    }
}

#[derive(Clone, Debug)]
pub struct Breakdown {
    /// What is broken down (a score), or empty for a question (its heading says it).
    pub subject: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<GroupRow>,
    /// Groups withheld.
    pub hidden: usize,
    /// Cells withheld inside groups that are shown.
    pub hidden_cells: usize,
}

#[derive(Clone, Debug)]
pub struct QuestionResult {
    pub key: String,
    pub label: String,
    pub kind: &'static str,
    /// Respondents who answered; withheld (with everything else about the question) when
    /// too few did.
    pub answered: Disclosed<u64>,
    pub choices: Vec<ChoiceRow>,
    pub mean: Option<Est>,
    pub weighted_mean: Option<Est>,
    pub chart: String,
    pub breakdown: Option<Breakdown>,
    pub themes: Vec<Theme>,
    pub text_count: u64,
}

impl QuestionResult {
    /// Choices withheld.
    pub fn hidden_choices(&self) -> usize {
        self.choices
            .iter()
            .filter(|c| c.value.is_withheld())
            .count()
    }
}

/// One month of a trend, when enough respondents have a score in it.
#[derive(Clone, Debug)]
pub struct TrendValue {
    pub n: u64,
    pub est: Option<Est>,
}

#[derive(Clone, Debug)]
pub struct TrendRow {
    /// For people: "Mar 2026".
    pub month: String,
    /// As the data keeps it: "2026-03".
    pub key: String,
    pub value: Disclosed<TrendValue>,
}

/// One calendar year of a score: the months with answers in it pooled, shown only when
/// every one of those months is shown (see [`yearly`]).
#[derive(Clone, Debug)]
pub struct YearRow {
    pub year: String,
    /// The first and last months with answers in the year ("2025-07", "2025-12").
    pub first_month: String,
    pub last_month: String,
    pub value: Disclosed<TrendValue>,
}

impl YearRow {
    pub fn est(&self) -> Option<Est> {
        self.value.shown().and_then(|v| v.est)
    }
}

impl TrendRow {
    pub fn shown(&self) -> Option<&TrendValue> {
        self.value.shown()
    }

    pub fn est(&self) -> Option<Est> {
        self.shown().and_then(|v| v.est)
    }
}

#[derive(Clone, Debug)]
pub struct ScoreResult {
    pub key: ScoreKey,
    pub label: &'static str,
    pub value: Option<Est>,
    pub weighted: Option<Est>,
    pub trend: Vec<TrendRow>,
    /// The trend by calendar year.
    pub by_year: Vec<YearRow>,
    pub trend_chart: String,
    pub breakdown: Option<Breakdown>,
}

/// A survey's results as every view draws them (staff and public pages, charts, the API):
/// small counts are withheld here, once, so no view can show what another hides.
#[derive(Clone, Debug)]
pub struct Results {
    pub respondents: u64,
    pub flagged: u64,
    pub scores: Vec<ScoreResult>,
    pub questions: Vec<QuestionResult>,
    pub weights: Option<CellWeights>,
    /// The whole survey is below the suppression threshold: no scores or questions at all.
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

/// [`withheld_values`], starting from some values already withheld for another reason.
fn withheld_with(
    values: &[(String, u64)],
    min: u64,
    total_known: bool,
    already: &[String],
) -> Vec<String> {
    let counts: Vec<u64> = values.iter().map(|(_, n)| *n).collect();
    let start: Vec<bool> = values
        .iter()
        .map(|(v, n)| disclosure::is_small(*n, min) || already.contains(v))
        .collect();
    let w = disclosure::complete(&disclosure::Table::column(&counts, &[total_known]), start);
    values
        .iter()
        .zip(w.cells)
        .filter(|(_, hidden)| *hidden)
        .map(|((v, _), _)| v.clone())
        .collect()
}

/// The values a question's answers are counted by, with their labels, in choice order
/// (scale points for a rating).
fn listed_choices(kind: &QuestionKind, lang: Lang) -> Vec<(String, String)> {
    match kind {
        QuestionKind::Rating { min, max, .. } => (*min..=*max)
            .map(|v| (v.to_string(), v.to_string()))
            .collect(),
        k => k
            .choices()
            .into_iter()
            .map(|c| (c.value, c.label.get(lang).to_string()))
            .collect(),
    }
}

/// Counts of each listed value of a question, in the list's order.
fn choice_counts(totals: &Totals, listed: &[(String, String)]) -> Vec<(String, u64)> {
    listed
        .iter()
        .map(|(v, _)| (v.clone(), *totals.all.counts.get(v).unwrap_or(&0)))
        .collect()
}

/// Answers of a question that each respondent gives once, so its counts add up to those
/// who answered it (the total a withheld count could be subtracted from).
fn single_valued(kind: &QuestionKind) -> bool {
    !matches!(kind, QuestionKind::MultipleChoice { .. })
}

/// The withheld groups of a breakdown. Grouping by a question's answer withholds exactly
/// the answers its own table withholds (the group sizes are its answer counts); other
/// groupings add up to all respondents.
fn hidden_groups_of(dim: &Dim, agg: &Aggregate, def: &Definition, min: u64) -> Vec<String> {
    if let Dim::Answer(key) = dim
        && let Some(q) = def.question(key)
    {
        let empty = Totals::default();
        let totals = agg.questions.get(key).unwrap_or(&empty);
        if totals.all.n < min {
            return agg
                .group_sizes
                .get(dim)
                .map(|s| s.keys().cloned().collect())
                .unwrap_or_default();
        }
        let listed = listed_choices(&q.kind, Lang::En);
        let mut hidden = withheld_values(&choice_counts(totals, &listed), min, true);
        // A group that is not one of the listed answers (an old version's choice).
        if let Some(sizes) = agg.group_sizes.get(dim) {
            for (g, n) in sizes {
                if !listed.iter().any(|(v, _)| v == g) && *n < min {
                    hidden.push(g.clone());
                }
            }
        }
        return hidden;
    }
    let empty = BTreeMap::new();
    let sizes = agg.group_sizes.get(dim).unwrap_or(&empty);
    let ordered: Vec<(String, u64)> = ordered_groups(dim, sizes, def)
        .into_iter()
        .map(|g| {
            let n = sizes[&g];
            (g, n)
        })
        .collect();
    withheld_values(&ordered, min, true)
}

/// Everything the results pages, the public summary and the API show.
pub fn compute(input: Inputs<'_>) -> Results {
    let Inputs {
        def,
        agg,
        weights,
        by,
        suppression,
        lang,
    } = input;
    let min = suppression.min;
    let too_few = agg.respondents < min;
    if too_few {
        return Results {
            respondents: agg.respondents,
            flagged: agg.flagged,
            scores: Vec::new(),
            questions: Vec::new(),
            weights,
            too_few,
            min_group: min,
        };
    }
    let hidden_by: Vec<String> = by
        .as_ref()
        .map(|d| hidden_groups_of(d, agg, def, min))
        .unwrap_or_default();
    let hidden_months = hidden_groups_of(&Dim::Month, agg, def, min);
    let withheld_text = i18n::t(lang, "survey.results_hidden");

    let mut scores = Vec::new();
    for (key, totals) in &agg.scores {
        let enough = totals.all.n >= min;
        let value = enough
            .then(|| mean(totals.all.n as f64, totals.all.sum, totals.all.sum_sq))
            .flatten()
            .map(|e| e.within(SCORE_RANGE));
        let weighted = weights
            .as_ref()
            .filter(|_| enough)
            .and_then(|w| weighted_mean(totals, w))
            .map(|e| e.within(SCORE_RANGE));
        let months: Vec<(String, Tally)> = agg
            .by(totals, &Dim::Month)
            .map(|m| m.into_iter().map(|(k, t)| (k, t.clone())).collect())
            .unwrap_or_default();
        let month_sizes: Vec<(String, u64)> =
            months.iter().map(|(m, t)| (m.clone(), t.n)).collect();
        let hidden = withheld_with(&month_sizes, min, enough, &hidden_months);
        let trend: Vec<TrendRow> = months
            .iter()
            .map(|(m, t)| TrendRow {
                month: month_label(m),
                key: m.clone(),
                value: Disclosed::unless(
                    !enough || hidden.contains(m),
                    TrendValue {
                        n: t.n,
                        est: mean(t.n as f64, t.sum, t.sum_sq).map(|e| e.within(SCORE_RANGE)),
                    },
                ),
            })
            .collect();
        // The parts of procedural justice are in the table; their trends would crowd the page.
        let headline = !matches!(key, ScoreKey::One(s) if Score::PROCEDURAL_JUSTICE.contains(s));
        let trend_chart = if headline && enough && trend.len() > 1 {
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
                            let e = r.est();
                            (
                                r.month.clone(),
                                e.map(|e| e.value),
                                e.map(|e| (e.lower, e.upper)),
                            )
                        })
                        .collect(),
                }],
                lang,
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
            min,
        };
        let breakdown = by
            .as_ref()
            .filter(|_| enough)
            .map(|d| numeric_breakdown(d, totals, &ctx, key.label(), SCORE_RANGE));
        let by_year = yearly(&months, &hidden, enough);
        scores.push(ScoreResult {
            key: *key,
            label: key.label(),
            value,
            weighted,
            trend,
            by_year,
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
            let n = t.map_or(0, |t| t.n);
            questions.push(QuestionResult {
                key: q.key.clone(),
                label,
                kind: q.kind.name(),
                answered: Disclosed::unless(disclosure::is_small(n, min), n),
                choices: Vec::new(),
                mean: None,
                weighted_mean: None,
                chart: String::new(),
                breakdown: None,
                themes: t.map(|t| themes::top(t, 8, min.max(3))).unwrap_or_default(),
                text_count: n,
            });
            continue;
        }
        let empty = Totals::default();
        let totals = agg.questions.get(&q.key).unwrap_or(&empty);
        let n = totals.all.n;
        let enough = n >= min;
        let listed = listed_choices(&q.kind, lang);
        let counts = choice_counts(totals, &listed);
        let hidden = if enough {
            withheld_values(&counts, min, single_valued(&q.kind))
        } else {
            counts.iter().map(|(v, _)| v.clone()).collect()
        };
        let choices: Vec<ChoiceRow> = listed
            .iter()
            .zip(&counts)
            .map(|((value, choice_label), (_, count))| ChoiceRow {
                label: choice_label.clone(),
                value: Disclosed::unless(
                    hidden.contains(value),
                    ChoiceValue {
                        count: *count,
                        share: share(*count as f64, n as f64),
                        weighted: weights
                            .as_ref()
                            .and_then(|w| weighted_share(totals, w, value)),
                    },
                ),
            })
            .collect();
        // The scale a mean's interval must stay on.
        let range = match &q.kind {
            QuestionKind::Agreement => Some((1.0, 5.0)),
            QuestionKind::Rating { min, max, .. } => Some((*min as f64, *max as f64)),
            QuestionKind::Number { min, max, .. } => {
                Some((min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX)))
            }
            _ => None,
        };
        let numeric = enough && q.kind.is_numeric();
        let mean_est = numeric
            .then(|| mean(n as f64, totals.all.sum, totals.all.sum_sq))
            .flatten()
            .map(|e| e.within(range));
        let weighted_mean_est = if numeric {
            weights
                .as_ref()
                .and_then(|w| weighted_mean(totals, w))
                .map(|e| e.within(range))
        } else {
            None
        };
        // The chart is drawn from the same withheld rows as the table: a withheld answer has
        // no bar, only the words saying so.
        let chart = if choices.is_empty() || !enough {
            String::new()
        } else {
            let mut c = BarChart::new(
                i18n::tf(lang, "survey.chart_title", &[("question", label.as_str())]),
                choices
                    .iter()
                    .map(|r| {
                        let s = r.shown().and_then(|v| v.share);
                        Bar {
                            label: r.label.clone(),
                            value: s.map(|s| s.value),
                            interval: s.map(|s| (s.lower, s.upper)),
                            text: match (r.shown(), s) {
                                (None, _) => withheld_text.to_string(),
                                (Some(_), Some(s)) => fmt::percent(lang, s.value),
                                (Some(_), None) => String::new(),
                            },
                        }
                    })
                    .collect(),
                lang,
            );
            c.tick_format = percent_tick;
            c.svg()
        };
        let ctx = BreakdownCtx {
            agg,
            def,
            lang,
            hidden: &hidden_by,
            min,
        };
        let breakdown = by.as_ref().filter(|_| enough).map(|d| {
            if q.kind.is_numeric() {
                numeric_breakdown(d, totals, &ctx, "", range)
            } else {
                categorical_breakdown(d, totals, &ctx, &listed, &hidden, single_valued(&q.kind))
            }
        });
        questions.push(QuestionResult {
            key: q.key.clone(),
            label,
            kind: q.kind.name(),
            answered: Disclosed::unless(!enough, n),
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
        min_group: min,
    }
}

/// A score's months pooled by calendar year. A year's count is the sum of its months'
/// counts, so a year is shown only when every month in it is shown: a shown year then says
/// nothing its months do not, and a withheld year, found as the total less the shown years,
/// less its shown months, gives only the sum of the withheld months, which the total less
/// every shown month gives already (and the months' own rule keeps that sum from being one
/// month's count).
fn yearly(months: &[(String, Tally)], hidden_months: &[String], enough: bool) -> Vec<YearRow> {
    let mut years: Vec<YearRow> = Vec::new();
    let mut sums: Vec<(Tally, bool)> = Vec::new();
    for (m, t) in months {
        let year = m.get(..4).unwrap_or(m);
        let hidden = !enough || hidden_months.contains(m);
        match (years.last_mut(), sums.last_mut()) {
            (Some(y), Some((sum, any_hidden))) if y.year == year => {
                y.last_month = m.clone();
                sum.n += t.n;
                sum.sum += t.sum;
                sum.sum_sq += t.sum_sq;
                *any_hidden |= hidden;
            }
            _ => {
                years.push(YearRow {
                    year: year.to_string(),
                    first_month: m.clone(),
                    last_month: m.clone(),
                    value: Disclosed::Withheld,
                });
                sums.push((t.clone(), hidden));
            }
        }
    }
    for (y, (t, hidden)) in years.iter_mut().zip(sums) {
        y.value = Disclosed::unless(
            hidden,
            TrendValue {
                n: t.n,
                est: mean(t.n as f64, t.sum, t.sum_sq).map(|e| e.within(SCORE_RANGE)),
            },
        );
    }
    years
}

/// Scores run from 0 to 100.
const SCORE_RANGE: Option<(f64, f64)> = Some((0.0, 100.0));

/// What every breakdown needs besides its own totals.
struct BreakdownCtx<'a> {
    agg: &'a Aggregate,
    def: &'a Definition,
    lang: Lang,
    /// Groups withheld from every table of this breakdown.
    hidden: &'a [String],
    min: u64,
}

/// A breakdown's groups in reading order with their tallies of one question or score, and
/// which to withhold: the breakdown's hidden groups, groups where few answered this one,
/// and complements (the group counts add up to the question's, which is shown).
fn breakdown_groups(
    dim: &Dim,
    totals: &Totals,
    ctx: &BreakdownCtx<'_>,
) -> (Vec<(String, Tally)>, Vec<String>) {
    let empty = BTreeMap::new();
    let sizes = ctx.agg.group_sizes.get(dim).unwrap_or(&empty);
    let by = ctx.agg.by(totals, dim);
    let groups: Vec<(String, Tally)> = ordered_groups(dim, sizes, ctx.def)
        .into_iter()
        .map(|g| {
            let t = by
                .as_ref()
                .and_then(|m| m.get(&g))
                .map(|t| (*t).clone())
                .unwrap_or_default();
            (g, t)
        })
        .collect();
    let answered: Vec<(String, u64)> = groups.iter().map(|(g, t)| (g.clone(), t.n)).collect();
    let hidden = withheld_with(&answered, ctx.min, true, ctx.hidden);
    (groups, hidden)
}

fn breakdown_of(
    dim: &Dim,
    ctx: &BreakdownCtx<'_>,
    subject: &str,
    columns: Vec<String>,
    rows: Vec<GroupRow>,
) -> Breakdown {
    Breakdown {
        subject: subject.to_string(),
        title: dim_title(dim, ctx.def, ctx.lang),
        columns,
        hidden: rows.iter().filter(|r| r.value.is_withheld()).count(),
        hidden_cells: rows
            .iter()
            .filter_map(|r| r.shown())
            .map(|v| v.cells.iter().filter(|c| c.is_withheld()).count())
            .sum(),
        rows,
    }
}

fn numeric_breakdown(
    dim: &Dim,
    totals: &Totals,
    ctx: &BreakdownCtx<'_>,
    subject: &str,
    range: Option<(f64, f64)>,
) -> Breakdown {
    let (groups, hidden) = breakdown_groups(dim, totals, ctx);
    let rows = groups
        .into_iter()
        .map(|(g, t)| GroupRow {
            label: group_label(dim, &g, ctx.def, ctx.lang),
            value: Disclosed::unless(
                hidden.contains(&g),
                GroupValue {
                    n: t.n,
                    cells: vec![Disclosed::Shown(
                        mean(t.n as f64, t.sum, t.sum_sq)
                            .map(|e| e.within(range).mean(ctx.lang))
                            .unwrap_or_default(),
                    )],
                },
            ),
        })
        .collect();
    breakdown_of(dim, ctx, subject, vec!["Mean (95% interval)".into()], rows)
}

/// A question's answers by group: a group × answer table whose group sizes and answer
/// counts are shown, so small cells inside shown groups are withheld and complemented in
/// both directions.
fn categorical_breakdown(
    dim: &Dim,
    totals: &Totals,
    ctx: &BreakdownCtx<'_>,
    listed: &[(String, String)],
    hidden_answers: &[String],
    single: bool,
) -> Breakdown {
    let (groups, hidden) = breakdown_groups(dim, totals, ctx);
    let cols = listed.len();
    let counts: Vec<u64> = groups
        .iter()
        .flat_map(|(_, t)| listed.iter().map(|(v, _)| *t.counts.get(v).unwrap_or(&0)))
        .collect();
    let row_hidden: Vec<bool> = groups.iter().map(|(g, _)| hidden.contains(g)).collect();
    let start: Vec<bool> = counts
        .iter()
        .enumerate()
        .map(|(k, n)| row_hidden[k / cols.max(1)] || disclosure::is_small(*n, ctx.min))
        .collect();
    let row_totals: Vec<bool> = row_hidden.iter().map(|h| single && !h).collect();
    let col_totals: Vec<bool> = listed
        .iter()
        .map(|(v, _)| !hidden_answers.contains(v))
        .collect();
    let w = disclosure::complete(
        &disclosure::Table {
            counts: &counts,
            cols,
            row_totals: &row_totals,
            col_totals: &col_totals,
        },
        start,
    );
    let rows = groups
        .into_iter()
        .enumerate()
        .map(|(r, (g, t))| GroupRow {
            label: group_label(dim, &g, ctx.def, ctx.lang),
            value: Disclosed::unless(
                row_hidden[r] || w.row_totals.get(r).copied().unwrap_or(false),
                GroupValue {
                    n: t.n,
                    cells: (0..cols)
                        .map(|c| {
                            let n = counts[r * cols + c];
                            Disclosed::unless(
                                w.cells[r * cols + c],
                                if t.n == 0 {
                                    "—".to_string()
                                } else {
                                    fmt::percent_places(ctx.lang, n as f64 / t.n as f64, 0)
                                },
                            )
                        })
                        .collect(),
                },
            ),
        })
        .collect();
    breakdown_of(
        dim,
        ctx,
        "",
        listed.iter().map(|(_, l)| l.clone()).collect(),
        rows,
    )
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

/// Formats a share for tables: "12.3%" / "12,3 %".
pub fn pct(lang: Lang, e: &Option<Est>) -> String {
    e.map(|e| fmt::percent(lang, e.value))
        .unwrap_or_else(|| "—".into())
}

/// A share's interval, written as every page writes intervals: "10.1%–14.8%".
pub fn pct_interval(lang: Lang, e: &Option<Est>) -> String {
    e.map(|e| fmt::percent_range(lang, e.lower, e.upper))
        .unwrap_or_default()
}

/// A mean or score with one decimal.
pub fn num(lang: Lang, e: &Option<Est>) -> String {
    e.map(|e| fmt::decimal(lang, e.value, 1))
        .unwrap_or_else(|| "—".into())
}

/// A mean's interval: "2.9–3.3".
pub fn num_interval(lang: Lang, e: &Option<Est>) -> String {
    e.map(|e| {
        fmt::range(
            &fmt::decimal(lang, e.lower, 1),
            &fmt::decimal(lang, e.upper, 1),
        )
    })
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
        let sizes = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let rule = Suppression { min: 5 };
        // With only b hidden, b = total − a − c − d: hide the next smallest (c) too.
        assert_eq!(
            hidden_groups(&sizes(&[("a", 12), ("b", 3), ("c", 7), ("d", 9)]), rule),
            ["b", "c"]
        );
        // Two small groups protect each other.
        assert_eq!(
            hidden_groups(&sizes(&[("a", 2), ("b", 3), ("c", 9)]), rule),
            ["a", "b"]
        );
        // A list whose total is not known needs no complement.
        assert_eq!(
            withheld_values(&sizes(&[("a", 12), ("b", 3), ("c", 7)]), 5, false),
            ["b"]
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
            suppression: Suppression { min: 10 },
            lang: Lang::En,
        });
        let happy = &results.questions[0];
        assert!(
            (happy.choices[0].shown().unwrap().share.unwrap().value - 0.65).abs() < 1e-12,
            "unweighted 65/100"
        );
        // Weighted: (0.5·60/80 + 0.5·5/20) = 0.5.
        let wy = happy.choices[0].shown().unwrap().weighted.unwrap();
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
    fn breakdowns_hide_small_groups_and_their_complements() {
        let d = def();
        let w = Weighting::default();
        let mut agg = Aggregate::default();
        // January: 12 say yes; February: 3 (too few); March: 6 yes and 2 no.
        for (month, n, no) in [("2026-01", 12, 0), ("2026-02", 3, 0), ("2026-03", 8, 2)] {
            for i in 0..n {
                let a: Answers = [
                    ("trust".to_string(), Answer::Number(5.0)),
                    (
                        "happy".to_string(),
                        Answer::One(if i < no { "no" } else { "yes" }.into()),
                    ),
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
            suppression: Suppression { min: 5 },
            lang: Lang::En,
        });
        // "No" (2 of 23) is withheld in the question's table, and "yes" with it: the total
        // of 23 would give it away.
        let happy = &r.questions[0];
        assert_eq!(happy.hidden_choices(), 2);
        assert!(!happy.chart.contains("8.7%"), "{}", happy.chart);
        let b = happy.breakdown.as_ref().unwrap();
        assert_eq!(b.rows.len(), 3);
        assert_eq!(b.rows[0].label, "Jan 2026");
        let jan = b.rows[0].shown().unwrap();
        assert_eq!(jan.n, 12);
        assert_eq!(
            jan.cells,
            [
                Disclosed::Shown("100%".to_string()),
                Disclosed::Shown("0%".to_string())
            ]
        );
        assert!(
            b.rows[1].value.is_withheld(),
            "3 respondents are too few to show"
        );
        assert!(
            b.rows[2].value.is_withheld(),
            "March is the complement: February would be 23 − 12 − 8"
        );
        assert_eq!(b.hidden, 2);
        let trend = &r.scores[0].trend;
        assert!(trend[0].est().is_some() && trend[1].est().is_none() && trend[2].est().is_none());
        // The year holds withheld months, so it is withheld too: 2026 less January and
        // March would be February.
        let years = &r.scores[0].by_year;
        assert_eq!(years.len(), 1);
        assert_eq!(
            (years[0].first_month.as_str(), years[0].last_month.as_str()),
            ("2026-01", "2026-03")
        );
        assert!(years[0].value.is_withheld());
    }

    #[test]
    fn a_year_is_shown_when_all_its_months_are() {
        let d = def();
        let w = Weighting::default();
        let mut agg = Aggregate::default();
        // 2025: Nov 12 at 4, Dec 3 at 6 (too few); 2026: Jan 20 at 8, Feb 30 at 9; Oct 2025
        // has 6 at 2, so it is the complement of December.
        let months = [
            ("2025-10", 6, 2.0),
            ("2025-11", 12, 4.0),
            ("2025-12", 3, 6.0),
            ("2026-01", 20, 8.0),
            ("2026-02", 30, 9.0),
        ];
        for (month, n, trust) in months {
            for _ in 0..n {
                let a: Answers = [("trust".to_string(), Answer::Number(trust))]
                    .into_iter()
                    .collect();
                let facts = Facts {
                    month: month.into(),
                    ..Facts::default()
                };
                agg.add(&d, 1, &a, &facts, &w);
            }
        }
        let r = compute(Inputs {
            def: &d,
            agg: &agg,
            weights: None,
            by: None,
            suppression: Suppression { min: 5 },
            lang: Lang::En,
        });
        let score = &r.scores[0];
        let hidden: Vec<&str> = score
            .trend
            .iter()
            .filter(|m| m.value.is_withheld())
            .map(|m| m.key.as_str())
            .collect();
        assert_eq!(hidden, ["2025-10", "2025-12"]);
        let years = &score.by_year;
        assert_eq!(years.len(), 2);
        assert_eq!(years[0].year, "2025");
        assert!(years[0].value.is_withheld());
        assert_eq!(years[1].year, "2026");
        assert_eq!(years[1].value.shown().unwrap().n, 50);
        // Trust 0–10 is scored 0–100: (20·80 + 30·90) / 50 = 86.
        let e = years[1].est().unwrap();
        assert!((e.value - 86.0).abs() < 1e-9, "{e:?}");
        assert!(e.lower < 86.0 && e.upper > 86.0 && e.upper <= 100.0);
    }
}
