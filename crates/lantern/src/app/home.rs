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
use crate::web::ctx::Ctx;
use crate::state::AppState;
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
    page(AgencyHome {
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
