//! The respondent's side: public links, single-use invitations, thanks, QR codes, the
//! printable flyer, and a survey's published results.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::links;
use super::model::Kind;
use super::respond::{self, Entry, MessagePage};
use super::store::{self, Survey};
use super::writer::Link;
use crate::on_db;
use crate::platform::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{agency}/s/{code}", get(form).post(submit))
        .route("/{agency}/s/{code}/thanks", get(thanks))
        .route("/{agency}/s/{code}/qr.svg", get(qr_svg))
        .route("/{agency}/s/{code}/qr.png", get(qr_png))
        .route("/{agency}/s/{code}/flyer", get(flyer))
        .route(
            "/{agency}/s/{code}/results",
            get(super::staff::public_results),
        )
        .route(
            "/{agency}/i/{token}",
            get(invitation_form).post(invitation_submit),
        )
}

#[derive(Deserialize, Default)]
pub struct LinkQuery {
    #[serde(default)]
    src: String,
    /// An officer card's officer.
    #[serde(default)]
    o: String,
}

/// A survey reachable by its public code: community surveys and officer cards.
async fn open_survey(
    state: &AppState,
    ctx: &Ctx,
    code: &str,
) -> AppResult<Result<(Survey, store::Version), Response>> {
    let agency = ctx.agency()?;
    let survey = store::by_code(&state.db, agency.id, code)
        .await?
        .ok_or(AppError::NotFound)?;
    if !matches!(survey.kind(), Kind::Community | Kind::OfficerCard) {
        return Err(AppError::NotFound);
    }
    let version = match respond::live_version(state, ctx, &survey).await? {
        Ok(v) => v,
        Err(closed) => return Ok(Err(closed)),
    };
    Ok(Ok((survey, version)))
}

async fn entry_for(
    state: &AppState,
    ctx: &Ctx,
    survey: Survey,
    version: store::Version,
    src: &str,
    officer: &str,
) -> AppResult<Entry> {
    let code = survey.public_code.clone();
    let channel = links::clean_channel(src);
    let officer_id = if survey.kind() == Kind::OfficerCard {
        // A card without a valid officer on the roster is not a card: refuse, do not misfile.
        let id =
            links::officer_from_token(&state.key, survey.id, officer).ok_or(AppError::NotFound)?;
        crate::platform::roster::officer(&state.db, survey.agency_id, id)
            .await?
            .ok_or(AppError::NotFound)?;
        Some(id)
    } else {
        None
    };
    let mut carry = Vec::new();
    let mut query = Vec::new();
    if !channel.is_empty() {
        carry.push(("src".to_string(), channel.clone()));
        query.push(format!("src={channel}"));
    }
    if officer_id.is_some() {
        carry.push(("o".to_string(), officer.to_string()));
        query.push(format!("o={officer}"));
    }
    let action = if query.is_empty() {
        ctx.url(&format!("/s/{code}"))
    } else {
        format!("{}?{}", ctx.url(&format!("/s/{code}")), query.join("&"))
    };
    Ok(Entry {
        thanks: ctx.url(&format!("/s/{code}/thanks")),
        channel: if officer_id.is_some() && channel.is_empty() {
            "card".into()
        } else {
            channel
        },
        survey,
        version,
        action,
        carry,
        officer_id,
        contact_id: None,
        link: Link::Open,
    })
}

async fn form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, code)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
) -> AppResult<Response> {
    let (survey, version) = match open_survey(&state, &ctx, &code).await? {
        Ok(s) => s,
        Err(closed) => return Ok(closed),
    };
    let entry = entry_for(&state, &ctx, survey, version, &q.src, &q.o).await?;
    respond::start(&ctx, &entry)
}

async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, code)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
    body: Bytes,
) -> AppResult<Response> {
    let (survey, version) = match open_survey(&state, &ctx, &code).await? {
        Ok(s) => s,
        Err(closed) => return Ok(closed),
    };
    let form = respond::form_values(&body);
    let src = form
        .get("src")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or(q.src);
    let officer = form
        .get("o")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or(q.o);
    let entry = entry_for(&state, &ctx, survey, version, &src, &officer).await?;
    respond::step(&state, &ctx, &entry, form, ctx.meta.ip).await
}

async fn thanks(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, code)): Path<(String, String)>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let survey = store::by_code(&state.db, agency.id, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let version = match survey.current_version {
        Some(v) => {
            state
                .surveys()
                .versions
                .get(&state.db, agency.id, v)
                .await?
        }
        None => None,
    };
    let message = version
        .map(|v| v.definition.thanks.get(ctx.lang()).to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| ctx.t("survey.thanks_title").to_string());
    page(MessagePage {
        ctx: &ctx,
        title: ctx.t("survey.thanks_title").to_string(),
        message,
        again: None,
    })
}

/// The public address of a survey link (QR codes leave the browser, so they carry the full URL).
pub fn public_link(state: &AppState, slug: &str, code: &str, query: &str) -> String {
    let base = state.config.base_url();
    if query.is_empty() {
        format!("{base}/{slug}/s/{code}")
    } else {
        format!("{base}/{slug}/s/{code}?{query}")
    }
}

