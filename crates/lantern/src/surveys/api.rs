//! Surveys in the JSON API: the list, a survey's results (the same numbers as the results
//! page, with their intervals), and its responses (streamed; every export is audited).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::export::page_of;
use super::model::{Answers, Kind};
use super::results::Est;
use super::store;
use crate::platform::audit::{self, Event};
use crate::platform::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::extract::Path;
use crate::web::i18n::Lang;

/// A survey as the API lists it.
#[derive(Serialize, ToSchema)]
pub struct SurveyInfo {
    pub id: i64,
    pub name: String,
    /// community, post_contact, officer_card or employee
    pub kind: String,
    /// draft, open or closed
    pub status: String,
    /// The published version in use, if any.
    pub version: Option<i64>,
    /// The public link's code (`/{agency}/s/{code}`).
    pub code: String,
    pub responses: i64,
}

/// The surveys of the token's agency.
#[utoipa::path(get, path = "/api/v1/surveys", tag = "surveys",
    responses((status = 200, description = "Surveys, most recently changed first", body = Vec<SurveyInfo>)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<SurveyInfo>>> {
    let agency = ctx.agency()?;
    let counts = store::response_counts(&state.db, agency.id).await?;
    Ok(Json(
        store::list(&state.db, agency.id)
            .await?
            .into_iter()
            .map(|s| SurveyInfo {
                id: s.id,
                responses: *counts.get(&s.id).unwrap_or(&0),
                kind: s.kind().as_str().to_string(),
                version: s.current_version,
                code: s.public_code.clone(),
                status: s.status.clone(),
                name: s.name,
            })
            .collect(),
    ))
}

/// An estimate with its 95% interval and the (effective) sample size behind it.
#[derive(Serialize, ToSchema)]
pub struct Estimate {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub n: f64,
}

impl From<Est> for Estimate {
    fn from(e: Est) -> Self {
        Estimate {
            value: e.value,
            lower: e.lower,
            upper: e.upper,
            n: e.n,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScoreResult {
    pub score: String,
    /// Mean of respondents' scores, 0–100.
    pub mean: Option<Estimate>,
    /// The same, weighted to the census.
    pub weighted: Option<Estimate>,
}

/// One answer of a question. A withheld answer (too few chose it, or it would give away one
/// that is) has no count and no shares.
#[derive(Serialize, ToSchema)]
pub struct ChoiceResult {
    pub label: String,
    pub withheld: bool,
    pub count: Option<u64>,
    /// Share of those who answered, with its Wilson interval.
    pub share: Option<Estimate>,
    pub weighted_share: Option<Estimate>,
}

#[derive(Serialize, ToSchema)]
pub struct QuestionResult {
    pub key: String,
    pub label: String,
    pub kind: String,
    /// Respondents who answered; none when too few did (and then nothing else is given).
    pub answered: Option<u64>,
    pub choices: Vec<ChoiceResult>,
    pub mean: Option<Estimate>,
    pub weighted_mean: Option<Estimate>,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyResults {
    pub survey: i64,
    pub respondents: u64,
    /// Responses held back for review (ballot stuffing), not counted.
    pub flagged: u64,
    /// Groups smaller than this are not reported.
    pub min_group: u64,
    /// True when the whole survey has fewer respondents than `min_group`: nothing else is given.
    pub too_few: bool,
    /// Respondents with the demographics weighting uses, and the effective sample size.
    pub weighted_respondents: Option<u64>,
    pub effective_sample_size: Option<f64>,
    pub scores: Vec<ScoreResult>,
    pub questions: Vec<QuestionResult>,
}

/// A survey's results: shares with Wilson intervals, means with t intervals, scores, and the
/// same weighted to the census.
#[utoipa::path(get, path = "/api/v1/surveys/{id}/results", tag = "surveys",
    params(("id" = i64, Path, description = "Survey id")),
    responses((status = 200, description = "Results", body = SurveyResults), (status = 404, description = "No such survey, or not published", body = crate::web::errors::Problem, content_type = "application/problem+json")))]
pub async fn results(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<Json<SurveyResults>> {
    let survey = store::get(&state.db, ctx.agency()?.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some((r, _)) = super::staff::compute_results(&state, &ctx, &survey, None, Lang::En).await?
    else {
        return Err(AppError::NotFound);
    };
    let too_few = r.too_few;
    Ok(Json(SurveyResults {
        survey: survey.id,
        respondents: r.respondents,
        flagged: r.flagged,
        min_group: r.min_group,
        too_few,
        weighted_respondents: r.weights.as_ref().map(|w| w.respondents),
        effective_sample_size: r.weights.as_ref().map(|w| w.n_eff),
        scores: if too_few {
            Vec::new()
        } else {
            r.scores
                .iter()
                .map(|s| ScoreResult {
                    score: s.label.to_string(),
                    mean: s.value.map(Into::into),
                    weighted: s.weighted.map(Into::into),
                })
                .collect()
        },
        questions: if too_few {
            Vec::new()
        } else {
            r.questions
                .into_iter()
                .filter(|q| q.kind != "text")
                .map(|q| QuestionResult {
                    answered: q.answered.into_option(),
                    choices: q
                        .choices
                        .into_iter()
                        .map(|c| {
                            let withheld = c.value.is_withheld();
                            let v = c.value.into_option();
                            ChoiceResult {
                                label: c.label,
                                withheld,
                                count: v.as_ref().map(|v| v.count),
                                share: v.as_ref().and_then(|v| v.share).map(Into::into),
                                weighted_share: v.and_then(|v| v.weighted).map(Into::into),
                            }
                        })
                        .collect(),
                    mean: q.mean.map(Into::into),
                    weighted_mean: q.weighted_mean.map(Into::into),
                    key: q.key,
                    label: q.label,
                    kind: q.kind.to_string(),
                })
                .collect()
        },
    }))
}

/// One response as the API exports it. Staff-survey responses are made anonymous as in the
/// CSV export: no id and no time (at most the month), no free text (the CSV export's
/// `?part=comments` lists it apart), and only the identifying answers that every group of
/// at least the anonymity threshold shares.
#[derive(Serialize, ToSchema)]
pub struct ResponseRecord {
    pub response_id: Option<i64>,
    /// Unix seconds (not for staff surveys).
    pub submitted_at: Option<i64>,
    /// YYYY-MM (staff surveys only, when it singles no one out).
    pub month: Option<String>,
    pub version: Option<i64>,
    pub channel: Option<String>,
    pub language: Option<String>,
    pub status: Option<String>,
    pub officer_id: Option<i64>,
    pub call_type: Option<String>,
    pub contact_district: Option<String>,
    /// Answers by question key: a choice value, a list of values, a number or a text.
    #[schema(value_type = Object)]
    pub answers: serde_json::Value,
}

/// A survey's responses as a JSON array, streamed (the same data as the CSV export).
#[utoipa::path(get, path = "/api/v1/surveys/{id}/responses", tag = "surveys",
    params(("id" = i64, Path, description = "Survey id")),
    responses(
        (status = 200, description = "Every response (flagged ones marked, rejected ones left out)", body = Vec<ResponseRecord>,
            headers(("Content-Disposition" = String, description = "The file name to save it as"))),
        (status = 404, description = "No such survey, or a staff survey not published", body = crate::web::errors::Problem, content_type = "application/problem+json")))]
pub async fn responses(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = store::get(&state.db, agency.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &state.db,
        agency.id,
        state.clock.unix(),
        &Event::new(
            &ctx.actor(),
            "survey.exported",
            format!("survey:{}", survey.id),
        )
        .detail(serde_json::json!({"format": "json"}))
        .ip(ctx.ip().as_deref()),
    )
    .await?;
    let staff = if survey.kind() == Kind::Employee {
        let version_id = survey.current_version.ok_or(AppError::NotFound)?;
        let version = state
            .surveys()
            .versions
            .get(&state.db, agency.id, version_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let k = super::staff::anonymity_threshold(agency);
        Some(super::export::staff_export(&state.db, &survey, &version.definition, k).await?)
    } else {
        None
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let db = state.db.clone();
    tokio::spawn(async move {
        if let Err(e) = stream_json(&db, &survey, staff, &tx).await {
            tracing::error!(error = %e, survey = survey.id, "JSON export failed part-way");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let body = Body::from_stream(super::export::stream_of(rx));
    Ok(super::staff::download(
        body,
        "application/json",
        &format!("survey-{id}-responses.json"),
    ))
}

/// Writes a JSON array one record at a time.
struct JsonArray {
    started: bool,
    buf: Vec<u8>,
}

impl JsonArray {
    fn push(&mut self, record: &ResponseRecord) -> serde_json::Result<()> {
        self.buf.push(if self.started { b',' } else { b'[' });
        self.started = true;
        serde_json::to_writer(&mut self.buf, record)
    }

    fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.buf))
    }

    fn end(&mut self) -> Bytes {
        if self.started {
            self.buf.push(b']');
        } else {
            self.buf.extend_from_slice(b"[]");
        }
        self.take()
    }
}

async fn stream_json(
    db: &crate::platform::db::Db,
    survey: &store::Survey,
    staff: Option<super::export::StaffExport>,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    use super::export::Identifying;
    const PAGE: usize = 5_000;
    let mut out = JsonArray {
        started: false,
        buf: Vec::with_capacity(1 << 16),
    };
    if let Some(staff) = staff {
        let kept = |c: Identifying| staff.kept.contains(&c);
        for r in &staff.rows {
            out.push(&ResponseRecord {
                response_id: None,
                submitted_at: None,
                month: kept(Identifying::Month)
                    .then(|| r.day.get(..7).unwrap_or_default().to_string()),
                version: kept(Identifying::Version).then_some(r.version),
                channel: None,
                language: kept(Identifying::Language).then(|| r.language.clone()),
                status: None,
                officer_id: None,
                call_type: None,
                contact_district: None,
                answers: serde_json::to_value(&r.answers)?,
            })?;
        }
    } else {
        let mut after = 0;
        loop {
            let rows = page_of(db, survey, after).await?;
            let n = rows.len();
            for r in rows {
                after = r.id;
                let answers: Answers = serde_json::from_str(&r.answers)?;
                out.push(&ResponseRecord {
                    response_id: Some(r.id),
                    submitted_at: Some(r.submitted_at),
                    month: None,
                    version: Some(r.version),
                    channel: Some(r.channel),
                    language: Some(r.language),
                    status: Some(r.status),
                    officer_id: r.officer_id,
                    call_type: r.call_type,
                    contact_district: r.district,
                    answers: serde_json::to_value(answers)?,
                })?;
            }
            tx.send(Ok(out.take())).await?;
            if n < PAGE {
                break;
            }
        }
    }
    tx.send(Ok(out.end())).await?;
    Ok(())
}
