//! What the stops slice publishes on the portal: the stops topic and its measures, computed
//! from the analysis store (never from the stops themselves) with the same analyses, and the
//! same withheld cells, as the staff pages.

use async_trait::async_trait;
use stats::disclosure::Disclosed;

use crate::platform::agencies::Agency;
use crate::platform::error::AppError;
use crate::platform::roster;
use crate::publish::{
    ChartSpec, Choices, Column, Computed, Headline, Kind, MeasureInfo, Method, PublicTable,
    RecordFile, RecordStream, Selection, Topic, Value, View,
};
use crate::state::AppState;
use crate::transparency::analysis::{self, RateTable, Vod};
use crate::transparency::model::STOP_TYPES;
use crate::transparency::records;
use crate::transparency::routes::compute_analysis;
use crate::transparency::store::{self, Scope};
use crate::web::fmt;
use crate::web::i18n::{Lang, t, tf};

/// The stops topic: `/{agency}/data/stops`.
pub struct StopsTopic;

/// The measures, in page order: (id, translation key).
const MEASURES: [(&str, &str); 9] = [
    ("stops.stops", "stops"),
    ("stops.benchmark", "benchmark"),
    ("stops.search_rate", "search"),
    ("stops.hit_rate", "hit"),
    ("stops.darkness", "darkness"),
    ("stops.frisk_rate", "frisk"),
    ("stops.arrest_rate", "arrest"),
    ("stops.citation_rate", "citation"),
    ("stops.warning_rate", "warning"),
];

fn k(lang: Lang, key: &str) -> String {
    t(lang, &format!("stops_public.{key}")).to_string()
}

fn race(lang: Lang, group: &str) -> String {
    let key = match group {
        "white" => "white",
        "black" => "black",
        "hispanic" => "hispanic",
        "asian/pacific islander" => "asian",
        "other" => "other",
        _ => "unknown",
    };
    k(lang, &format!("race.{key}"))
}

impl From<&Selection> for Scope {
    fn from(s: &Selection) -> Scope {
        Scope {
            year: s.year.clone(),
            district: s.district.clone(),
            stop_type: s.stop_type.clone(),
        }
    }
}

