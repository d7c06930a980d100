//! The analyst's side of the portal: choose the measures and years to publish, preview a
//! topic page with everything in it before it goes live, and publish. Each publication is
//! recorded (who, when, what) with its audit entry.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::platform::error::{AppError, AppResult, FieldError};
use crate::portal::{TopicPath, date, published, render_topic};
use crate::publish::Selection;
use crate::publish::store::{self, Publication};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::page;

/// One measure on the publish form.
pub struct MeasureChoice {
    pub id: &'static str,
    pub title: String,
    pub checked: bool,
}

/// One topic on the publish form.
pub struct TopicChoice {
    pub id: &'static str,
    pub title: String,
    pub measures: Vec<MeasureChoice>,
    /// The topic's record-level file, published like a measure.
    pub records: Option<MeasureChoice>,
    pub preview: String,
}

pub struct HistoryRow {
    pub when: String,
    pub by: String,
    pub measures: usize,
    pub years: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "portal/publish.html")]
struct PublishPage<'a> {
    ctx: &'a Ctx,
    topics: Vec<TopicChoice>,
    /// (year, checked)
    years: Vec<(String, bool)>,
    note: String,
    history: Vec<HistoryRow>,
    errors: FormErrors,
    saved: bool,
}

#[derive(serde::Deserialize, Default)]
pub struct FormQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn render_form(
    state: &AppState,
    ctx: &Ctx,
    chosen: Option<(&[String], &[String], &str)>,
    errors: FormErrors,
    saved: bool,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let lang = ctx.lang();
    let latest = store::latest(&state.db, agency.id).await?;
    let (measures, years, note): (Vec<String>, Vec<String>, String) = match (chosen, &latest) {
        (Some((m, y, n)), _) => (m.to_vec(), y.to_vec(), n.to_string()),
        (None, Some(p)) => (p.measures.clone(), p.years.clone(), String::new()),
        (None, None) => (Vec::new(), Vec::new(), String::new()),
    };
    let mut all_years = std::collections::BTreeSet::new();
    let mut topics = Vec::new();
    for t in state.measures().all() {
        all_years.extend(t.choices(state, agency, lang).await?.years);
        topics.push(TopicChoice {
            id: t.id(),
            title: t.title(lang),
            measures: t
                .measures(lang)
                .into_iter()
                .map(|m| MeasureChoice {
                    checked: measures.iter().any(|x| x == m.id),
                    id: m.id,
                    title: m.title,
                })
                .collect(),
            records: t.records(lang).map(|r| MeasureChoice {
                checked: measures.iter().any(|x| x == r.id),
                id: r.id,
                title: r.title,
            }),
            preview: ctx.staff_url(&format!("/staff/publish/preview/{}", t.id())),
        });
    }
    let users = crate::platform::accounts::list(&state.db, agency.id).await?;
    let history = store::history(&state.db, agency.id)
        .await?
        .into_iter()
        .take(20)
        .map(|p: Publication| HistoryRow {
            when: date(agency, p.published_at),
            by: p
                .published_by
                .and_then(|id| users.iter().find(|u| u.id == id))
                .map_or_else(String::new, |u| u.display_name.clone()),
            measures: p.measures.len(),
            years: p.years.join(", "),
            note: p.note,
        })
        .collect();
    page(PublishPage {
        ctx,
        topics,
        years: all_years
            .into_iter()
            .map(|y| {
                let checked = years.contains(&y);
                (y, checked)
            })
            .collect(),
        note,
        history,
        errors,
        saved,
    })
}

pub async fn form(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FormQuery>,
) -> AppResult<Response> {
    render_form(&state, &ctx, None, FormErrors::default(), q.saved.is_some()).await
}

/// Publishes what the form names: measure ids and years, each checked against what exists.
pub async fn publish(State(state): State<AppState>, ctx: Ctx, body: Bytes) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let lang = ctx.lang();
    let mut measures: Vec<String> = Vec::new();
    let mut years: Vec<String> = Vec::new();
    let mut note = String::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "measure" => measures.push(v.into_owned()),
            "year" => years.push(v.into_owned()),
            "note" => note = v.trim().to_string(),
            _ => {}
        }
    }
    let mut known_measures = Vec::new();
    let mut known_years = std::collections::BTreeSet::new();
    for t in state.measures().all() {
        known_measures.extend(t.measures(lang).into_iter().map(|m| m.id));
        known_measures.extend(t.records(lang).map(|r| r.id));
        known_years.extend(t.choices(&state, agency, lang).await?.years);
    }
    let mut errors = Vec::new();
    if let Some(m) = measures
        .iter()
        .find(|m| !known_measures.contains(&m.as_str()))
    {
        errors.push(FieldError::new(
            "measure",
            format!("There is no measure {m}."),
        ));
    }
    if let Some(y) = years.iter().find(|y| !known_years.contains(*y)) {
        errors.push(FieldError::new(
            "year",
            format!("There is no data for {y}."),
        ));
    }
    if measures.is_empty() {
        errors.push(FieldError::new(
            "measure",
            "Choose at least one measure to publish.",
        ));
    }
    if years.is_empty() {
        errors.push(FieldError::new(
            "year",
            "Choose at least one year to publish.",
        ));
    }
    if note.chars().count() > 500 {
        errors.push(FieldError::new(
            "note",
            "Keep the note under 500 characters.",
        ));
    }
    if !errors.is_empty() {
        let response = render_form(
            &state,
            &ctx,
            Some((&measures, &years, &note)),
            FormErrors(errors),
            false,
        )
        .await?;
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, response).into_response());
    }
    // Kept in the registry's order, so two publications of the same choice read the same.
    measures.sort_by_key(|m| known_measures.iter().position(|k| k == m));
    measures.dedup();
    years.sort();
    years.dedup();
    store::publish(
        &state.db,
        agency.id,
        state.clock.unix(),
        &ctx.actor(),
        &measures,
        &years,
        &note,
    )
    .await?;
    state.agency_changed(&agency.slug);
    Ok(Redirect::to(&ctx.staff_url("/staff/publish?saved=1")).into_response())
}

/// A topic page as the public would see it with every measure and year published.
pub async fn preview(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(path): Path<TopicPath>,
    Query(selection): Query<Selection>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let topic = state
        .measures()
        .get(&path.topic)
        .ok_or(AppError::NotFound)?;
    let p = published(&state, agency, topic, None, ctx.lang())
        .await?
        .ok_or(AppError::NotFound)?;
    let selection = p.check(selection)?;
    let action = ctx.staff_url(&format!("/staff/publish/preview/{}", topic.id()));
    render_topic(&state, &ctx, &p, selection, None, action).await
}
