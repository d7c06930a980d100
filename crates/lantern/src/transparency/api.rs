//! The transparency slice's JSON API: the analyses, and imports sent as a CSV body that run in
//! the background while the client polls the job.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::platform::error::{AppError, AppResult};
use crate::state::AppState;
use crate::transparency::analysis::Vod;
use crate::transparency::import::{self, ImportRequest};
use crate::transparency::mapping::Mapping;
use crate::transparency::model::ImportReport;
use crate::transparency::routes::{
    AnalysisResult, checked_scope, compute_analysis, compute_darkness,
};
use crate::transparency::store::{self, Scope};
use crate::web::ctx::Ctx;
use crate::web::errors::Problem;
use crate::web::extract::{Path, Query};

/// Largest CSV body the import endpoint takes (larger files: the command line).
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/stops/analysis", get(analysis))
        .route("/api/v1/stops/darkness", get(darkness))
        .route(
            "/api/v1/stops/imports",
            post(create_import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/v1/stops/imports/{id}", get(import_status))
}

#[derive(OpenApi)]
#[openapi(
    paths(analysis, darkness, create_import, import_status),
    components(schemas(AnalysisResult, Vod, ImportJob, ImportReport, Scope)),
    tags((name = "stops", description = "Stop records: imports and disparity analyses"))
)]
pub struct StopsApi;

/// Which stops an analysis covers.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeParams {
    /// A calendar year, e.g. 2017; all years when absent. A year with no stops is refused (422).
    pub year: Option<i32>,
    /// A district code as the agency's files give it; all districts when absent. A district
    /// with no stops is refused (422).
    pub district: Option<String>,
    /// Both kinds of stop when absent.
    #[param(inline)]
    pub stop_type: Option<StopType>,
}

/// A kind of stop.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StopType {
    Vehicular,
    Pedestrian,
}

impl From<ScopeParams> for Scope {
    fn from(p: ScopeParams) -> Scope {
        Scope {
            year: p.year.map(|y| y.to_string()).unwrap_or_default(),
            district: p.district.unwrap_or_default(),
            stop_type: match p.stop_type {
                Some(StopType::Vehicular) => "vehicular".into(),
                Some(StopType::Pedestrian) => "pedestrian".into(),
                None => String::new(),
            },
        }
    }
}

/// A CSV file with a header row; an empty body is refused.
pub struct CsvFile;

impl utoipa::PartialSchema for CsvFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .min_length(Some(1))
            .description(Some(
                "Stops in the SOPP standardised schema, with a header row",
            ))
            .into()
    }
}

impl ToSchema for CsvFile {}

