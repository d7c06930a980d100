//! The JSON API under `/api/v1`, for CAD/RMS integrations and scripts. Every call carries a
//! per-agency token (`Authorization: Bearer lnt_…`) and acts for that token's agency with its
//! role's rights. The OpenAPI document at `/api/v1/openapi.json` is generated from these
//! handlers, so it cannot drift from them. Errors are `application/problem+json`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::platform::error::{AppResult, FieldError};
use crate::platform::roster::{self, DistrictPopulation, OfficerRow};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::errors::Problem;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/agency", get(agency))
        .route("/api/v1/officers", get(officers))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lantern API",
        version = "1",
        description = "Read and write an agency's Lantern data. Authenticate with a token an administrator creates under Staff → API tokens, sent as `Authorization: Bearer TOKEN`. Errors are RFC 9457 problem documents."
    ),
    paths(
        agency,
        officers,
        crate::surveys::api::list,
        crate::surveys::api::results,
        crate::surveys::api::responses
    ),
    components(schemas(AgencyInfo, DistrictPopulation, OfficerRow, Problem, FieldError)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "agency", description = "The agency the token belongs to"),
        (name = "surveys", description = "Surveys, their results and their responses")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("lnt_…")
                        .build(),
                ),
            );
    }
}

/// The whole API's document: the platform's paths and each slice's.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::transparency::api::StopsApi::openapi());
    doc.merge(crate::surveys::invitations::ContactsApi::openapi());
    doc
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// The agency, its districts and the size of its roster.
#[derive(Serialize, ToSchema)]
pub struct AgencyInfo {
    pub slug: String,
    pub name: String,
    /// IANA time zone the agency's dates are in.
    pub timezone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub districts: Vec<DistrictPopulation>,
    pub active_officers: i64,
    pub units: i64,
}

/// The agency this token belongs to.
#[utoipa::path(
    get,
    path = "/api/v1/agency",
    tag = "agency",
    responses(
        (status = 200, description = "The agency", body = AgencyInfo),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn agency(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<AgencyInfo>> {
    let a = ctx.agency()?;
    let (active_officers, units, _) = roster::counts(&state.db, a.id).await?;
    Ok(Json(AgencyInfo {
        slug: a.slug.clone(),
        name: a.name.clone(),
        timezone: a.timezone.clone(),
        latitude: a.latitude,
        longitude: a.longitude,
        districts: roster::districts(&state.db, a.id).await?,
        active_officers,
        units,
    }))
}

/// The officer roster with each officer's current unit.
#[utoipa::path(
    get,
    path = "/api/v1/officers",
    tag = "agency",
    responses(
        (status = 200, description = "Officers, by last name", body = Vec<OfficerRow>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not read the roster", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn officers(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<OfficerRow>>> {
    Ok(Json(roster::officers(&state.db, ctx.agency()?.id).await?))
}
