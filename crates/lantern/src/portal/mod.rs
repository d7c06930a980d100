//! The public portal: what an agency has published, for residents, reporters and the council.
//!
//! It knows no slice. Each topic page (`/{agency}/data/{topic}`), download, the methodology
//! page, the open-data catalogue and the staff's publish page read the topics of
//! [`crate::publish::Registry`], and show only what the newest publication names: its
//! measures and its years. Filters live in the query string, so every view is a link.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::platform::agencies::Agency;
use crate::platform::error::{AppError, AppResult};
use crate::publish::store::{self, Publication};
use crate::publish::{ChartSpec, Choices, Kind, PublicTable, Selection, Topic, Value, View};
use crate::state::AppState;
use crate::web::charts::{Bar, BarChart, LineChart, Series};
use crate::web::ctx::Ctx;
use crate::web::fmt;
use crate::web::i18n::Lang;
use crate::web::page;

pub mod about;
pub mod cache;
pub mod catalogue;
pub mod records;
pub mod report;
pub mod staff;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{agency}/data/{topic}", get(topic_page))
        .route("/{agency}/data/{topic}/{file}", get(download))
        .route("/{agency}/methodology", get(methodology))
        .route("/{agency}/open-data", get(catalogue::open_data))
        .route("/{agency}/data.json", get(catalogue::data_json))
        .route("/{agency}/about-data", get(about::about_data))
        .route("/{agency}/report", get(report::list))
        .route("/{agency}/report/{year}", get(report::report))
        .route(
            "/{agency}/staff/publish",
            get(staff::form).post(staff::publish),
        )
        .route(
            "/{agency}/staff/publish/preview/{topic}",
            get(staff::preview),
        )
}

/// What a publication lets the public see of one topic.
pub struct Published<'a> {
    pub topic: &'a dyn Topic,
    /// The topic's measures that are published, in the topic's order.
    pub measures: Vec<&'static str>,
    /// The published years the topic has data for, oldest first.
    pub years: Vec<String>,
    pub choices: Choices,
    /// True when every year with data is published, so "all years" may be offered.
    pub all_years: bool,
}

impl Published<'_> {
    /// Checks a selection from the URL against what is published: a year, district or stop
    /// type that is not offered is not found (unpublished data is 404 to the public). With
    /// no year chosen and some years unpublished, the newest published year is meant.
    pub fn check(&self, mut s: Selection) -> AppResult<Selection> {
        if s.year.is_empty() && !self.all_years {
            s.year = self.years.last().cloned().unwrap_or_default();
        }
        let codes = |pairs: &[(String, String)], v: &str| pairs.iter().any(|(c, _)| c == v);
        let offered = (s.year.is_empty() || self.years.contains(&s.year))
            && (s.district.is_empty() || codes(&self.choices.districts, &s.district))
            && (s.stop_type.is_empty() || codes(&self.choices.stop_types, &s.stop_type));
        if !offered {
            return Err(AppError::NotFound);
        }
        Ok(s)
    }
}

/// The part of `publication` that concerns `topic`; `None` when none of its measures is
/// published. `preview` shows every measure and year, for the staff's preview.
pub async fn published<'a>(
    state: &AppState,
    agency: &Agency,
    topic: &'a dyn Topic,
    publication: Option<&Publication>,
    lang: Lang,
) -> AppResult<Option<Published<'a>>> {
    let measures: Vec<&'static str> = topic
        .measures(lang)
        .iter()
        .map(|m| m.id)
        .filter(|id| publication.is_none_or(|p| p.has_measure(id)))
        .collect();
    if measures.is_empty() {
        return Ok(None);
    }
    let choices = topic.choices(state, agency, lang).await?;
    let years: Vec<String> = choices
        .years
        .iter()
        .filter(|y| publication.is_none_or(|p| p.has_year(y)))
        .cloned()
        .collect();
    let all_years = years.len() == choices.years.len();
    Ok(Some(Published {
        topic,
        measures,
        years,
        choices,
        all_years,
    }))
}

/// A view as a page shows it: the chart drawn from its table, the table written for people.
pub struct ShownView {
    pub id: &'static str,
    pub anchor: String,
    pub title: String,
    pub summary: String,
    pub chart: String,
    pub caption: String,
    pub head: Vec<(String, bool)>,
    pub rows: Vec<Vec<String>>,
    pub caution: String,
    pub withheld_note: String,
    pub csv: String,
    pub json: String,
}

/// Writes one cell for people.
fn cell(lang: Lang, kind: Kind, v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Number(stats::disclosure::Disclosed::Shown(x)) => kind.format(lang, *x),
        Value::Number(stats::disclosure::Disclosed::Withheld) => {
            crate::web::i18n::t(lang, "portal.withheld").to_string()
        }
        Value::Empty => "–".to_string(),
    }
}

