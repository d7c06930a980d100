//! The annual report: for one published year, every published measure of every topic with
//! its chart, table and summary, what changed from the year before, and the methodology in
//! an appendix, as one page made to print (the browser's print gives a clean PDF). It is
//! generated from live data through the registry's topics, like every portal page, so it
//! knows no slice and shows only what is published.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::platform::error::{AppError, AppResult};
use crate::portal::{ShownView, date, published, show};
use crate::publish::store::{self, Publication};
use crate::publish::{ChartSpec, Kind, MeasureInfo, Selection, Value, View};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::fmt;
use crate::web::i18n::Lang;
use crate::web::page;

/// A figure this year against the year before.
pub struct Change {
    pub label: String,
    pub before: String,
    pub now: String,
    pub change: String,
}

/// What changed in one measure: its rows, this year against the year before.
pub struct MeasureChanges {
    pub title: String,
    pub anchor: String,
    pub rows: Vec<Change>,
}

/// One topic of the report.
pub struct ReportTopic {
    pub id: &'static str,
    /// The year compared with, when the topic publishes it; else empty.
    pub before: String,
    pub title: String,
    pub intro: String,
    pub views: Vec<ShownView>,
    pub headlines: Vec<Change>,
    pub changes: Vec<MeasureChanges>,
    pub methods: Vec<MeasureInfo>,
    pub data_through: String,
}

#[derive(Template)]
#[template(path = "portal/report.html")]
struct ReportPage<'a> {
    ctx: &'a Ctx,
    year: String,
    published: String,
    topics: Vec<ReportTopic>,
    threshold: String,
}

#[derive(Template)]
#[template(path = "portal/report_list.html")]
struct ReportList<'a> {
    ctx: &'a Ctx,
    /// (year, link), newest first.
    years: Vec<(String, String)>,
}

/// Every year some topic publishes, oldest first.
async fn published_years(
    state: &AppState,
    ctx: &Ctx,
    publication: &Publication,
) -> AppResult<Vec<String>> {
    let agency = ctx.agency()?;
    let mut years = std::collections::BTreeSet::new();
    for topic in state.measures().all() {
        if let Some(p) = published(state, agency, topic, Some(publication), ctx.lang()).await? {
            years.extend(p.years);
        }
    }
    Ok(years.into_iter().collect())
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let Some(publication) = store::latest(&state.db, agency.id).await? else {
        return Ok(Redirect::to(&ctx.url("")).into_response());
    };
    let years = published_years(&state, &ctx, &publication)
        .await?
        .into_iter()
        .rev()
        .map(|y| {
            let href = ctx.url(&format!("/report/{y}"));
            (y, href)
        })
        .collect();
    page(ReportList { ctx: &ctx, years })
}

/// `x` with its sign: "+1.2", "−0.4" (a minus sign, not a hyphen), "0.0".
fn signed(lang: Lang, x: f64, places: usize) -> String {
    let s = fmt::decimal(lang, x.abs(), places);
    let zero = fmt::decimal(lang, 0.0, places);
    if s == zero {
        zero
    } else if x > 0.0 {
        format!("+{s}")
    } else {
        format!("\u{2212}{s}")
    }
}

/// How a value moved from `before` to `now`, in the way its kind is read: counts in percent
/// of the year before, shares and scores in points, ratios and other numbers as a difference.
fn change(lang: Lang, kind: Kind, before: f64, now: f64) -> String {
    let points =
        |d: f64| crate::web::i18n::tf(lang, "report.points", &[("n", &signed(lang, d, 1))]);
    match kind {
        Kind::Count if before > 0.0 => {
            let c = (now - before) / before;
            let s = fmt::percent(lang, c.abs());
            if c > 0.0 {
                format!("+{s}")
            } else if c < 0.0 {
                format!("\u{2212}{s}")
            } else {
                s
            }
        }
        Kind::Share => points((now - before) * 100.0),
        Kind::Score => points(now - before),
        Kind::Ratio | Kind::Number => signed(lang, now - before, 2),
        Kind::Count | Kind::Text => String::new(),
    }
}

fn people(lang: Lang, kind: Kind, v: &Value) -> String {
    match v {
        Value::Number(stats::disclosure::Disclosed::Shown(x)) => kind.format(lang, *x),
        Value::Number(stats::disclosure::Disclosed::Withheld) => {
            crate::web::i18n::t(lang, "portal.withheld").to_string()
        }
        Value::Text(t) => t.clone(),
        Value::Empty => "–".to_string(),
    }
}

