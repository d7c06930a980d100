//! Public pages that belong to no single capability: the deployment's index, the agency's
//! home, and the health check.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::platform::agencies::{self, Agency};
use crate::platform::error::AppResult;
use crate::platform::roster::{self, DistrictPopulation};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/{agency}", get(agency_home))
}

#[derive(Template)]
#[template(path = "web/index.html")]
struct IndexPage<'a> {
    ctx: &'a Ctx,
    agencies: Vec<Agency>,
    lang_segment: String,
}

/// With one agency, the root leads straight to it; with several, it lists them.
async fn index(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agencies = agencies::list(&state.db).await?;
    let lang_segment = if ctx.meta.lang_in_url {
        format!("/{}", ctx.lang().code())
    } else {
        String::new()
    };
    if let [only] = agencies.as_slice() {
        return Ok(Redirect::to(&format!("/{}{}", only.slug, lang_segment)).into_response());
    }
    page(IndexPage {
        ctx: &ctx,
        agencies,
        lang_segment,
    })
}

#[derive(Template)]
#[template(path = "web/agency_home.html")]
struct AgencyHome<'a> {
    ctx: &'a Ctx,
    agency: &'a Agency,
    about: &'a str,
    districts: Vec<DistrictPopulation>,
    source: String,
    /// Open community surveys: (title, link).
    open_surveys: Vec<(String, String)>,
    /// Published survey results: (title, link).
    survey_results: Vec<(String, String)>,
    /// The published topics' headline figures.
    glance: Vec<Glance>,
    /// Links to the published topics' pages: (title, link).
    topics: Vec<(String, String)>,
    /// When the newest publication was made; empty when nothing is published.
    published: String,
}

/// A headline figure on the agency's home: the newest published year's value, and how it
/// moved from the year before.
struct Glance {
    label: String,
    figure: String,
    year: String,
    trend: String,
    href: String,
}

/// The headline figures of every published topic, over its published years.
async fn glance(
    state: &AppState,
    ctx: &Ctx,
    publication: &crate::publish::store::Publication,
) -> AppResult<(Vec<Glance>, Vec<(String, String)>)> {
    use crate::publish::Selection;
    use crate::web::fmt;
    let agency = ctx.agency()?;
    let lang = ctx.lang();
    let mut figures = Vec::new();
    let mut topics = Vec::new();
    for topic in state.measures().all() {
        let Some(p) =
            crate::portal::published(state, agency, topic, Some(publication), lang).await?
        else {
            continue;
        };
        let href = ctx.url(&format!("/data/{}", topic.id()));
        topics.push((topic.title(lang), href.clone()));
        let selection = p.check(Selection::default())?;
        let computed = topic
            .compute(state, agency, &selection, &p.years, &[], lang)
            .await?;
        for h in computed.headlines {
            if !p.measures.contains(&h.measure) {
                continue;
            }
            let shown: Vec<(&String, f64)> = h
                .series
                .iter()
                .filter_map(|(y, v)| v.shown().map(|v| (y, *v)))
                .collect();
            let Some((year, value)) = shown.last() else {
                continue;
            };
            let trend = match shown.len().checked_sub(2).map(|i| shown[i]) {
                // A score moves in points on its scale, not in percent of itself.
                Some((before, prev)) if h.kind == crate::publish::Kind::Score => {
                    let change = value - prev;
                    let key = if change >= 0.0 {
                        "home.up_points"
                    } else {
                        "home.down_points"
                    };
                    ctx.tf(
                        key,
                        &[
                            ("change", &fmt::decimal(lang, change.abs(), 1)),
                            ("year", before),
                        ],
                    )
                }
                Some((before, prev)) if prev > 0.0 => {
                    let change = (value - prev) / prev;
                    let key = if change >= 0.0 {
                        "home.up_from"
                    } else {
                        "home.down_from"
                    };
                    ctx.tf(
                        key,
                        &[
                            ("change", &fmt::percent(lang, change.abs())),
                            ("year", before),
                        ],
                    )
                }
                _ => String::new(),
            };
            figures.push(Glance {
                label: h.label,
                figure: h.kind.format(lang, *value),
                year: year.to_string(),
                trend,
                href: format!("{href}#{}", h.measure.replace('.', "-")),
            });
        }
    }
    Ok((figures, topics))
}

async fn agency_home(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let districts = roster::districts(&state.db, agency.id).await?;
    let source = roster::population_sources(&state.db, agency.id)
        .await?
        .join("; ");
    let mut open_surveys = Vec::new();
    let mut survey_results = Vec::new();
    for s in crate::surveys::store::public(&state.db, agency.id).await? {
        let Some(version) = s.current_version else {
            continue;
        };
        let Some(v) = state
            .surveys()
            .versions
            .get(&state.db, agency.id, version)
            .await?
        else {
            continue;
        };
        let title = v.definition.title.get(ctx.lang()).to_string();
        if s.is_open() && s.kind() == crate::surveys::model::Kind::Community {
            open_surveys.push((
                title.clone(),
                ctx.url(&format!("/s/{}?src=web", s.public_code)),
            ));
        }
        if s.publish_results {
            survey_results.push((title, ctx.url(&format!("/s/{}/results", s.public_code))));
        }
    }
    let (glance, topics, published) =
        match crate::publish::store::latest(&state.db, agency.id).await? {
            Some(p) => {
                let (g, t) = glance(&state, &ctx, &p).await?;
                (g, t, crate::portal::date(agency, p.published_at))
            }
            None => (Vec::new(), Vec::new(), String::new()),
        };
    page(AgencyHome {
        glance,
        topics,
        published,
        ctx: &ctx,
        agency,
        about: agency.about(ctx.lang()),
        districts,
        source,
        open_surveys,
        survey_results,
    })
}

/// `200 ok` when the database answers, `503` otherwise: for load balancers and monitors.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}