#[async_trait]
impl Topic for StopsTopic {
    fn id(&self) -> &'static str {
        "stops"
    }

    fn title(&self, lang: Lang) -> String {
        k(lang, "title")
    }

    fn intro(&self, lang: Lang) -> String {
        k(lang, "intro")
    }

    fn measures(&self, lang: Lang) -> Vec<MeasureInfo> {
        MEASURES
            .iter()
            .map(|(id, key)| MeasureInfo {
                id,
                title: k(lang, &format!("{key}.title")),
                method: Method {
                    shows: k(lang, &format!("{key}.shows")),
                    limits: k(lang, &format!("{key}.limits")),
                    computed: k(lang, &format!("{key}.computed")),
                    references: k(lang, &format!("{key}.references"))
                        .split(" | ")
                        .map(str::to_string)
                        .collect(),
                },
            })
            .collect()
    }

    async fn version(&self, state: &AppState, agency: &Agency) -> Result<String, AppError> {
        Ok(format!(
            "i{}",
            store::newest_done_import(&state.db, agency.id).await?
        ))
    }

    async fn choices(
        &self,
        state: &AppState,
        agency: &Agency,
        lang: Lang,
    ) -> Result<Choices, AppError> {
        let (years, districts) = store::dimensions(&state.db, agency.id).await?;
        let names = roster::districts(&state.db, agency.id).await?;
        let districts = districts
            .into_iter()
            .map(|code| {
                let name = names
                    .iter()
                    .find(|d| d.code == code)
                    .map_or_else(|| code.clone(), |d| d.name.clone());
                (code, name)
            })
            .collect();
        let stop_types = STOP_TYPES
            .iter()
            .map(|s| (s.to_string(), k(lang, &format!("stop_type.{s}"))))
            .collect();
        Ok(Choices {
            years,
            districts,
            stop_types,
        })
    }

    async fn compute(
        &self,
        state: &AppState,
        agency: &Agency,
        selection: &Selection,
        years: &[String],
        wanted: &[&str],
        lang: Lang,
    ) -> Result<Computed, AppError> {
        let threshold = agency.small_cell_threshold;
        let scope = Scope::from(selection);
        // The rate tables and the benchmark come from one analysis, read only when one of
        // them is wanted (the home page's headlines need none).
        let needs_analysis = wanted
            .iter()
            .any(|id| !matches!(*id, "stops.stops" | "stops.darkness"));
        let analysis = match needs_analysis {
            true => Some(compute_analysis(&state.db, agency, &scope).await?),
            false => None,
        };
        // The yearly counts follow the district and stop type chosen, over every published
        // year: one read of the store for all of them.
        let every_year = Scope {
            year: String::new(),
            ..scope.clone()
        };
        let cells = store::cells(&state.db, agency.id, &every_year).await?;
        let by_year: Vec<(String, i64, i64, i64)> = years
            .iter()
            .map(|year| {
                let of_year = cells.iter().filter(|c| c.month.starts_with(year.as_str()));
                let (mut stops, mut searches, mut arrests) = (0, 0, 0);
                for c in of_year {
                    stops += c.stops;
                    searches += c.searches;
                    arrests += c.arrests;
                }
                (year.clone(), stops, searches, arrests)
            })
            .collect();
        let mut out = Computed {
            data_through: store::newest_month(&state.db, agency.id).await?,
            ..Computed::default()
        };
        let yearly = yearly_table(lang, &by_year, threshold);
        for (i, key) in ["stops", "searches", "arrests"].iter().enumerate() {
            out.headlines.push(Headline {
                measure: "stops.stops",
                label: k(lang, &format!("col.{key}")),
                series: yearly
                    .rows
                    .iter()
                    .map(|r| {
                        let year = match &r[0] {
                            Value::Text(y) => y.clone(),
                            _ => String::new(),
                        };
                        let v = match &r[i + 1] {
                            Value::Number(d) => *d,
                            _ => Disclosed::Withheld,
                        };
                        (year, v)
                    })
                    .collect(),
                kind: Kind::Count,
            });
        }
        for (id, key) in MEASURES {
            if !wanted.contains(&id) {
                continue;
            }
            let title = k(lang, &format!("{key}.title"));
            let view = match key {
                "stops" => Some(View {
                    id,
                    title,
                    summary: stops_summary(lang, &yearly),
                    table: yearly.clone(),
                    chart: Some(ChartSpec::Lines {
                        label: 0,
                        values: &[1],
                    }),
                    caution: String::new(),
                }),
                "benchmark" => analysis
                    .as_ref()
                    .and_then(|a| a.benchmark.as_ref())
                    .map(|b| benchmark_view(lang, id, title, b, threshold)),
                "darkness" => {
                    let cells =
                        store::vod_cells(&state.db, agency.id, &scope, "black", "white").await?;
                    let vod = analysis::veil_of_darkness(&cells, "black", "white");
                    Some(darkness_view(lang, id, title, &vod, &cells, threshold))
                }
                rate => analysis
                    .as_ref()
                    .and_then(|a| a.rates.iter().find(|r| r.key == rate))
                    .map(|r| rate_view(lang, id, title, r, threshold)),
            };
            out.views.extend(view);
        }
        Ok(out)
    }

    fn records(&self, lang: Lang) -> Option<RecordFile> {
        Some(records::file(lang))
    }

    async fn record_rows(
        &self,
        state: &AppState,
        agency: &Agency,
        years: &[String],
    ) -> Result<RecordStream, AppError> {
        records::stream(
            state.db.clone(),
            agency.id,
            years,
            agency.small_cell_threshold,
        )
        .await
    }
}

/// Stops, searches and arrests by year, each column withheld (with complements) like any
/// published table of counts.
fn yearly_table(lang: Lang, by_year: &[(String, i64, i64, i64)], threshold: i64) -> PublicTable {
    let column = |f: fn(&(String, i64, i64, i64)) -> i64| {
        let counts: Vec<i64> = by_year.iter().map(f).collect();
        let withheld = analysis::withheld_rows(&counts, threshold, &[]);
        counts
            .into_iter()
            .zip(withheld)
            .map(|(n, w)| Value::Number(Disclosed::unless(w, n as f64)))
            .collect::<Vec<_>>()
    };
    let (stops, searches, arrests) = (column(|r| r.1), column(|r| r.2), column(|r| r.3));
    PublicTable {
        caption: k(lang, "stops.caption"),
        columns: vec![
            Column::new("year", k(lang, "col.year"), Kind::Text),
            Column::new("stops", k(lang, "col.stops"), Kind::Count),
            Column::new("searches", k(lang, "col.searches"), Kind::Count),
            Column::new("arrests", k(lang, "col.arrests"), Kind::Count),
        ],
        rows: by_year
            .iter()
            .enumerate()
            .map(|(i, (year, ..))| {
                vec![
                    Value::Text(year.clone()),
                    stops[i].clone(),
                    searches[i].clone(),
                    arrests[i].clone(),
                ]
            })
            .collect(),
        threshold,
    }
}