/// A measure's rows this year against the same rows the year before, by the chart's label
/// and value columns. A withheld value stays withheld, and no change is worked out from it.
/// Tables that are the same both years (a trend over every year) have nothing to compare.
fn row_changes(lang: Lang, now: &View, before: &View) -> Vec<Change> {
    let Some(ChartSpec::Bars { label, value, .. }) = now.chart else {
        return Vec::new();
    };
    if now.table.rows == before.table.rows {
        return Vec::new();
    }
    let kind = now.table.columns[value].kind;
    let text = |r: &[Value]| match &r[label] {
        Value::Text(t) => Some(t.clone()),
        _ => None,
    };
    now.table
        .rows
        .iter()
        .filter_map(|r| {
            let l = text(r)?;
            let b = before
                .table
                .rows
                .iter()
                .find(|b| text(b).as_ref() == Some(&l))?;
            // Nothing to say of a row with no value either year (a measure not recorded).
            if matches!((&b[value], &r[value]), (Value::Empty, Value::Empty)) {
                return None;
            }
            let change = match (b[value].number(), r[value].number()) {
                (Some(x), Some(y)) => change(lang, kind, x, y),
                _ => String::new(),
            };
            Some(Change {
                label: l,
                before: people(lang, kind, &b[value]),
                now: people(lang, kind, &r[value]),
                change,
            })
        })
        .collect()
}

#[derive(serde::Deserialize)]
pub struct ReportPath {
    #[allow(dead_code)]
    agency: String,
    year: String,
}

pub async fn report(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(path): Path<ReportPath>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let lang = ctx.lang();
    let year = path.year;
    let publication = store::latest(&state.db, agency.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let before_year = year
        .parse::<i32>()
        .map(|y| (y - 1).to_string())
        .map_err(|_| AppError::NotFound)?;
    let mut topics = Vec::new();
    for topic in state.measures().all() {
        let Some(p) = published(&state, agency, topic, Some(&publication), lang).await? else {
            continue;
        };
        if !p.years.contains(&year) {
            continue;
        }
        let selection = p.check(Selection {
            year: year.clone(),
            ..Selection::default()
        })?;
        let now = topic
            .compute(&state, agency, &selection, &p.years, &p.measures, lang)
            .await?;
        let compared = p.years.contains(&before_year);
        let before = if compared {
            let s = Selection {
                year: before_year.clone(),
                ..Selection::default()
            };
            Some(
                topic
                    .compute(&state, agency, &s, &p.years, &p.measures, lang)
                    .await?,
            )
        } else {
            None
        };
        let headlines = now
            .headlines
            .iter()
            .filter(|h| p.measures.contains(&h.measure))
            .filter_map(|h| {
                let at = |y: &str| h.series.iter().find(|(x, _)| x == y).map(|(_, v)| *v);
                let current = at(&year)?;
                let previous = at(&before_year);
                let shown = |v: Option<stats::disclosure::Disclosed<f64>>| match v {
                    Some(d) => people(lang, h.kind, &Value::Number(d)),
                    None => String::new(),
                };
                let change = match (previous.and_then(|v| v.shown().copied()), current.shown()) {
                    (Some(b), Some(n)) => change(lang, h.kind, b, *n),
                    _ => String::new(),
                };
                Some(Change {
                    label: h.label.clone(),
                    before: shown(previous),
                    now: shown(Some(current)),
                    change,
                })
            })
            .collect();
        let changes = match &before {
            Some(b) => now
                .views
                .iter()
                .filter_map(|v| {
                    let pv = b.views.iter().find(|x| x.id == v.id)?;
                    let rows = row_changes(lang, v, pv);
                    (!rows.is_empty()).then(|| MeasureChanges {
                        title: v.title.clone(),
                        anchor: v.id.replace('.', "-"),
                        rows,
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let query = selection.query();
        topics.push(ReportTopic {
            id: topic.id(),
            before: if compared {
                before_year.clone()
            } else {
                String::new()
            },
            title: topic.title(lang),
            intro: topic.intro(lang),
            views: now
                .views
                .iter()
                .map(|v| show(&ctx, topic.id(), v, &query))
                .collect(),
            headlines,
            changes,
            methods: topic
                .measures(lang)
                .into_iter()
                .filter(|m| p.measures.contains(&m.id))
                .collect(),
            data_through: now.data_through.unwrap_or_default(),
        });
    }
    if topics.is_empty() {
        return Err(AppError::NotFound);
    }
    page(ReportPage {
        ctx: &ctx,
        year,
        published: date(agency, publication.published_at),
        topics,
        threshold: agency.small_cell_threshold.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_read_as_their_kind() {
        assert_eq!(change(Lang::En, Kind::Count, 200.0, 220.0), "+10.0%");
        assert_eq!(change(Lang::En, Kind::Count, 200.0, 180.0), "\u{2212}10.0%");
        assert_eq!(change(Lang::En, Kind::Share, 0.10, 0.125), "+2.5 points");
        assert_eq!(
            change(Lang::Es, Kind::Score, 62.0, 60.7),
            "\u{2212}1,3 puntos"
        );
        assert_eq!(change(Lang::En, Kind::Ratio, 1.5, 1.5), "0.00");
    }
}