/// The table's header and rows for people: a value with an interval becomes one cell.
fn people_table(lang: Lang, t: &PublicTable) -> (Vec<(String, bool)>, Vec<Vec<String>>) {
    let mut head = Vec::new();
    let mut plan = Vec::new();
    let mut i = 0;
    while i < t.columns.len() {
        let c = &t.columns[i];
        let merged = c.with_interval && i + 2 < t.columns.len();
        head.push((c.label.clone(), c.kind != Kind::Text));
        plan.push((i, merged));
        i += if merged { 3 } else { 1 };
    }
    let rows = t
        .rows
        .iter()
        .map(|r| {
            plan.iter()
                .map(|(i, with_interval)| {
                    let kind = t.columns[*i].kind;
                    let main = cell(lang, kind, &r[*i]);
                    let bounds = with_interval
                        .then(|| Some((r[i + 1].number()?, r[i + 2].number()?)))
                        .flatten();
                    match (r[*i].number(), bounds) {
                        (Some(_), Some((lo, hi))) => fmt::with_interval(
                            lang,
                            &main,
                            &kind.format(lang, lo),
                            &kind.format(lang, hi),
                        ),
                        _ => main,
                    }
                })
                .collect()
        })
        .collect();
    (head, rows)
}

/// The chart of a view, drawn from its table: a withheld cell has no bar.
fn chart(lang: Lang, view: &View) -> String {
    let t = &view.table;
    let text = |r: &[Value], i: usize| match &r[i] {
        Value::Text(s) => s.clone(),
        other => cell(lang, t.columns[i].kind, other),
    };
    match view.chart {
        None => String::new(),
        Some(ChartSpec::Bars {
            label,
            value,
            interval,
            reference,
        }) => {
            let kind = t.columns[value].kind;
            let bars = t
                .rows
                .iter()
                .map(|r| Bar {
                    label: text(r, label),
                    value: r[value].number(),
                    interval: interval
                        .and_then(|(lo, hi)| Some((r[lo].number()?, r[hi].number()?))),
                    text: cell(lang, kind, &r[value]),
                })
                .collect();
            let mut c = BarChart::new(view.table.caption.clone(), bars, lang);
            if kind == Kind::Share {
                c.tick_format = crate::web::charts::percent_tick;
            }
            c.reference = reference.map(|x| (x, String::new()));
            c.svg()
        }
        Some(ChartSpec::Lines { label, values }) => {
            let series = values
                .iter()
                .map(|v| Series {
                    label: t.columns[*v].label.clone(),
                    points: t
                        .rows
                        .iter()
                        .map(|r| (text(r, label), r[*v].number(), None))
                        .collect(),
                })
                .collect();
            let mut c = LineChart::new(view.table.caption.clone(), series, lang);
            c.min = Some(0.0);
            c.svg()
        }
    }
}

pub fn show(ctx: &Ctx, topic: &str, view: &View, query: &str) -> ShownView {
    let lang = ctx.lang();
    let (head, rows) = people_table(lang, &view.table);
    let name = view.id.split_once('.').map_or(view.id, |(_, n)| n);
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let threshold = view.table.threshold.to_string();
    ShownView {
        id: view.id,
        anchor: view.id.replace('.', "-"),
        title: view.title.clone(),
        summary: view.summary.clone(),
        chart: chart(lang, view),
        caption: view.table.caption.clone(),
        head,
        rows,
        caution: view.caution.clone(),
        withheld_note: if view.table.has_withheld() {
            ctx.tf("portal.withheld_note", &[("threshold", &threshold)])
        } else {
            String::new()
        },
        csv: ctx.url(&format!("/data/{topic}/{name}.csv{q}")),
        json: ctx.url(&format!("/data/{topic}/{name}.json{q}")),
    }
}

#[derive(Template)]
#[template(path = "portal/topic.html")]
pub struct TopicPage<'a> {
    pub ctx: &'a Ctx,
    pub title: String,
    pub intro: String,
    pub selection: Selection,
    pub years: Vec<String>,
    pub all_years: bool,
    pub choices: Choices,
    pub views: Vec<ShownView>,
    pub published: String,
    pub data_through: String,
    /// The staff's preview of unpublished measures.
    pub preview: bool,
    pub action: String,
}