fn stops_summary(lang: Lang, yearly: &PublicTable) -> String {
    let shown: Vec<(&str, f64)> = yearly
        .rows
        .iter()
        .filter_map(|r| match (&r[0], r[1].number()) {
            (Value::Text(y), Some(n)) => Some((y.as_str(), n)),
            _ => None,
        })
        .collect();
    match shown.as_slice() {
        [] => String::new(),
        [.., (year, n)] if shown.len() == 1 => tf(
            lang,
            "stops_public.stops.summary_one",
            &[("year", year), ("stops", &fmt::int(lang, *n as i64))],
        ),
        [.., (y0, n0), (y1, n1)] => {
            let change = (n1 - n0) / n0;
            let key = if change >= 0.0 {
                "stops_public.stops.summary_up"
            } else {
                "stops_public.stops.summary_down"
            };
            tf(
                lang,
                key,
                &[
                    ("year", y1),
                    ("stops", &fmt::int(lang, *n1 as i64)),
                    ("before", y0),
                    ("change", &fmt::percent(lang, change.abs())),
                ],
            )
        }
        _ => String::new(),
    }
}

fn benchmark_view(
    lang: Lang,
    id: &'static str,
    title: String,
    b: &analysis::Benchmark,
    threshold: i64,
) -> View {
    let rows = b
        .rows
        .iter()
        .map(|r| {
            vec![
                Value::Text(race(lang, &r.group)),
                Value::maybe(r.stops.map(|n| n as f64), r.suppressed),
                Value::count(r.population),
                Value::maybe(r.stops_per_1000_per_year, r.suppressed),
                Value::maybe(r.ratio, r.suppressed),
                Value::maybe(r.ratio_lower, r.suppressed),
                Value::maybe(r.ratio_upper, r.suppressed),
            ]
        })
        .collect();
    let black = b.rows.iter().find(|r| r.group == "black");
    let summary = match black.and_then(|r| Some((r.ratio?, r.ratio_lower?, r.ratio_upper?))) {
        Some((ratio, lo, hi)) => tf(
            lang,
            "stops_public.benchmark.summary",
            &[
                ("ratio", &fmt::decimal(lang, ratio, 2)),
                ("low", &fmt::decimal(lang, lo, 2)),
                ("high", &fmt::decimal(lang, hi, 2)),
            ],
        ),
        None => String::new(),
    };
    View {
        id,
        title,
        summary,
        table: PublicTable {
            caption: k(lang, "benchmark.caption"),
            columns: vec![
                Column::new("group", k(lang, "col.group"), Kind::Text),
                Column::new("stops", k(lang, "col.stops"), Kind::Count),
                Column::new("population", k(lang, "col.population"), Kind::Count),
                Column::new(
                    "stops_per_1000_per_year",
                    k(lang, "col.per_1000"),
                    Kind::Number,
                ),
                Column::new("ratio_to_white", k(lang, "col.ratio"), Kind::Ratio).with_interval(),
                Column::new("ratio_low", k(lang, "col.ratio_low"), Kind::Ratio),
                Column::new("ratio_high", k(lang, "col.ratio_high"), Kind::Ratio),
            ],
            rows,
            threshold,
        },
        chart: Some(ChartSpec::Bars {
            label: 0,
            value: 3,
            interval: None,
            reference: None,
        }),
        caution: k(lang, "benchmark.limits"),
    }
}

fn rate_view(lang: Lang, id: &'static str, title: String, r: &RateTable, threshold: i64) -> View {
    let key = r.key.as_str();
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let w = row.suppressed;
            vec![
                Value::Text(race(lang, &row.group)),
                Value::maybe(row.numerator.map(|n| n as f64), w),
                Value::maybe(row.denominator.map(|n| n as f64), w),
                Value::maybe(row.rate, w),
                Value::maybe(row.rate_lower, w),
                Value::maybe(row.rate_upper, w),
                Value::maybe(row.ratio, w),
                Value::maybe(row.ratio_lower, w),
                Value::maybe(row.ratio_upper, w),
                Value::maybe(row.not_recorded.map(|n| n as f64), w),
            ]
        })
        .collect();
    let find = |g: &str| r.rows.iter().find(|row| row.group == g && !row.suppressed);
    let summary = match (find("black"), find("white")) {
        (Some(b), Some(w)) => match (b.rate, w.rate, b.ratio, b.ratio_lower, b.ratio_upper) {
            (Some(rb), Some(rw), Some(ratio), Some(lo), Some(hi)) => tf(
                lang,
                &format!("stops_public.{key}.summary"),
                &[
                    ("black", &fmt::percent(lang, rb)),
                    ("white", &fmt::percent(lang, rw)),
                    ("ratio", &fmt::decimal(lang, ratio, 2)),
                    ("low", &fmt::decimal(lang, lo, 2)),
                    ("high", &fmt::decimal(lang, hi, 2)),
                ],
            ),
            _ => String::new(),
        },
        _ => String::new(),
    };
    View {
        id,
        title,
        summary,
        table: PublicTable {
            caption: k(lang, &format!("{key}.caption")),
            columns: vec![
                Column::new("group", k(lang, "col.group"), Kind::Text),
                Column::new("count", k(lang, &format!("{key}.numerator")), Kind::Count),
                Column::new("of", k(lang, &format!("{key}.denominator")), Kind::Count),
                Column::new("rate", k(lang, "col.rate"), Kind::Share).with_interval(),
                Column::new("rate_low", k(lang, "col.rate_low"), Kind::Share),
                Column::new("rate_high", k(lang, "col.rate_high"), Kind::Share),
                Column::new("ratio_to_white", k(lang, "col.ratio"), Kind::Ratio).with_interval(),
                Column::new("ratio_low", k(lang, "col.ratio_low"), Kind::Ratio),
                Column::new("ratio_high", k(lang, "col.ratio_high"), Kind::Ratio),
                Column::new(
                    "not_recorded",
                    k(lang, &format!("{key}.not_recorded")),
                    Kind::Count,
                ),
            ],
            rows,
            threshold,
        },
        chart: Some(ChartSpec::Bars {
            label: 0,
            value: 3,
            interval: Some((4, 5)),
            reference: None,
        }),
        caution: k(lang, &format!("{key}.limits")),
    }
}

