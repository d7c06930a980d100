//! The disparity analyses, as pure functions of the analysis store's counts.
//!
//! - **Benchmark test**: stops per resident of each group against White residents, with the
//!   ratio's log-scale (Katz) interval. Residential population is a weak benchmark (who drives
//!   where is not who lives there), so the page says so.
//! - **Rates**: search rate (searches per stop that recorded `search_conducted`), hit rate
//!   (contraband found per search with a recorded result, among discretionary searches: SOPP's
//!   outcome test, pooled and per district), frisk, arrest, citation and warning rates, each
//!   over the stops that recorded its field as SOPP computes them (R's `mean(x, na.rm =
//!   TRUE)`), with the count that did not ([`RATES_METHOD`]); each with a Wilson
//!   interval, the ratio to White with its Katz interval and a two-sided test of ratio = 1,
//!   Benjamini–Hochberg-adjusted across the groups of one table.
//! - **Veil of darkness**: SOPP's test (`lib/veil_of_darkness.R` of the Stanford Open Policing
//!   Project): the share of Black (vs White) subjects among stops at the same clock time in
//!   daylight and in darkness, `cbind(n_black, n_white) ~ is_dark + ns(rounded_minute, 6)`,
//!   with `+ district` and SOPP's paper form `ns(rounded_minute, 6) * district`.
//!
//! Counts below the agency's small-cell threshold (but above zero) are suppressed: their rates
//! are not shown, and the tables say why.

use serde::Serialize;
use stats::disclosure;
use stats::interval::{Confidence, Interval, ProportionRatio, Wilson};
use stats::linalg::Matrix;
use stats::spline::NaturalSpline;

use crate::transparency::model::{Cell, race_label};
use crate::transparency::store::VodCell;

/// Groups compared, in table order; White is the reference group.
pub const GROUPS: [&str; 5] = [
    "white",
    "black",
    "hispanic",
    "asian/pacific islander",
    "other",
];
pub const REFERENCE: &str = "white";

/// A count that primary suppression withholds: above zero and below the threshold.
pub fn suppressed(n: i64, threshold: i64) -> bool {
    n > 0 && n < threshold
}

/// Which rows of a table of groups to withhold: rows already withheld (`forced`), rows whose
/// count is small, and complements (the next smallest count) so that no withheld row is the
/// only one in its column: every column of these tables adds up to a total the reader knows
/// or can work out (all stops, all searches, the pooled table of the districts).
pub fn withheld_rows(counts: &[i64], threshold: i64, forced: &[bool]) -> Vec<bool> {
    let counts: Vec<u64> = counts.iter().map(|n| (*n).max(0) as u64).collect();
    let start = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            forced.get(i).copied().unwrap_or(false)
                || disclosure::is_small(*n, threshold.max(0) as u64)
        })
        .collect();
    disclosure::complete(&disclosure::Table::column(&counts, &[true]), start).cells
}

/// Withholds more rows of a finished table (to match another table's withheld cells): their
/// numbers are removed, and the other rows' ratios too when the reference row is withheld;
/// the adjusted p-values are worked out again over the rows left.
pub fn withhold_rows(table: &mut RateTable, rows: &[bool]) {
    let mut changed = false;
    for (row, _) in table.rows.iter_mut().zip(rows).filter(|(_, w)| **w) {
        if !row.suppressed {
            *row = RateRow {
                group: row.group.clone(),
                label: row.label.clone(),
                ..RateRow::withheld()
            };
            changed = true;
        }
    }
    if !changed {
        return;
    }
    if table
        .rows
        .iter()
        .any(|r| r.group == REFERENCE && r.suppressed)
    {
        for r in &mut table.rows {
            r.ratio = None;
            r.ratio_lower = None;
            r.ratio_upper = None;
            r.p_value = None;
        }
    }
    adjust_p_values(&mut table.rows);
}

/// Benjamini–Hochberg-adjusted p-values over the rows with a test.
fn adjust_p_values(rows: &mut [RateRow]) {
    for r in rows.iter_mut() {
        r.q_value = None;
    }
    let tested: Vec<usize> = (0..rows.len())
        .filter(|i| rows[*i].p_value.is_some())
        .collect();
    let ps: Vec<f64> = tested
        .iter()
        .map(|i| rows[*i].p_value.unwrap_or(1.0))
        .collect();
    if let Ok(qs) = stats::multiple::benjamini_hochberg(&ps) {
        for (i, q) in tested.iter().zip(qs) {
            rows[*i].q_value = Some(q);
        }
    }
}