fn qr_query(q: &LinkQuery) -> String {
    let mut parts = Vec::new();
    let src = links::clean_channel(&q.src);
    if !src.is_empty() {
        parts.push(format!("src={src}"));
    }
    if !q.o.is_empty()
        && q.o
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    {
        parts.push(format!("o={}", q.o));
    }
    parts.join("&")
}

async fn qr_svg(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, code)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    store::by_code(&state.db, agency.id, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let svg = links::qr_svg(&public_link(&state, &agency.slug, &code, &qr_query(&q)))
        .ok_or(AppError::NotFound)?;
    let mut r = svg.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    Ok(r)
}

async fn qr_png(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, code)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    store::by_code(&state.db, agency.id, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let png = links::qr_png(&public_link(&state, &agency.slug, &code, &qr_query(&q)), 10)
        .ok_or(AppError::NotFound)?;
    let mut r = png.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("inline; filename=\"survey-{code}.png\""))
            .unwrap_or(HeaderValue::from_static("inline")),
    );
    Ok(r)
}

#[derive(Template)]
#[template(path = "surveys/flyer.html")]
struct Flyer<'a> {
    ctx: &'a Ctx,
    title_en: String,
    title_es: String,
    intro_en: &'static str,
    intro_es: &'static str,
    qr: String,
    short_link: String,
}

/// A printable page with the QR code and short link, in English and Spanish side by side.
async fn flyer(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, code)): Path<(String, String)>,
) -> AppResult<Response> {
    let (survey, version) = match open_survey(&state, &ctx, &code).await? {
        Ok(s) => s,
        Err(closed) => return Ok(closed),
    };
    let agency = ctx.agency()?;
    let link = public_link(&state, &agency.slug, &survey.public_code, "src=flyer");
    let short_link = public_link(&state, &agency.slug, &survey.public_code, "")
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_string();
    let d = &version.definition;
    page(Flyer {
        ctx: &ctx,
        title_en: d.title.get(crate::web::i18n::Lang::En).to_string(),
        title_es: d.title.get(crate::web::i18n::Lang::Es).to_string(),
        intro_en: crate::web::i18n::t(crate::web::i18n::Lang::En, "survey.flyer_intro"),
        intro_es: crate::web::i18n::t(crate::web::i18n::Lang::Es, "survey.flyer_intro"),
        qr: links::qr_svg(&link).unwrap_or_default(),
        short_link,
    })
}

/// The invitation a token opens, if it can still be used.
async fn invitation_entry(
    state: &AppState,
    ctx: &Ctx,
    token: &str,
) -> AppResult<Result<Entry, Response>> {
    let agency = ctx.agency()?;
    let row: Option<(i64, i64, i64, String, i64)> = on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT id, survey_id, contact_id, status, expires_at FROM invitations WHERE agency_id = $1 AND token_hash = $2",
        )
        .bind(agency.id)
        .bind(links::token_hash(token))
        .fetch_optional(pool)
        .await
    })?;
    let Some((id, survey_id, contact_id, status, expires_at)) = row else {
        return Err(AppError::NotFound);
    };
    match status.as_str() {
        "responded" => {
            return Ok(Err(respond::message(
                ctx,
                StatusCode::GONE,
                "survey.link_used_title",
                "survey.link_used",
            )?));
        }
        "pending" | "sent" if expires_at > state.clock.unix() => {}
        "opted_out" => return Ok(Err(super::invitations::opted_out_message(ctx)?)),
        _ => {
            return Ok(Err(respond::message(
                ctx,
                StatusCode::GONE,
                "survey.link_expired_title",
                "survey.link_expired",
            )?));
        }
    }
    let survey = store::get(&state.db, agency.id, survey_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let version = match respond::live_version(state, ctx, &survey).await? {
        Ok(v) => v,
        Err(closed) => return Ok(Err(closed)),
    };
    Ok(Ok(Entry {
        action: ctx.url(&format!("/i/{token}")),
        thanks: ctx.url(&format!("/s/{}/thanks", survey.public_code)),
        channel: "invitation".into(),
        carry: Vec::new(),
        officer_id: None,
        contact_id: Some(contact_id),
        link: Link::Invitation(id),
        survey,
        version,
    }))
}

async fn invitation_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, token)): Path<(String, String)>,
) -> AppResult<Response> {
    match invitation_entry(&state, &ctx, &token).await? {
        Ok(entry) => respond::start(&ctx, &entry),
        Err(r) => Ok(r),
    }
}

async fn invitation_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, token)): Path<(String, String)>,
    body: Bytes,
) -> AppResult<Response> {
    match invitation_entry(&state, &ctx, &token).await? {
        Ok(entry) => {
            respond::step(
                &state,
                &ctx,
                &entry,
                respond::form_values(&body),
                ctx.meta.ip,
            )
            .await
        }
        Err(r) => Ok(r),
    }
}
