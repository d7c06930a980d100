//! What the surveys slice publishes on the portal: the headline scores of the community
//! surveys whose results the agency chose to publish (trust, safety, procedural justice),
//! each with its 95% interval, its trend by year (or by month within a chosen year), the
//! number of respondents behind it and the months it covers.
//!
//! Every number comes from [`results::compute`], the one place small cells are withheld, so
//! the portal shows the staff results page's numbers and withholds what it withholds.

use async_trait::async_trait;
use stats::disclosure::Disclosed;

use super::aggregate::ScoreKey;
use super::model::{Kind as SurveyKind, Score};
use super::results::{Est, Results, TrendValue};
use super::staff::results_for;
use super::store;
use crate::platform::agencies::Agency;
use crate::platform::error::AppError;
use crate::publish::{
    ChartSpec, Choices, Column, Computed, Headline, Kind, MeasureInfo, Method, PublicTable,
    Selection, Topic, Value, View,
};
use crate::state::AppState;
use crate::web::fmt;
use crate::web::i18n::{Lang, t, tf};

/// The surveys topic: `/{agency}/data/surveys`.
pub struct SurveysTopic;

/// The measures, in page order: (id, translation key, the score).
const MEASURES: [(&str, &str, ScoreKey); 3] = [
    ("surveys.trust", "trust", ScoreKey::One(Score::Trust)),
    ("surveys.safety", "safety", ScoreKey::One(Score::Safety)),
    (
        "surveys.procedural_justice",
        "procedural_justice",
        ScoreKey::ProceduralJustice,
    ),
];

fn k(lang: Lang, key: &str) -> String {
    t(lang, &format!("surveys_public.{key}")).to_string()
}

/// A published survey's title and results.
struct Published {
    title: String,
    results: Results,
}

/// The community surveys whose results the agency publishes, oldest first, with their
/// results (small cells withheld).
async fn published_surveys(
    state: &AppState,
    agency: &Agency,
    lang: Lang,
) -> Result<Vec<Published>, AppError> {
    let mut surveys: Vec<_> = store::list(&state.db, agency.id)
        .await?
        .into_iter()
        .filter(|s| {
            s.kind() == SurveyKind::Community && s.publish_results && s.current_version.is_some()
        })
        .collect();
    surveys.sort_by_key(|s| s.id);
    let mut out = Vec::new();
    for s in surveys {
        if let Some((results, def)) = results_for(state, agency, &s, None, lang).await? {
            out.push(Published {
                title: def.title.get(lang).to_string(),
                results,
            });
        }
    }
    Ok(out)
}

/// The survey the overview's headline follows: the one with the most respondents.
fn main_survey(surveys: &[Published]) -> Option<&Published> {
    surveys.iter().rev().max_by_key(|s| s.results.respondents)
}

/// One row of a score's table: a year or a month.
struct Row {
    period: String,
    first: String,
    last: String,
    value: Disclosed<TrendValue>,
}

/// A score's rows: its years among `years` with no year chosen, else the months of the year.
fn rows(results: &Results, key: ScoreKey, selection: &Selection, years: &[String]) -> Vec<Row> {
    let Some(score) = results.scores.iter().find(|s| s.key == key) else {
        return Vec::new();
    };
    if selection.year.is_empty() {
        score
            .by_year
            .iter()
            .filter(|y| years.contains(&y.year))
            .map(|y| Row {
                period: y.year.clone(),
                first: y.first_month.clone(),
                last: y.last_month.clone(),
                value: y.value.clone(),
            })
            .collect()
    } else {
        score
            .trend
            .iter()
            .filter(|m| m.key.starts_with(selection.year.as_str()))
            .map(|m| Row {
                period: m.key.clone(),
                first: m.key.clone(),
                last: m.key.clone(),
                value: m.value.clone(),
            })
            .collect()
    }
}