/// One group's rate with its interval and its comparison with the reference group.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RateRow {
    pub group: String,
    pub label: String,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub rate: Option<f64>,
    pub rate_lower: Option<f64>,
    pub rate_upper: Option<f64>,
    /// Rate over the reference group's rate.
    pub ratio: Option<f64>,
    pub ratio_lower: Option<f64>,
    pub ratio_upper: Option<f64>,
    /// Two-sided p-value of ratio = 1 (z test on the log ratio).
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg-adjusted p-value within the table.
    pub q_value: Option<f64>,
    /// True when the row is withheld: a count is below the small-cell threshold, or the row
    /// is withheld so that such a count cannot be worked out from the total.
    pub suppressed: bool,
    /// Stops (for the hit rate: searches) of the group that did not record the rate's field,
    /// left out of the denominator rather than counted as "no"; withheld with the row.
    pub not_recorded: Option<i64>,
}

impl RateRow {
    /// A withheld row: no numbers at all.
    fn withheld() -> RateRow {
        RateRow {
            group: String::new(),
            label: String::new(),
            numerator: None,
            denominator: None,
            rate: None,
            rate_lower: None,
            rate_upper: None,
            ratio: None,
            ratio_lower: None,
            ratio_upper: None,
            p_value: None,
            q_value: None,
            suppressed: true,
            not_recorded: None,
        }
    }
}

/// A table of rates.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RateTable {
    pub key: String,
    pub title: String,
    pub numerator: String,
    pub denominator: String,
    pub rows: Vec<RateRow>,
    pub caution: String,
    /// What `not_recorded` counts in this table, e.g. "Stops without search_conducted".
    pub not_recorded_label: String,
    /// Where the counted field comes from, when that needs saying (arrest, citation and
    /// warning: the file's own column, or `outcome`).
    pub source: String,
}

/// The log-scale standard error of a Katz interval, recovered from its ends.
fn log_se(ci: &Interval, z: f64) -> f64 {
    (ci.upper.ln() - ci.lower.ln()) / (2.0 * z)
}

/// Rates of `num` over `den` per group, compared with the reference group.
pub fn rate_table(
    counts: &[(String, i64, i64)],
    threshold: i64,
    key: &str,
    title: &str,
    numerator: &str,
    denominator: &str,
    caution: &str,
) -> RateTable {
    let conf = Confidence::default();
    let z = conf.z();
    let small_denominators: Vec<bool> = counts
        .iter()
        .map(|(_, _, n)| suppressed(*n, threshold))
        .collect();
    let numerators: Vec<i64> = counts.iter().map(|(_, x, _)| *x).collect();
    let withheld = withheld_rows(&numerators, threshold, &small_denominators);
    let reference = counts.iter().find(|(g, _, _)| g == REFERENCE).cloned();
    let ref_ok = counts
        .iter()
        .zip(&withheld)
        .any(|((g, _, _), w)| g == REFERENCE && !w);
    let mut rows: Vec<RateRow> = counts
        .iter()
        .zip(&withheld)
        .map(|((group, x, n), hidden)| {
            let hidden = *hidden;
            let mut row = RateRow {
                group: group.clone(),
                label: race_label(group),
                numerator: (!hidden).then_some(*x),
                denominator: (!hidden).then_some(*n),
                rate: None,
                rate_lower: None,
                rate_upper: None,
                ratio: None,
                ratio_lower: None,
                ratio_upper: None,
                p_value: None,
                q_value: None,
                suppressed: hidden,
                not_recorded: None,
            };
            if hidden || *n <= 0 || x > n {
                return row;
            }
            if let Some(ci) = Wilson::new(*x as u64, *n as u64)
                .ok()
                .and_then(|w| w.interval(conf))
            {
                row.rate = Some(ci.estimate);
                row.rate_lower = Some(ci.lower);
                row.rate_upper = Some(ci.upper);
            }
            if group != REFERENCE
                && ref_ok
                && let Some((_, rx, rn)) = &reference
                && let Ok(pr) = ProportionRatio::new(*x as u64, *n as u64, *rx as u64, *rn as u64)
            {
                row.ratio = pr.ratio();
                if let Some(ci) = pr.interval(conf) {
                    row.ratio_lower = Some(ci.lower);
                    row.ratio_upper = Some(ci.upper);
                    let se = log_se(&ci, z);
                    if se > 0.0 {
                        row.p_value = Some(stats::normal::two_sided_p(ci.estimate.ln() / se));
                    }
                }
            }
            row
        })
        .collect();
    adjust_p_values(&mut rows);
    RateTable {
        key: key.into(),
        title: title.into(),
        numerator: numerator.into(),
        denominator: denominator.into(),
        rows,
        caution: caution.into(),
        not_recorded_label: String::new(),
        source: String::new(),
    }
}

/// Totals per group over cells.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GroupTotals {
    pub group: String,
    pub stops: i64,
    pub searches: i64,
    pub searches_with_outcome: i64,
    pub hits: i64,
    pub discretionary_searches: i64,
    pub discretionary_hits: i64,
    pub frisks: i64,
    pub arrests: i64,
    pub citations: i64,
    pub warnings: i64,
    pub search_missing: i64,
    pub frisk_missing: i64,
    pub arrest_missing: i64,
    pub citation_missing: i64,
    pub warning_missing: i64,
    pub discretionary_missing_result: i64,
}