/// Renders a topic page for a checked selection.
pub async fn render_topic(
    state: &AppState,
    ctx: &Ctx,
    p: &Published<'_>,
    selection: Selection,
    publication: Option<&Publication>,
    action: String,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let lang = ctx.lang();
    let computed = p
        .topic
        .compute(state, agency, &selection, &p.years, &p.measures, lang)
        .await?;
    let query = selection.query();
    let views = computed
        .views
        .iter()
        .map(|v| show(ctx, p.topic.id(), v, &query))
        .collect();
    page(TopicPage {
        ctx,
        title: p.topic.title(lang),
        intro: p.topic.intro(lang),
        selection,
        years: p.years.clone(),
        all_years: p.all_years,
        choices: p.choices.clone(),
        views,
        published: publication
            .map(|p| date(agency, p.published_at))
            .unwrap_or_default(),
        data_through: computed.data_through.unwrap_or_default(),
        preview: publication.is_none(),
        action,
    })
}

/// A day on the agency's calendar.
pub fn date(agency: &Agency, at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&agency.tz()).format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A topic of the registry and the agency's newest publication: not found when either is
/// missing (an agency that has published nothing has no public topic).
async fn public_topic<'a>(
    state: &'a AppState,
    agency: &Agency,
    id: &str,
) -> AppResult<(&'a dyn Topic, Publication)> {
    let topic = state.measures().get(id).ok_or(AppError::NotFound)?;
    let publication = store::latest(&state.db, agency.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((topic, publication))
}

#[derive(Deserialize)]
pub struct TopicPath {
    #[allow(dead_code)]
    agency: String,
    topic: String,
}

async fn topic_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(path): Path<TopicPath>,
    Query(selection): Query<Selection>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let (topic, publication) = public_topic(&state, agency, &path.topic).await?;
    let p = published(&state, agency, topic, Some(&publication), ctx.lang())
        .await?
        .ok_or(AppError::NotFound)?;
    let selection = p.check(selection)?;
    let action = ctx.url(&format!("/data/{}", topic.id()));
    render_topic(&state, &ctx, &p, selection, Some(&publication), action).await
}

#[derive(Deserialize)]
pub struct FilePath {
    #[allow(dead_code)]
    agency: String,
    topic: String,
    file: String,
}

/// One published measure as CSV or JSON, for the selection in the query string.
async fn download(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(path): Path<FilePath>,
    Query(selection): Query<Selection>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let (name, ext) = path.file.rsplit_once('.').ok_or(AppError::NotFound)?;
    let (topic, publication) = public_topic(&state, agency, &path.topic).await?;
    if let Some(file) = topic.records(ctx.lang())
        && matches!(name, records::FILE | records::DICTIONARY)
    {
        return records::download(&state, &ctx, topic, &file, &publication, &path.file).await;
    }
    let p = published(&state, agency, topic, Some(&publication), ctx.lang())
        .await?
        .ok_or(AppError::NotFound)?;
    let id = *p
        .measures
        .iter()
        .find(|m| m.split_once('.').is_some_and(|(_, n)| n == name))
        .ok_or(AppError::NotFound)?;
    let selection = p.check(selection)?;
    let computed = topic
        .compute(&state, agency, &selection, &p.years, &[id], ctx.lang())
        .await?;
    let view = computed.views.first().ok_or(AppError::NotFound)?;
    let mut file_name = format!("{}-{}-{name}", agency.slug, topic.id());
    for part in [&selection.year, &selection.district, &selection.stop_type] {
        if !part.is_empty() {
            file_name.push('-');
            file_name.extend(part.chars().filter(|c| c.is_ascii_alphanumeric()));
        }
    }
    let (body, content_type) = match ext {
        "csv" => (
            view.table
                .to_csv()
                .map_err(|e| AppError::Internal(e.into()))?,
            "text/csv; charset=utf-8",
        ),
        "json" => {
            let doc = serde_json::json!({
                "measure": id,
                "title": view.title,
                "agency": agency.name,
                "selection": selection,
                "published": date(agency, publication.published_at),
                "small_cell_threshold": view.table.threshold,
                "columns": view.table.columns,
                "rows": view.table.json_rows(),
            });
            (
                serde_json::to_vec_pretty(&doc).map_err(|e| AppError::Internal(e.into()))?,
                "application/json",
            )
        }
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "portal/methodology.html")]
struct MethodologyPage<'a> {
    ctx: &'a Ctx,
    /// (topic title, its published measures' methods)
    topics: Vec<(String, Vec<crate::publish::MeasureInfo>)>,
    threshold: String,
}

async fn methodology(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let lang = ctx.lang();
    let Some(publication) = store::latest(&state.db, agency.id).await? else {
        return Ok(Redirect::to(&ctx.url("")).into_response());
    };
    let topics = state
        .measures()
        .all()
        .map(|t| {
            let measures: Vec<_> = t
                .measures(lang)
                .into_iter()
                .filter(|m| publication.has_measure(m.id))
                .collect();
            (t.title(lang), measures)
        })
        .filter(|(_, m)| !m.is_empty())
        .collect();
    page(MethodologyPage {
        ctx: &ctx,
        topics,
        threshold: agency.small_cell_threshold.to_string(),
    })
}