/// The benchmark test and the search, hit, arrest and citation rates by race.
#[utoipa::path(
    get,
    path = "/api/v1/stops/analysis",
    tag = "stops",
    params(ScopeParams),
    responses(
        (status = 200, description = "The analysis; rows below the small-cell threshold are withheld", body = AnalysisResult),
        (status = 404, description = "A year or district with no stops", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn analysis(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(params): Query<ScopeParams>,
) -> AppResult<Json<AnalysisResult>> {
    let agency = ctx.agency()?;
    let scope = checked_scope(&state, agency.id, params.into()).await?;
    let result = compute_analysis(&state.db, agency, &scope).await?;
    record_export(&state, &ctx, "analysis", &scope).await?;
    Ok(Json(result))
}

/// JSON exports are audited like the CSV downloads.
async fn record_export(state: &AppState, ctx: &Ctx, what: &str, scope: &Scope) -> AppResult<()> {
    crate::platform::audit::record(
        &state.db,
        ctx.agency()?.id,
        state.clock.unix(),
        &crate::platform::audit::Event::new(&ctx.actor(), "stops.export", format!("api:{what}"))
            .detail(serde_json::json!({
                "year": scope.year,
                "district": scope.district,
                "stop_type": scope.stop_type,
            }))
            .ip(ctx.ip().as_deref()),
    )
    .await?;
    Ok(())
}

/// The veil-of-darkness test (Black vs White), in SOPP's three model forms.
#[utoipa::path(
    get,
    path = "/api/v1/stops/darkness",
    tag = "stops",
    params(ScopeParams),
    responses(
        (status = 200, description = "The fitted models", body = Vod),
        (status = 404, description = "A year or district with no stops", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn darkness(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(params): Query<ScopeParams>,
) -> AppResult<Json<Vod>> {
    let agency = ctx.agency()?;
    let scope = checked_scope(&state, agency.id, params.into()).await?;
    let result = compute_darkness(&state.db, agency, &scope).await?;
    record_export(&state, &ctx, "darkness", &scope).await?;
    Ok(Json(result))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Import the valid rows and report the invalid ones, instead of refusing the file.
    #[serde(default)]
    pub skip_invalid: bool,
    /// The file's name, for the record.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// An import job.
#[derive(Serialize, ToSchema)]
pub struct ImportJob {
    pub id: i64,
    /// queued, running, done or failed.
    pub status: String,
    pub file_name: String,
    pub format: String,
    pub skip_invalid: bool,
    /// The file's SHA-256, once read.
    pub sha256: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Where to poll.
    pub href: String,
    /// The validation report, once finished.
    pub report: Option<ImportReport>,
    /// Why the file could not be read at all, if so.
    pub failure: Option<String>,
}

fn job(i: crate::transparency::model::StopImport) -> ImportJob {
    ImportJob {
        report: i.parsed_report(),
        failure: i.failure(),
        href: format!("/api/v1/stops/imports/{}", i.id),
        id: i.id,
        status: i.status,
        file_name: i.file_name,
        format: i.format,
        skip_invalid: i.skip_invalid,
        sha256: i.sha256,
        created_at: i.created_at,
        finished_at: i.finished_at,
    }
}

/// Starts an import of a CSV body in the SOPP schema. Answers at once with the job; poll its
/// `href` until the status is `done` or `failed`.
#[utoipa::path(
    post,
    path = "/api/v1/stops/imports",
    tag = "stops",
    params(ImportParams),
    request_body(content = CsvFile, content_type = "text/csv"),
    responses(
        (status = 202, description = "Accepted; the import runs in the background", body = ImportJob,
            headers(("Location" = String, description = "Where to poll the job"))),
        (status = 400, description = "A parameter that does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the API takes (use the command line)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty file, or one whose header does not have the columns of the SOPP schema", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_import(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let agency = ctx.agency()?.clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("text/csv") {
        return Ok((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::BadRequest("Send the file as text/csv.".into()),
        )
            .into_response());
    }
    if body.is_empty() {
        return Err(AppError::invalid(
            "body",
            "The file is empty: send a CSV file with a header row.",
        ));
    }
    // The header is checked before the file is accepted, so a file that is not stops in the
    // expected schema is refused now, naming what is missing, not in the report later.
    let mapping = Mapping::sopp();
    let header = csv::Reader::from_reader(&body[..])
        .headers()
        .cloned()
        .map_err(|e| AppError::invalid("body", format!("The file is not CSV: {e}")))?;
    mapping
        .bind(&header)
        .map_err(|e| AppError::invalid("body", e))?;
    let file_name = params
        .file_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "upload.csv".into());
    let now = state.clock.unix();
    let id = store::create_import(
        &state.db,
        agency.id,
        &file_name,
        &mapping.name,
        params.skip_invalid,
        ctx.actor().user_id(),
        "queued",
        now,
    )
    .await?;
    store::record_sha256(
        &state.db,
        agency.id,
        id,
        &crate::platform::secrets::sha256_hex(&body),
    )
    .await?;
    let actor = ctx.actor();
    let ip = ctx.ip();
    let task_state = state.clone();
    tokio::spawn(async move {
        let result = import::run(
            ImportRequest {
                db: &task_state.db,
                agency: &agency,
                import_id: id,
                mapping,
                skip_invalid: params.skip_invalid,
                actor,
                ip,
                now: task_state.clock.unix(),
                progress: None,
                size: Some(body.len() as u64),
            },
            Box::new(std::io::Cursor::new(body)),
        )
        .await;
        if let Err(e) = result {
            tracing::warn!(import = id, error = %e, "stop import failed");
        }
    });
    let stored = store::import(&state.db, ctx.agency()?.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let job = job(stored);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, job.href.clone())],
        Json(job),
    )
        .into_response())
}

/// An import job's status and, once finished, its validation report.
#[utoipa::path(
    get,
    path = "/api/v1/stops/imports/{id}",
    tag = "stops",
    params(("id" = i64, Path, description = "The import's number", minimum = 1)),
    responses(
        (status = 200, description = "The job", body = ImportJob),
        (status = 404, description = "No such import in this agency", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn import_status(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<Json<ImportJob>> {
    let stored = store::import(&state.db, ctx.agency()?.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(job(stored)))
}