fn est_of(v: &Disclosed<TrendValue>) -> Option<Est> {
    v.shown().and_then(|v| v.est)
}

/// A score's table. Years carry the first and last months with answers (a month is its own
/// dates, so monthly rows leave them out); the survey is a column only when more than one
/// is published, else the caption names it.
fn table(
    lang: Lang,
    key: &str,
    surveys: &[(&str, Vec<Row>)],
    by_month: bool,
    threshold: i64,
) -> PublicTable {
    let number = |v: &Disclosed<TrendValue>, f: fn(&Est) -> f64| match v {
        Disclosed::Withheld => Value::Number(Disclosed::Withheld),
        Disclosed::Shown(t) => t
            .est
            .map_or(Value::Empty, |e| Value::Number(Disclosed::Shown(f(&e)))),
    };
    let several = surveys.len() > 1;
    let rows = surveys
        .iter()
        .flat_map(|(title, rows)| {
            rows.iter().map(move |r| {
                let mut cells = vec![
                    Value::Text(r.period.clone()),
                    number(&r.value, |e| e.value),
                    number(&r.value, |e| e.lower),
                    number(&r.value, |e| e.upper),
                    match &r.value {
                        Disclosed::Shown(t) => Value::count(t.n as i64),
                        Disclosed::Withheld => Value::Number(Disclosed::Withheld),
                    },
                ];
                if !by_month {
                    cells.push(Value::Text(r.first.clone()));
                    cells.push(Value::Text(r.last.clone()));
                }
                if several {
                    cells.push(Value::Text(title.to_string()));
                }
                cells
            })
        })
        .collect();
    let mut columns = vec![
        Column::new("period", k(lang, "col.period"), Kind::Text)
            .described(k(lang, "col.period_means")),
        Column::new("score", k(lang, "col.score"), Kind::Score)
            .with_interval()
            .described(k(lang, "col.score_means")),
        Column::new("score_low", k(lang, "col.score_low"), Kind::Score),
        Column::new("score_high", k(lang, "col.score_high"), Kind::Score),
        Column::new("respondents", k(lang, "col.respondents"), Kind::Count)
            .described(k(lang, "col.respondents_means")),
    ];
    if !by_month {
        columns.push(Column::new(
            "first_month",
            k(lang, "col.first_month"),
            Kind::Text,
        ));
        columns.push(Column::new(
            "last_month",
            k(lang, "col.last_month"),
            Kind::Text,
        ));
    }
    let mut caption = k(lang, &format!("{key}.caption"));
    match surveys {
        [(title, _)] => caption = format!("{caption}: {title}"),
        _ => columns.push(Column::new("survey", k(lang, "col.survey"), Kind::Text)),
    }
    PublicTable {
        caption,
        columns,
        rows,
        threshold,
    }
}

/// "In 2026 the trust score was 64.1 out of 100 (95% interval 62.8–65.4), from 1,850
/// residents' answers; in 2025 it was 58.2."
fn summary(lang: Lang, key: &str, rows: &[Row]) -> String {
    let shown: Vec<(&str, Est, u64)> = rows
        .iter()
        .filter_map(|r| Some((r.period.as_str(), est_of(&r.value)?, r.value.shown()?.n)))
        .collect();
    let Some((period, e, n)) = shown.last() else {
        return String::new();
    };
    let mut s = tf(
        lang,
        "surveys_public.summary",
        &[
            ("score_name", &k(lang, &format!("{key}.name"))),
            ("period", period),
            ("score", &fmt::decimal(lang, e.value, 1)),
            ("low", &fmt::decimal(lang, e.lower, 1)),
            ("high", &fmt::decimal(lang, e.upper, 1)),
            ("n", &fmt::int(lang, *n)),
        ],
    );
    if let Some((before, b, _)) = shown.len().checked_sub(2).map(|i| shown[i]) {
        s.push(' ');
        s.push_str(&tf(
            lang,
            "surveys_public.summary_before",
            &[
                ("period", before),
                ("score", &fmt::decimal(lang, b.value, 1)),
            ],
        ));
    }
    s
}