pub fn totals_by_group(cells: &[Cell]) -> Vec<GroupTotals> {
    let mut out: Vec<GroupTotals> = GROUPS
        .iter()
        .chain(std::iter::once(&"unknown"))
        .map(|g| GroupTotals {
            group: g.to_string(),
            ..Default::default()
        })
        .collect();
    for c in cells {
        let i = out
            .iter()
            .position(|t| t.group == c.subject_race)
            .unwrap_or(out.len() - 1);
        let t = &mut out[i];
        t.stops += c.stops;
        t.searches += c.searches;
        t.searches_with_outcome += c.searches_with_outcome;
        t.hits += c.hits;
        t.discretionary_searches += c.discretionary_searches;
        t.discretionary_hits += c.discretionary_hits;
        t.frisks += c.frisks;
        t.arrests += c.arrests;
        t.citations += c.citations;
        t.warnings += c.warnings;
        t.search_missing += c.search_missing;
        t.frisk_missing += c.frisk_missing;
        t.arrest_missing += c.arrest_missing;
        t.citation_missing += c.citation_missing;
        t.warning_missing += c.warning_missing;
        t.discretionary_missing_result += c.discretionary_missing_result;
    }
    out
}

/// One group in the benchmark test.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct BenchmarkRow {
    pub group: String,
    pub label: String,
    pub stops: Option<i64>,
    pub population: i64,
    pub stop_share: Option<f64>,
    pub population_share: Option<f64>,
    /// Stops per 1,000 residents per year.
    pub stops_per_1000_per_year: Option<f64>,
    pub ratio: Option<f64>,
    pub ratio_lower: Option<f64>,
    pub ratio_upper: Option<f64>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub suppressed: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Benchmark {
    pub geography: String,
    pub source: String,
    /// Years the stops cover (months / 12).
    pub years: f64,
    pub rows: Vec<BenchmarkRow>,
    pub caution: String,
}

pub const BENCHMARK_CAUTION: &str = "Residential population is a weak benchmark: the people on the road or on the street in an area are not the people who live there, and groups differ in how much they drive, where and when. A high ratio says who is stopped more often than their share of residents, not why. Read it with the search, hit-rate and veil-of-darkness tests.";

/// The benchmark test: stops per resident of each group against the reference group.
pub fn benchmark(
    totals: &[GroupTotals],
    population: &[(String, i64, String)],
    geography: &str,
    months: usize,
    threshold: i64,
) -> Option<Benchmark> {
    let pop_of = |g: &str| {
        population
            .iter()
            .find(|(c, _, _)| c == g)
            .map(|(_, p, _)| *p)
    };
    pop_of(REFERENCE)?;
    let years = (months as f64 / 12.0).max(1.0 / 12.0);
    let conf = Confidence::default();
    let z = conf.z();
    let stops_total: i64 = totals
        .iter()
        .filter(|t| GROUPS.contains(&t.group.as_str()))
        .map(|t| t.stops)
        .sum();
    let pop_total: i64 = GROUPS.iter().filter_map(|g| pop_of(g)).sum();
    let reference = totals.iter().find(|t| t.group == REFERENCE)?;
    let ref_pop = pop_of(REFERENCE)?;
    let withheld = withheld_stops(totals, threshold);
    let ref_hidden = withheld_group(&withheld, REFERENCE);
    let mut rows: Vec<BenchmarkRow> = GROUPS
        .iter()
        .filter_map(|g| {
            let population = pop_of(g)?;
            let stops = totals.iter().find(|t| t.group == *g).map_or(0, |t| t.stops);
            let hidden = withheld_group(&withheld, g);
            let mut row = BenchmarkRow {
                group: g.to_string(),
                label: race_label(g),
                stops: (!hidden).then_some(stops),
                population,
                stop_share: None,
                population_share: (pop_total > 0).then(|| population as f64 / pop_total as f64),
                stops_per_1000_per_year: None,
                ratio: None,
                ratio_lower: None,
                ratio_upper: None,
                p_value: None,
                q_value: None,
                suppressed: hidden,
            };
            if hidden {
                return Some(row);
            }
            if stops_total > 0 {
                row.stop_share = Some(stops as f64 / stops_total as f64);
            }
            if population > 0 {
                row.stops_per_1000_per_year =
                    Some(stops as f64 / population as f64 * 1000.0 / years);
            }
            if *g != REFERENCE
                && !ref_hidden
                && population > 0
                && ref_pop > 0
                && reference.stops > 0
            {
                row.ratio = Some(
                    (stops as f64 / population as f64) / (reference.stops as f64 / ref_pop as f64),
                );
                // The Katz interval needs stops ≤ residents (a proportion); over a long period
                // stops can outnumber residents, and then only the ratio is shown.
                if stops <= population
                    && reference.stops <= ref_pop
                    && let Ok(pr) = ProportionRatio::new(
                        stops as u64,
                        population as u64,
                        reference.stops as u64,
                        ref_pop as u64,
                    )
                    && let Some(ci) = pr.interval(conf)
                {
                    row.ratio_lower = Some(ci.lower);
                    row.ratio_upper = Some(ci.upper);
                    let se = log_se(&ci, z);
                    if se > 0.0 {
                        row.p_value = Some(stats::normal::two_sided_p(ci.estimate.ln() / se));
                    }
                }
            }
            Some(row)
        })
        .collect();
    let tested: Vec<usize> = (0..rows.len())
        .filter(|i| rows[*i].p_value.is_some())
        .collect();
    let ps: Vec<f64> = tested
        .iter()
        .map(|i| rows[*i].p_value.unwrap_or(1.0))
        .collect();
    if let Ok(qs) = stats::multiple::benjamini_hochberg(&ps) {
        for (i, q) in tested.iter().zip(qs) {
            rows[*i].q_value = Some(q);
        }
    }
    Some(Benchmark {
        geography: geography.to_string(),
        source: population
            .first()
            .map(|(_, _, s)| s.clone())
            .unwrap_or_default(),
        years,
        rows,
        caution: BENCHMARK_CAUTION.into(),
    })
}