fn darkness_view(
    lang: Lang,
    id: &'static str,
    title: String,
    vod: &Vod,
    cells: &[store::VodCell],
    threshold: i64,
) -> View {
    // Shares of Black drivers among Black and White drivers stopped in the window, in daylight
    // and after dark: what the sentence says; the model holds clock time fixed.
    let (mut light, mut dark) = ((0i64, 0i64), (0i64, 0i64));
    for c in cells {
        let side = if c.is_dark == 1 {
            &mut dark
        } else {
            &mut light
        };
        side.0 += c.n_minority;
        side.1 += c.n_minority + c.n_majority;
    }
    let small = |n: i64| analysis::suppressed(n, threshold);
    let shares_shown = ![light.0, light.1 - light.0, dark.0, dark.1 - dark.0]
        .into_iter()
        .any(small)
        && light.1 > 0
        && dark.1 > 0;
    let plain = vod.fits.iter().find(|f| f.form == analysis::VodForm::Plain);
    let summary = match (shares_shown, plain) {
        (true, Some(fit)) => tf(
            lang,
            "stops_public.darkness.summary",
            &[
                (
                    "light",
                    &fmt::percent(lang, light.0 as f64 / light.1 as f64),
                ),
                ("dark", &fmt::percent(lang, dark.0 as f64 / dark.1 as f64)),
                ("odds", &fmt::decimal(lang, fit.odds_ratio, 2)),
                ("low", &fmt::decimal(lang, fit.odds_ratio_lower, 2)),
                ("high", &fmt::decimal(lang, fit.odds_ratio_upper, 2)),
            ],
        ),
        (_, None) => k(lang, "darkness.not_fitted"),
        _ => String::new(),
    };
    let rows = vod
        .fits
        .iter()
        .map(|f| {
            let form = match f.form {
                analysis::VodForm::Plain => "form_plain",
                analysis::VodForm::District => "form_district",
                analysis::VodForm::Interaction => "form_interaction",
            };
            vec![
                Value::Text(k(lang, &format!("darkness.{form}"))),
                Value::maybe(Some(f.odds_ratio), false),
                Value::maybe(Some(f.odds_ratio_lower), false),
                Value::maybe(Some(f.odds_ratio_upper), false),
                Value::maybe(Some(f.p_value), false),
                Value::count(f.cells as i64),
            ]
        })
        .collect();
    View {
        id,
        title,
        summary,
        table: PublicTable {
            caption: k(lang, "darkness.caption"),
            columns: vec![
                Column::new("model", k(lang, "col.model"), Kind::Text),
                Column::new("odds_ratio", k(lang, "col.odds_ratio"), Kind::Ratio).with_interval(),
                Column::new("odds_ratio_low", k(lang, "col.ratio_low"), Kind::Ratio),
                Column::new("odds_ratio_high", k(lang, "col.ratio_high"), Kind::Ratio),
                Column::new("p_value", k(lang, "col.p_value"), Kind::Number),
                Column::new("cells", k(lang, "col.cells"), Kind::Count),
            ],
            rows,
            threshold,
        },
        chart: Some(ChartSpec::Bars {
            label: 0,
            value: 1,
            interval: Some((2, 3)),
            reference: Some(1.0),
        }),
        caution: k(lang, "darkness.limits"),
    }
}