#[async_trait]
impl Topic for SurveysTopic {
    fn id(&self) -> &'static str {
        "surveys"
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
            .map(|(id, key, _)| MeasureInfo {
                id,
                title: k(lang, &format!("{key}.title")),
                method: Method {
                    shows: k(lang, &format!("{key}.shows")),
                    limits: k(lang, "limits"),
                    computed: k(lang, &format!("{key}.computed")),
                    references: k(lang, "references")
                        .split(" | ")
                        .map(str::to_string)
                        .collect(),
                },
            })
            .collect()
    }

    /// Answers arrive all the time, and reviews or a survey's options change what counts: the
    /// newest answer, the results epoch and the surveys' last change mark all of it.
    async fn version(&self, state: &AppState, agency: &Agency) -> Result<String, AppError> {
        let (newest, epochs, changed): (i64, i64, i64) = crate::on_db!(&state.db, |pool| {
            sqlx::query_as(
                "SELECT CAST(COALESCE((SELECT MAX(id) FROM responses WHERE agency_id = $1), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(results_epoch), 0) AS BIGINT), \
                        CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) \
                 FROM surveys WHERE agency_id = $1",
            )
            .bind(agency.id)
            .fetch_one(pool)
            .await
        })?;
        Ok(format!("r{newest}.{epochs}.{changed}"))
    }

    async fn choices(
        &self,
        state: &AppState,
        agency: &Agency,
        lang: Lang,
    ) -> Result<Choices, AppError> {
        let mut years = std::collections::BTreeSet::new();
        for s in published_surveys(state, agency, lang).await? {
            for score in &s.results.scores {
                years.extend(score.by_year.iter().map(|y| y.year.clone()));
            }
        }
        Ok(Choices {
            years: years.into_iter().collect(),
            ..Choices::default()
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
        let surveys = published_surveys(state, agency, lang).await?;
        let data_through = surveys
            .iter()
            .flat_map(|s| s.results.scores.iter())
            .flat_map(|score| score.trend.iter().map(|m| m.key.clone()))
            .filter(|m| years.iter().any(|y| m.starts_with(y.as_str())))
            .max();
        let mut out = Computed {
            data_through,
            ..Computed::default()
        };
        // The overview's figures: each score of the main survey by published year.
        if let Some(main) = main_survey(&surveys) {
            let every_year = Selection::default();
            for (id, key, score) in MEASURES {
                out.headlines.push(Headline {
                    measure: id,
                    label: k(lang, &format!("{key}.headline")),
                    series: rows(&main.results, score, &every_year, years)
                        .into_iter()
                        .map(|r| {
                            let v = match est_of(&r.value) {
                                Some(e) => Disclosed::Shown(e.value),
                                None => Disclosed::Withheld,
                            };
                            (r.period, v)
                        })
                        .collect(),
                    kind: Kind::Score,
                });
            }
        }
        for (id, key, score) in MEASURES {
            if !wanted.contains(&id) {
                continue;
            }
            let per_survey: Vec<(&str, Vec<Row>)> = surveys
                .iter()
                .map(|s| (s.title.as_str(), rows(&s.results, score, selection, years)))
                .collect();
            let summary = main_survey(&surveys)
                .map(|m| summary(lang, key, &rows(&m.results, score, selection, years)))
                .unwrap_or_default();
            out.views.push(View {
                id,
                title: k(lang, &format!("{key}.title")),
                summary,
                table: table(
                    lang,
                    key,
                    &per_survey,
                    !selection.year.is_empty(),
                    threshold,
                ),
                chart: Some(ChartSpec::Bars {
                    label: 0,
                    value: 1,
                    interval: Some((2, 3)),
                    reference: None,
                }),
                caution: k(lang, "limits"),
            });
        }
        Ok(out)
    }
}