pub const SEARCH_CAUTION: &str = "A higher search rate can reflect different circumstances of stops as well as different treatment. Compare with the hit rates: searches of a group that find contraband less often suggest a lower bar for searching that group.";
pub const HIT_CAUTION: &str = "The outcome test compares how often searches find contraband. Lower hit rates for a group suggest officers search that group on less evidence, but hit rates can differ for other reasons too (infra-marginality): treat a difference as a reason to look closer, not as proof.";
pub const FRISK_CAUTION: &str = "Frisks are pat-downs for weapons; agencies record them differently, and many files leave them out. Compare groups within one agency, not across agencies.";
pub const ARREST_CAUTION: &str = "Arrest and citation rates depend on what the stop found and on the law, not only on the officer's choice.";

/// How the rates are computed, for the analysis page and the methodology.
pub const RATES_METHOD: &str = "Each rate is over the stops that recorded its field, as the Stanford Open Policing Project computes it (R's mean(x, na.rm = TRUE)): a stop whose file leaves search_conducted, frisk_performed, arrest_made, citation_issued or warning_issued empty or NA is left out of that rate, not counted as a no, and each table says how many stops of each group did not record it. The hit rate is over discretionary searches that recorded contraband_found. Where a file has no arrest_made, citation_issued or warning_issued column, that outcome is counted from outcome (the strictest action taken); where it has the column, a missing value is missing whatever outcome says.";

/// The groups whose stops are withheld, in every table that shows stops by group (the
/// benchmark test and the denominators of the rates per stop), so that one table cannot give
/// away what another withholds. The stops of the groups add up to a total that is shown.
fn withheld_stops(totals: &[GroupTotals], threshold: i64) -> Vec<(String, bool)> {
    let groups: Vec<&GroupTotals> = totals
        .iter()
        .filter(|t| GROUPS.contains(&t.group.as_str()))
        .collect();
    let stops: Vec<i64> = groups.iter().map(|t| t.stops).collect();
    groups
        .iter()
        .zip(withheld_rows(&stops, threshold, &[]))
        .map(|(t, w)| (t.group.clone(), w))
        .collect()
}

fn withheld_group(withheld: &[(String, bool)], group: &str) -> bool {
    withheld.iter().any(|(g, w)| g == group && *w)
}

