//! The JSON API under `/api/v1`, for CAD/RMS integrations and scripts. Every call carries a
//! per-agency token (`Authorization: Bearer lnt_…`) and acts for that token's agency with its
//! role's rights. The OpenAPI document at `/api/v1/openapi.json` is generated from these
//! handlers, so it cannot drift from them. Errors are `application/problem+json`.

use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::platform::error::{AppResult, FieldError};
use crate::platform::policy;
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

/// The whole API's document: the platform's paths and each slice's, with the answers every
/// operation can give added from the authorization rules themselves.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::transparency::api::StopsApi::openapi());
    doc.merge(crate::surveys::invitations::ContactsApi::openapi());
    add_standard_responses(&mut doc);
    doc
}

/// Every operation behind a token can answer 401 (no valid token) and 403 (the token's role
/// may not); every operation with parameters can answer 400 (a parameter that does not
/// parse). These come from [`policy::RULES`] and the operation's own parameters, so the
/// document cannot forget them where a handler's annotation does.
fn add_standard_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, item.get.as_mut()),
            (Method::POST, item.post.as_mut()),
            (Method::PUT, item.put.as_mut()),
            (Method::DELETE, item.delete.as_mut()),
            (Method::PATCH, item.patch.as_mut()),
        ];
        for (method, op) in operations {
            let Some(op) = op else { continue };
            let rule = policy::rule_for(&method, path)
                .unwrap_or_else(|| panic!("{method} {path} is documented but has no rule"));
            let responses = &mut op.responses.responses;
            if matches!(rule.access, policy::Access::Api(_)) {
                responses
                    .entry("401".into())
                    .or_insert_with(|| problem("No valid token"));
                responses
                    .entry("403".into())
                    .or_insert_with(|| problem("The token's role does not allow this"));
            }
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                responses
                    .entry("400".into())
                    .or_insert_with(|| problem("A parameter does not parse; `errors` names it"));
            }
        }
    }
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
    )
)]
async fn officers(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<OfficerRow>>> {
    Ok(Json(roster::officers(&state.db, ctx.agency()?.id).await?))
}