/// The rate tables of the analysis page.
pub fn rate_tables(totals: &[GroupTotals], threshold: i64) -> Vec<RateTable> {
    let groups: Vec<&GroupTotals> = totals
        .iter()
        .filter(|t| GROUPS.contains(&t.group.as_str()))
        .collect();
    // Rates per stop that recorded the field: (key, title, numerator, its count, the stops
    // without the field, the field, caution).
    type PerStop = (
        &'static str,
        &'static str,
        &'static str,
        fn(&GroupTotals) -> i64,
        fn(&GroupTotals) -> i64,
        &'static str,
        &'static str,
    );
    let stops_withheld = withheld_stops(totals, threshold);
    let per_stop = |(key, title, numerator, count, missing, field, caution): PerStop| {
        let counts: Vec<(String, i64, i64)> = groups
            .iter()
            .map(|t| (t.group.clone(), count(t), t.stops - missing(t)))
            .collect();
        let mut table = rate_table(
            &counts,
            threshold,
            key,
            title,
            numerator,
            &format!("Stops that recorded {field}"),
            caution,
        );
        table.not_recorded_label = format!("Stops without {field}");
        // Both this table's withheld rows and the stops' come in twos or more (or none), so
        // together they do too.
        let rows: Vec<bool> = table
            .rows
            .iter()
            .map(|r| withheld_group(&stops_withheld, &r.group))
            .collect();
        withhold_rows(&mut table, &rows);
        let missing: Vec<i64> = groups.iter().map(|t| missing(t)).collect();
        with_not_recorded(table, &missing)
    };
    let owned: Vec<GroupTotals> = groups.iter().map(|t| (*t).clone()).collect();
    vec![
        per_stop((
            "search",
            "Search rate",
            "Searches",
            |t| t.searches,
            |t| t.search_missing,
            "search_conducted",
            SEARCH_CAUTION,
        )),
        per_stop((
            "frisk",
            "Frisk rate",
            "Frisks",
            |t| t.frisks,
            |t| t.frisk_missing,
            "frisk_performed",
            FRISK_CAUTION,
        )),
        hit_table(&owned, threshold),
        per_stop((
            "arrest",
            "Arrest rate",
            "Arrests",
            |t| t.arrests,
            |t| t.arrest_missing,
            "arrest_made",
            ARREST_CAUTION,
        )),
        per_stop((
            "citation",
            "Citation rate",
            "Citations",
            |t| t.citations,
            |t| t.citation_missing,
            "citation_issued",
            ARREST_CAUTION,
        )),
        per_stop((
            "warning",
            "Warning rate",
            "Warnings",
            |t| t.warnings,
            |t| t.warning_missing,
            "warning_issued",
            ARREST_CAUTION,
        )),
    ]
}

/// Each row's count of stops without the table's field (in row order), shown unless the row
/// is withheld.
fn with_not_recorded(mut table: RateTable, missing: &[i64]) -> RateTable {
    for (row, m) in table.rows.iter_mut().zip(missing) {
        row.not_recorded = (!row.suppressed).then_some(*m);
    }
    table
}

/// The outcome test: hit rates of discretionary searches (those not incident to arrest, an
/// inventory or a warrant) with a recorded result.
fn hit_table(totals: &[GroupTotals], threshold: i64) -> RateTable {
    let mut table = rate_table(
        &totals
            .iter()
            .map(|t| {
                (
                    t.group.clone(),
                    t.discretionary_hits,
                    t.discretionary_searches,
                )
            })
            .collect::<Vec<_>>(),
        threshold,
        "hit",
        "Hit rate of discretionary searches (outcome test)",
        "Searches finding contraband",
        "Discretionary searches with a recorded result",
        HIT_CAUTION,
    );
    table.not_recorded_label = "Discretionary searches without contraband_found".into();
    let missing: Vec<i64> = totals
        .iter()
        .map(|t| t.discretionary_missing_result)
        .collect();
    with_not_recorded(table, &missing)
}

/// The outcome test in one district.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DistrictOutcome {
    pub district: String,
    pub table: RateTable,
}

/// The outcome test district by district, as SOPP shows it beside the pooled rates (the pooled
/// table is the sum over districts, [`rate_tables`]' `hit`). Each district's groups are
/// compared with White subjects of the same district.
pub fn outcome_by_district(cells: &[Cell], threshold: i64) -> Vec<DistrictOutcome> {
    let mut districts: Vec<&str> = cells.iter().map(|c| c.district.as_str()).collect();
    districts.sort_unstable();
    districts.dedup();
    let in_groups = |totals: Vec<GroupTotals>| -> Vec<GroupTotals> {
        totals
            .into_iter()
            .filter(|t| GROUPS.contains(&t.group.as_str()))
            .collect()
    };
    let by_district: Vec<(&str, Vec<GroupTotals>)> = districts
        .into_iter()
        .map(|d| {
            let in_district: Vec<Cell> =
                cells.iter().filter(|c| c.district == d).cloned().collect();
            (d, in_groups(totals_by_group(&in_district)))
        })
        .collect();
    let mut out: Vec<DistrictOutcome> = by_district
        .iter()
        .map(|(d, totals)| DistrictOutcome {
            district: if d.is_empty() {
                "(not recorded)".into()
            } else {
                d.to_string()
            },
            table: hit_table(totals, threshold),
        })
        .collect();
    // One district × group table: each group's column adds up to the pooled hit table (shown
    // unless withheld there) and each district's row to the district's total, so no withheld
    // cell may be alone in its row or column.
    let pooled = hit_table(&in_groups(totals_by_group(cells)), threshold);
    let cols = GROUPS.len();
    let mut counts = Vec::with_capacity(out.len() * cols);
    let mut start = Vec::with_capacity(out.len() * cols);
    for ((_, totals), o) in by_district.iter().zip(&out) {
        for g in GROUPS {
            let hits = totals
                .iter()
                .find(|t| t.group == g)
                .map_or(0, |t| t.discretionary_hits);
            counts.push(hits.max(0) as u64);
            start.push(o.table.rows.iter().any(|r| r.group == g && r.suppressed));
        }
    }
    let row_totals = vec![true; out.len()];
    let col_totals: Vec<bool> = GROUPS
        .iter()
        .map(|g| !pooled.rows.iter().any(|r| r.group == *g && r.suppressed))
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
    for (d, o) in out.iter_mut().enumerate() {
        let rows: Vec<bool> = o
            .table
            .rows
            .iter()
            .map(|r| {
                GROUPS
                    .iter()
                    .position(|g| *g == r.group)
                    .is_some_and(|c| w.cells[d * cols + c] || w.row_totals[d])
            })
            .collect();
        withhold_rows(&mut o.table, &rows);
    }
    out
}

/// The three model forms of the veil-of-darkness test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VodForm {
    /// `is_dark + ns(rounded_minute, 6)`
    Plain,
    /// `is_dark + ns(rounded_minute, 6) + district`
    District,
    /// `is_dark + ns(rounded_minute, 6) * district` (SOPP's paper form)
    Interaction,
}

impl VodForm {
    pub const ALL: [VodForm; 3] = [VodForm::Plain, VodForm::District, VodForm::Interaction];

    pub fn formula(self) -> &'static str {
        match self {
            VodForm::Plain => "is_dark + ns(rounded_minute, 6)",
            VodForm::District => "is_dark + ns(rounded_minute, 6) + district",
            VodForm::Interaction => "is_dark + ns(rounded_minute, 6) * district",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VodForm::Plain => "Clock time only",
            VodForm::District => "Clock time and district",
            VodForm::Interaction => "Clock time by district (SOPP paper form)",
        }
    }
}

/// The darkness coefficient of one fit.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct VodFit {
    pub form: VodForm,
    pub formula: String,
    /// Coefficient of is_dark: the change in log-odds that a stopped driver is of the minority
    /// group when it is dark. Negative: fewer minority drivers stopped when race is harder to
    /// see, which is consistent with bias in daylight stops.
    pub coefficient: f64,
    pub std_error: f64,
    pub z: f64,
    pub p_value: f64,
    pub odds_ratio: f64,
    pub odds_ratio_lower: f64,
    pub odds_ratio_upper: f64,
    pub cells: usize,
    pub converged: bool,
}

/// A model form that could not be fitted.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct NotFitted {
    pub form: VodForm,
    pub reason: String,
}

/// The veil-of-darkness result for one scope.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Vod {
    pub minority: String,
    pub majority: String,
    /// Stops of the two groups in the analysis window.
    pub stops: i64,
    pub stops_dark: i64,
    pub fits: Vec<VodFit>,
    /// Forms that could not be fitted, with the reason.
    pub not_fitted: Vec<NotFitted>,
    pub caution: String,
}

pub const VOD_CAUTION: &str = "The veil-of-darkness test compares stops made at the same clock time in daylight and in darkness over the year: if officers can see race less well in the dark, a lower share of minority drivers stopped after dark suggests daylight stops are influenced by race. It assumes that who is driving, and how, at a given clock time does not change with darkness, and street lighting weakens it. It speaks to stop decisions only.";

/// Minimum stops of the two groups in the window before the test is run.
pub const VOD_MIN_STOPS: i64 = 100;

/// Fits one form on cells (aggregated further when the form has no district).
pub fn fit_vod(cells: &[VodCell], form: VodForm) -> Result<VodFit, String> {
    // SOPP aggregates the stops to cells before fitting: by (is_dark, rounded_minute) without
    // district, by (is_dark, rounded_minute, district) with it. The spline knots are quantiles
    // over these cells, one value per cell, as R's ns() sees the aggregated table.
    let cells: Vec<VodCell> = if form == VodForm::Plain {
        let mut merged: Vec<VodCell> = Vec::new();
        let mut sorted = cells.to_vec();
        sorted.sort_by_key(|c| (c.is_dark, c.rounded_minute));
        for c in sorted {
            match merged.last_mut() {
                Some(m) if m.is_dark == c.is_dark && m.rounded_minute == c.rounded_minute => {
                    m.n_minority += c.n_minority;
                    m.n_majority += c.n_majority;
                }
                _ => merged.push(VodCell {
                    district: String::new(),
                    ..c
                }),
            }
        }
        merged
    } else {
        cells.to_vec()
    };
    if cells.is_empty() {
        return Err("no stops in the analysis window".into());
    }
    let minutes: Vec<f64> = cells.iter().map(|c| c.rounded_minute as f64).collect();
    let spline = NaturalSpline::from_data(&minutes, 6).map_err(|e| e.to_string())?;
    let basis = spline.basis(&minutes).map_err(|e| e.to_string())?;
    // District levels sorted as R sorts a character factor (in the C locale here); the first
    // is the reference level.
    let mut levels: Vec<&str> = cells.iter().map(|c| c.district.as_str()).collect();
    levels.sort_unstable();
    levels.dedup();
    if form != VodForm::Plain && levels.len() < 2 {
        return Err("the stops have fewer than two districts".into());
    }
    let dummies = if form == VodForm::Plain {
        0
    } else {
        levels.len() - 1
    };
    let interactions = if form == VodForm::Interaction {
        6 * dummies
    } else {
        0
    };
    let p = 2 + 6 + dummies + interactions;
    let mut data = Vec::with_capacity(cells.len() * p);
    for (i, c) in cells.iter().enumerate() {
        data.push(1.0);
        data.push(c.is_dark as f64);
        let row = &basis.as_slice()[i * 6..i * 6 + 6];
        data.extend_from_slice(row);
        let level = levels.iter().position(|l| *l == c.district).unwrap_or(0);
        for d in 1..=dummies {
            data.push(if level == d { 1.0 } else { 0.0 });
        }
        if form == VodForm::Interaction {
            for d in 1..=dummies {
                for b in row {
                    data.push(if level == d { *b } else { 0.0 });
                }
            }
        }
    }
    let x = Matrix::new(cells.len(), p, data).map_err(|e| e.to_string())?;
    let s: Vec<f64> = cells.iter().map(|c| c.n_minority as f64).collect();
    let f: Vec<f64> = cells.iter().map(|c| c.n_majority as f64).collect();
    let fit = stats::glm::fit_binomial(&x, &s, &f).map_err(|e| e.to_string())?;
    let (b, se) = (fit.coefficients[1], fit.std_errors[1]);
    let z = Confidence::default().z();
    Ok(VodFit {
        form,
        formula: form.formula().into(),
        coefficient: b,
        std_error: se,
        z: fit.z_values[1],
        p_value: fit.p_values[1],
        odds_ratio: b.exp(),
        odds_ratio_lower: (b - z * se).exp(),
        odds_ratio_upper: (b + z * se).exp(),
        cells: cells.len(),
        converged: fit.converged,
    })
}

/// All three forms (the district forms only when the stops carry districts).
pub fn veil_of_darkness(cells: &[VodCell], minority: &str, majority: &str) -> Vod {
    let stops: i64 = cells.iter().map(|c| c.n_minority + c.n_majority).sum();
    let stops_dark: i64 = cells
        .iter()
        .filter(|c| c.is_dark == 1)
        .map(|c| c.n_minority + c.n_majority)
        .sum();
    let mut fits = Vec::new();
    let mut not_fitted = Vec::new();
    for form in VodForm::ALL {
        if stops < VOD_MIN_STOPS {
            not_fitted.push(NotFitted {
                form,
                reason: format!(
                    "only {stops} stops in the window; the test needs at least {VOD_MIN_STOPS}"
                ),
            });
            continue;
        }
        match fit_vod(cells, form) {
            Ok(f) => fits.push(f),
            Err(reason) => not_fitted.push(NotFitted { form, reason }),
        }
    }
    Vod {
        minority: minority.into(),
        majority: majority.into(),
        stops,
        stops_dark,
        fits,
        not_fitted,
        caution: VOD_CAUTION.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cells_are_withheld_and_ratios_tested() {
        let t = rate_table(
            &[
                ("white".into(), 185, 10_000),
                ("black".into(), 344, 10_000),
                ("hispanic".into(), 4, 900),
                // The complement of Hispanic's 4 (so that 4 is not all searches less the rest).
                ("other".into(), 30, 700),
            ],
            10,
            "search",
            "Search rate",
            "Searches",
            "Stops",
            "",
        );
        assert!(t.rows[3].suppressed && t.rows[3].rate.is_none());
        let black = &t.rows[1];
        assert!((black.ratio.unwrap() - 344.0 / 185.0).abs() < 1e-12);
        assert!(black.ratio_lower.unwrap() > 1.0, "a clear difference");
        assert!(black.p_value.unwrap() < 1e-6);
        // One test in the table: BH leaves it unchanged.
        assert_eq!(black.q_value, black.p_value);
        let hispanic = &t.rows[2];
        assert!(hispanic.suppressed && hispanic.numerator.is_none() && hispanic.rate.is_none());
        assert!(
            t.rows[0].ratio.is_none(),
            "no ratio for the reference group"
        );
    }

    #[test]
    fn a_lone_withheld_row_takes_the_next_smallest_with_it() {
        // Only Hispanic searches (4) are small: alone, they would be all searches less the
        // rest. The next smallest (Asian, 15) is withheld too, and no ratio or test is left
        // that could give either back.
        let t = rate_table(
            &[
                ("white".into(), 185, 10_000),
                ("black".into(), 344, 10_000),
                ("hispanic".into(), 4, 900),
                ("asian/pacific islander".into(), 15, 800),
                ("other".into(), 30, 700),
            ],
            10,
            "search",
            "Search rate",
            "Searches",
            "Stops",
            "",
        );
        let withheld: Vec<&str> = t
            .rows
            .iter()
            .filter(|r| r.suppressed)
            .map(|r| r.group.as_str())
            .collect();
        assert_eq!(withheld, ["hispanic", "asian/pacific islander"]);
        let asian = &t.rows[3];
        assert!(asian.numerator.is_none() && asian.rate.is_none() && asian.ratio.is_none());
        assert!(t.rows[4].rate.is_some());
    }

    #[test]
    fn stops_are_withheld_alike_in_the_benchmark_and_the_rates() {
        let group = |g: &str, stops: i64, searches: i64| GroupTotals {
            group: g.into(),
            stops,
            searches,
            ..Default::default()
        };
        // Asian stops (6) are small; "other" (40) is the complement, in every table.
        let totals = vec![
            group("white", 5_000, 100),
            group("black", 3_000, 90),
            group("hispanic", 2_000, 50),
            group("asian/pacific islander", 6, 0),
            group("other", 40, 20),
        ];
        let pop: Vec<(String, i64, String)> = GROUPS
            .iter()
            .map(|g| (g.to_string(), 10_000, "census".to_string()))
            .collect();
        let b = benchmark(&totals, &pop, "agency", 12, 10).unwrap();
        let hidden: Vec<&str> = b
            .rows
            .iter()
            .filter(|r| r.suppressed)
            .map(|r| r.group.as_str())
            .collect();
        assert_eq!(hidden, ["asian/pacific islander", "other"]);
        assert!(
            b.rows
                .iter()
                .filter(|r| r.suppressed)
                .all(|r| r.stop_share.is_none())
        );
        for t in rate_tables(&totals, 10)
            .iter()
            .filter(|t| t.denominator == "Stops")
        {
            for g in ["asian/pacific islander", "other"] {
                let r = t.rows.iter().find(|r| r.group == g).unwrap();
                assert!(r.suppressed && r.denominator.is_none(), "{} {g}", t.key);
            }
        }
    }

    #[test]
    fn the_outcome_test_by_district_is_protected_down_its_columns() {
        let cell = |district: &str, race: &str, searches: i64, hits: i64| Cell {
            district: district.into(),
            subject_race: race.into(),
            discretionary_searches: searches,
            discretionary_hits: hits,
            ..Cell::default()
        };
        // Black hits: 3 in A (small), 40 in B, 50 in C; the pooled table shows 93. Within A
        // the complement is another group, so down the column one more is needed (B, 40).
        let mut cells = Vec::new();
        for (d, black) in [("A", 3), ("B", 40), ("C", 50)] {
            cells.push(cell(d, "white", 400, 100));
            cells.push(cell(d, "black", 200, black));
            cells.push(cell(d, "hispanic", 300, 60));
            cells.push(cell(d, "other", 100, 20));
        }
        let out = outcome_by_district(&cells, 10);
        let withheld = |d: usize, g: &str| {
            out[d]
                .table
                .rows
                .iter()
                .any(|r| r.group == g && r.suppressed)
        };
        let column: Vec<bool> = (0..3).map(|d| withheld(d, "black")).collect();
        assert_eq!(column.iter().filter(|w| **w).count(), 2, "{column:?}");
        assert!(column[0], "the small count");
        for (d, o) in out.iter().enumerate() {
            let n = o.table.rows.iter().filter(|r| r.suppressed).count();
            assert!(n != 1, "district {d} has one withheld row: {o:?}");
        }
    }

    #[test]
    fn benchmark_ratio_is_stops_per_resident_over_white() {
        let totals = vec![
            GroupTotals {
                group: "white".into(),
                stops: 1000,
                ..Default::default()
            },
            GroupTotals {
                group: "black".into(),
                stops: 900,
                ..Default::default()
            },
        ];
        let pop = vec![
            ("white".to_string(), 50_000, "census".to_string()),
            ("black".to_string(), 25_000, "census".to_string()),
        ];
        let b = benchmark(&totals, &pop, "agency", 12, 10).unwrap();
        let black = b.rows.iter().find(|r| r.group == "black").unwrap();
        assert!((black.ratio.unwrap() - 1.8).abs() < 1e-12);
        assert!((black.stops_per_1000_per_year.unwrap() - 36.0).abs() < 1e-9);
        assert!(black.ratio_lower.unwrap() > 1.6 && black.ratio_upper.unwrap() < 2.0);
        assert!(
            benchmark(&totals, &pop[1..], "agency", 12, 10).is_none(),
            "needs white"
        );
    }
}
